"""Partitioned outputs (`--partition-by` / `partition_by`): ``key=value`` folders as Spark and
`pyarrow.dataset` write them, that pyarrow reads with its hive typing and this library reads
back with the schema written (types, column order, metadata), on every interface."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from vae_augment import io as vio
from vae_augment import partitions
from vae_augment.errors import InputError
from vae_augment.io import AtomicParquetWriter, read_schema, read_table, resolve_inputs

from .conftest import remote_test_filesystem, run_cli


def _table() -> pa.Table:
    """Every partitionable type: string with nulls and odd values, int64 past int32,
    int32, bool, dictionary; and a float column to identify rows."""
    n = 40
    rng = np.random.default_rng(0)
    s = rng.choice(["a/b", "c d", "007", "e=f", "x"], n).astype(object)
    s[::7] = None
    return pa.table({
        "id": pa.array(np.arange(n, dtype=np.float64)),
        "s": pa.array(s, pa.string()),
        "big": pa.array(rng.choice([2**40, 3], n), pa.int64()),
        "small": pa.array(rng.integers(0, 3, n), pa.int32()),
        "flag": pa.array(rng.random(n) < 0.5),
        "d": pa.array(rng.choice(["red", "green"], n)).dictionary_encode(),
        "tail": pa.array(rng.random(n)),
    }).replace_schema_metadata({"image_shape": "8,8", "owner": "me"})


def _write(path, table, keys, **kw):
    with AtomicParquetWriter(str(path), table.schema, partition_by=keys, row_group_size=16,
                             **kw) as w:
        for batch in table.to_batches(max_chunksize=7):  # rows of a partition over batches
            w.write(batch)
    return w.rows_written


def test_partitioned_output_reads_back_exactly_and_as_hive(tmp_path):
    t = _table()
    keys = ["s", "big", "flag", "d"]
    assert _write(tmp_path / "out", t, keys) == t.num_rows
    # the layout: key=value folders (percent-encoded, nulls as the default partition)
    top = sorted(os.listdir(tmp_path / "out"))
    assert "s=__HIVE_DEFAULT_PARTITION__" in top and "s=a%2Fb" in top and "s=e%3Df" in top
    leaf = next(root for root, _, files in os.walk(tmp_path / "out") if files)
    assert os.listdir(leaf) == ["part-00000.parquet"]
    assert os.path.relpath(leaf, tmp_path / "out").count(os.sep) == len(keys) - 1
    # this library: the schema written (types, order, metadata) and every row
    files = resolve_inputs(str(tmp_path / "out"))
    assert read_schema(files).equals(t.schema, check_metadata=True)
    back = read_table(files)
    assert back.schema.equals(t.schema, check_metadata=True)
    assert back.sort_by("id").equals(t)
    assert read_table(files, columns=["flag", "id"]).schema.names == ["flag", "id"]
    # pyarrow's own reader: the same rows, its hive types ("007" and 2**40 kept)
    other = ds.dataset(str(tmp_path / "out"), format="parquet", partitioning="hive").to_table()
    assert other.schema.names == ["id", "small", "tail", *keys]
    assert other.schema.field("flag").type == pa.string()
    assert sorted(other["s"].to_pylist(), key=str) == sorted(t["s"].to_pylist(), key=str)
    assert sorted(other["big"].to_pylist(), key=str) == sorted(map(str, t["big"].to_pylist()))


def test_date_columns_partition_into_iso_dates_and_read_back_as_dates(tmp_path):
    """A date column (daily partitions, the usual layout of event tables) was refused."""
    import datetime

    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 3) for i in range(20)]
    days[5] = None
    t = pa.table({"id": pa.array(np.arange(20, dtype=np.float64)),
                  "day": pa.array(days, pa.date32()),
                  "ms": pa.array(days, pa.date64())})
    assert _write(tmp_path / "out", t, ["day", "ms"]) == 20
    assert sorted(os.listdir(tmp_path / "out")) == [
        "day=2024-01-01", "day=2024-01-02", "day=2024-01-03", "day=__HIVE_DEFAULT_PARTITION__"]
    back = read_table(resolve_inputs(str(tmp_path / "out")))
    assert back.schema.equals(t.schema) and back.sort_by("id").equals(t)
    other = ds.dataset(str(tmp_path / "out"), format="parquet", partitioning="hive").to_table()
    # pyarrow's hive discovery: the ISO dates as strings, row for row
    assert sorted(zip(other["id"].to_pylist(), other["day"].to_pylist())) == [
        (float(i), None if d is None else d.isoformat()) for i, d in enumerate(days)]


def test_a_layout_whose_files_hold_their_keys_reads_the_files_as_they_are(tmp_path):
    """Polars' ``write_parquet(dir, partition_by=...)`` (and DuckDB's
    ``WRITE_PARTITION_COLUMNS``) keep each key column inside the files too: it was refused
    ("has column(s) ['y'] that are also partition keys of its folders")."""
    t = pa.table({"y": pa.array(["a", "b", "a", "b", "a"], pa.large_string()),
                  "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    for key in ("a", "b"):
        os.makedirs(tmp_path / "in" / f"y={key}")
        pq.write_table(t.filter(pc.equal(t["y"], key)), tmp_path / "in" / f"y={key}" / "0.parquet")
    files = resolve_inputs(str(tmp_path / "in"))
    assert len(files) == 2 and read_schema(files).equals(t.schema)
    assert read_table(files).sort_by("x").equals(t)
    # files without the key: the folders give it, as before
    _write(tmp_path / "keys", t, ["y"])
    back = read_table(resolve_inputs(str(tmp_path / "keys")))
    assert back.schema.equals(t.schema) and back.sort_by("x").equals(t)


def test_folders_renamed_by_hand_fall_back_to_hive_typing(tmp_path):
    t = _table().select(["id", "small"])
    _write(tmp_path / "out", t, ["small"])
    os.rename(tmp_path / "out" / "small=1", tmp_path / "out" / "small=one")
    got = read_table(resolve_inputs(str(tmp_path / "out")))
    assert got.schema.field("small").type == pa.string()  # "one" is no int32: as pyarrow
    assert sorted(set(got["small"].to_pylist())) == ["0", "2", "one"]


def test_partition_by_errors_name_the_problem_and_leave_nothing(tmp_path, monkeypatch):
    t = _table()
    tensor = t.append_column("img", pa.FixedSizeListArray.from_arrays(
        pa.array(np.zeros(t.num_rows * 4, np.float32)), 4))
    cases = [
        (t, ["nope"], r"no column named 'nope' in the output. Columns: \['id', 's',"),
        (t, ["tail"], r"column 'tail' is double; partition by string, integer, bool or date"),
        (tensor, ["img"], r"column 'img' is fixed_size_list"),
        (t, ["s", "s"], r"names a column twice"),
        (t.select(["s"]), ["s"], r"names every column"),
        (t.rename_columns(["id", "_s", *t.schema.names[2:]]), ["_s"],
         r"readers skip folders that begin with '_'"),
    ]
    for table, keys, message in cases:
        with pytest.raises(InputError, match=message):
            AtomicParquetWriter(str(tmp_path / "bad"), table.schema, partition_by=keys)
    with pytest.raises(InputError, match=r"`output_shards` or `partition_by`, not both"):
        AtomicParquetWriter(str(tmp_path / "bad"), t.schema, partition_by="s", shards=2)
    # a value no folder name can hold: the error names it, nothing is left
    long = pa.table({"id": [1.0], "s": ["v" * 300]})
    with pytest.raises(InputError, match=r"makes the folder name 's=vvv.*\(302 bytes; file "
                                         r"systems take 255\); partition by another column"):
        _write(tmp_path / "bad", long, ["s"])
    # too many partitions: an error mid-write, no output and no temporary left
    monkeypatch.setattr(partitions, "MAX_PARTITIONS", 3)
    with pytest.raises(InputError, match=r"makes more than 3 partitions"):
        _write(tmp_path / "bad", t, ["s"])
    assert os.listdir(tmp_path) == []


def test_overwrite_replaces_an_earlier_partitioned_output_only(tmp_path):
    t = _table()
    _write(tmp_path / "out", t, ["flag"])
    with pytest.raises(InputError, match="already exists"):
        _write(tmp_path / "out", t, ["small"])
    _write(tmp_path / "out", t, ["small"], overwrite=True)  # ours: replaced whole
    assert sorted(os.listdir(tmp_path / "out")) == ["small=0", "small=1", "small=2"]
    (tmp_path / "out" / "small=0" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"not shards of an earlier output \(e.g. "
                                         r"'small=0/notes.txt'\)"):
        _write(tmp_path / "out", t, ["small"], overwrite=True)
    assert (tmp_path / "out" / "small=0" / "notes.txt").exists()


def test_cli_commands_write_partitioned_outputs(tmp_path, mixed_parquet, mixed_artifact,
                                                capsys):
    """balance (with its report), sample and score partition their outputs; the balanced
    output reads back as the input plus the flag, and feeds tf.data and Beam as it is."""
    from vae_augment.tfdata import read_parquet

    src = pq.read_table(mixed_parquet)
    out = tmp_path / "balanced"
    code, _, err = run_cli(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                            mixed_artifact, "--partition-by", "is_synthetic,label",
                            "--report", tmp_path / "report", "--quiet"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(out)) == ["is_synthetic=false", "is_synthetic=true"]
    assert sorted(os.listdir(out / "is_synthetic=false")) == ["label=a", "label=b", "label=c"]
    files = resolve_inputs(str(out))
    back = read_table(files)
    expected = src.schema.append(pa.field("is_synthetic", pa.bool_(), nullable=False))
    assert back.schema.equals(expected, check_metadata=True)
    real = back.filter(pc.invert(back["is_synthetic"])).drop_columns(["is_synthetic"])
    assert real.sort_by([("i", "ascending"), ("f32", "ascending")]).equals(
        src.sort_by([("i", "ascending"), ("f32", "ascending")]))
    counts = back.group_by("label").aggregate([("label", "count")]).to_pydict()
    assert len(set(counts["label_count"])) == 1
    assert (tmp_path / "report" / "report.html").exists()
    flags = np.concatenate([b["is_synthetic"].numpy()
                            for b in read_parquet(str(out), batch_size=128)])
    assert flags.dtype == bool and int(flags.sum()) == int(pc.sum(back["is_synthetic"]).as_py())

    code, out_text, err = run_cli(["sample", tmp_path / "s", "--model-dir", mixed_artifact,
                                   "--n", "5", "--partition-by", "label", "--quiet"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "s")) == ["label=a", "label=b", "label=c"]
    assert read_table(resolve_inputs(str(tmp_path / "s"))).num_rows == 15
    code, _, err = run_cli(["score", mixed_parquet, tmp_path / "sc", "--model-dir",
                            mixed_artifact, "--partition-by", "flag", "--quiet"], capsys)
    assert code == 0, err
    scored = read_table(resolve_inputs(str(tmp_path / "sc")))
    assert scored.schema.names[:-1] == src.schema.names and scored.num_rows == src.num_rows
    code, _, err = run_cli(["sample", tmp_path / "s2", "--model-dir", mixed_artifact,
                            "--n", "5", "--partition-by", "f", "--quiet"], capsys)
    assert code != 0 and "`--partition-by`: column 'f' is double" in err
    assert not (tmp_path / "s2").exists()


def test_beam_reads_a_partitioned_output_with_its_written_schema(tmp_path):
    """Local and remote (a Beam test filesystem): the written types and order."""
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that

    from pipelines import read_inputs
    from vae_augment.beam import ReadParquetTables

    t = _table()
    _write(tmp_path / "out", t, ["flag", "big"])
    prefix = remote_test_filesystem("vaetestpartout")
    files, schema = read_inputs(f"{prefix}{tmp_path / 'out'}")
    assert schema.equals(t.schema, check_metadata=False) and len(files) == 4

    def check(tables):
        got = pa.concat_tables(tables)
        assert got.schema.equals(t.schema, check_metadata=False)
        assert got.sort_by("id").equals(t, check_metadata=False)

    with TestPipeline(runner="FnApiRunner") as p:
        for name, where in (("local", str(tmp_path / "out")),
                            ("remote", f"{prefix}{tmp_path / 'out'}")):
            tables = p | name >> ReadParquetTables(where)
            assert_that(tables, check, label=f"check {name}")


def test_beam_jobs_write_partitioned_outputs(tmp_path, mixed_parquet, mixed_artifact, capsys):
    """The balance job's real and synthetic rows in key=value folders, --num-shards files per
    partition, read back exactly; the same synthetic rows as the CLI's balance; --overwrite
    replaces a partitioned output; a bad column fails before any output."""
    from pipelines import balance, sample
    from vae_augment.errors import VAEAugmentError

    src = pq.read_table(mixed_parquet)
    out = tmp_path / "job"
    argv = ["--input", str(mixed_parquet), "--output", str(out), "--model-dir",
            str(mixed_artifact), "--label", "label", "--runner", "FnApiRunner",
            "--partition-by", "label,is_synthetic", "--num-shards", "2"]
    balance.run(argv)
    assert sorted(os.listdir(out)) == ["label=a", "label=b", "label=c"]
    assert sorted(os.listdir(out / "label=b")) == ["is_synthetic=false", "is_synthetic=true"]
    # a partition's rows spread over the shards (up to 2 files each)
    assert sorted(os.listdir(out / "label=a" / "is_synthetic=false")) == [
        "real-00000.parquet", "real-00001.parquet"]
    names = sorted(os.listdir(out / "label=b" / "is_synthetic=true"))
    assert names and set(names) <= {"synthetic-00000.parquet", "synthetic-00001.parquet"}
    back = read_table(resolve_inputs(str(out)))
    expected = src.schema.append(pa.field("is_synthetic", pa.bool_(), nullable=False))
    assert back.schema.equals(expected, check_metadata=False)
    real = back.filter(pc.invert(back["is_synthetic"])).drop_columns(["is_synthetic"])
    key = [("i", "ascending"), ("f32", "ascending")]
    assert real.sort_by(key).equals(src.sort_by(key), check_metadata=False)
    code, _, err = run_cli(["balance", mixed_parquet, tmp_path / "cli.parquet", "--label",
                            "label", "--model-dir", mixed_artifact, "--quiet"], capsys)
    assert code == 0, err
    cli = pq.read_table(tmp_path / "cli.parquet")
    synthetic = back.filter(back["is_synthetic"])  # dictionaries may differ: values alike
    assert synthetic.sort_by(key).to_pylist() == cli.filter(cli["is_synthetic"]).sort_by(
        key).to_pylist()
    with pytest.raises(InputError, match="already holds .* Parquet files"):
        balance.run(argv)
    balance.run([*argv[:-4], "--partition-by", "is_synthetic", "--overwrite"])
    assert sorted(os.listdir(out)) == ["is_synthetic=false", "is_synthetic=true"]
    with pytest.raises(VAEAugmentError, match="column 'f' is double"):
        sample.run(["--output", str(tmp_path / "s"), "--model-dir", str(mixed_artifact),
                    "--n", "5", "--runner", "FnApiRunner", "--partition-by", "f"])
    assert not (tmp_path / "s").exists()
    sample.run(["--output", str(tmp_path / "s"), "--model-dir", str(mixed_artifact),
                "--n", "5", "--runner", "FnApiRunner", "--partition-by", "label"])
    assert read_table(resolve_inputs(str(tmp_path / "s"))).num_rows == 15


def test_a_layout_without_an_output_is_an_error(mixed_parquet):
    from vae_augment.api import balance, sample
    from vae_augment.errors import VAEAugmentError

    for call in (lambda: sample("no-model", {"a": 1}, None, partition_by=["label"]),
                 lambda: balance(str(mixed_parquet), None, label="label", output_shards=2)):
        with pytest.raises(VAEAugmentError, match="lay out an `output`; with `output` None"):
            call()


def test_a_partitioned_output_of_no_rows_reads_back_as_its_schema(tmp_path, mixed_artifact,
                                                                 capsys):
    """No rows, so no partition folder: the writer, the CLI and the Beam job leave one empty
    file of the whole schema, which this library and pyarrow read as 0 rows (an empty
    directory has no schema); a later run with rows replaces it with --overwrite."""
    from pipelines import sample

    t = _table()
    assert _write(tmp_path / "w", t.slice(0, 0), ["s", "flag"]) == 0
    assert os.listdir(tmp_path / "w") == ["part-00000-of-00001.parquet"]
    back = read_table(resolve_inputs(str(tmp_path / "w")))
    assert back.num_rows == 0 and back.schema.equals(t.schema, check_metadata=True)
    assert pq.read_table(tmp_path / "w").schema.names == t.schema.names
    _write(tmp_path / "w", t, ["flag"], overwrite=True)  # the empty output is replaced
    assert sorted(os.listdir(tmp_path / "w")) == ["flag=false", "flag=true"]

    code, _, err = run_cli(["sample", "--model-dir", mixed_artifact, "--n", "0",
                            tmp_path / "cli", "--partition-by", "label", "--quiet"], capsys)
    assert code == 0, err
    cli = read_table(resolve_inputs(str(tmp_path / "cli")))
    assert cli.num_rows == 0 and cli.schema.field("is_synthetic").type == pa.bool_()
    sample.run(["--output", str(tmp_path / "job"), "--model-dir", str(mixed_artifact),
                "--n", "0", "--runner", "FnApiRunner", "--partition-by", "label"])
    assert os.listdir(tmp_path / "job") == ["synthetic-00000-of-00001.parquet"]
    job = read_table(resolve_inputs(str(tmp_path / "job")))
    assert job.num_rows == 0 and job.schema.equals(cli.schema, check_metadata=False)


def test_balance_refuses_partitions_the_input_already_rules_out_before_training(
        tmp_path, monkeypatch, capsys):
    """Too many partitions, or a folder name too long, in the input's own rows: one line
    before any training (the writer would meet them only after a full fit)."""
    from vae_augment import api

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the partitions")

    monkeypatch.setattr(api, "fit", no_training)
    rng = np.random.default_rng(0)
    n = partitions.MAX_PARTITIONS + 200
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [f"id{i}" for i in range(n)],
                             "longv": ["v" * 300 if i % 2 else "short" for i in range(n)],
                             "x": rng.normal(size=n), "y": rng.choice(["a", "b"], n)}), src)
    code, _, err = run_cli(["balance", str(src), str(tmp_path / "out"), "--label", "y",
                            "--partition-by", "id"], capsys)
    assert code == 2 and f"makes more than {partitions.MAX_PARTITIONS} partitions" in err
    assert "`--partition-by` ['id']" in err
    code, _, err = run_cli(["balance", str(src), str(tmp_path / "out"), "--label", "y",
                            "--partition-by", "longv"], capsys)
    assert code == 2 and "(306 bytes; file systems take 255)" in err
    assert not (tmp_path / "out").exists()


def test_a_value_that_reads_back_as_null_is_refused(tmp_path):
    """A string equal to the hive null folder's name would come back as null from every
    reader: refused, before training for `balance`, and by the writer."""
    table = pa.table({"k": ["a", partitions._HIVE_NULL, "b"], "x": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match="which readers take for null"):
        with AtomicParquetWriter(str(tmp_path / "out"), table.schema, partition_by="k") as w:
            w.write(table)
    assert not (tmp_path / "out").exists()  # nothing half-written
    pq.write_table(table, tmp_path / "in.parquet")
    with pytest.raises(InputError, match="which readers take for null"):
        vio.check_partition_values([str(tmp_path / "in.parquet")], ["k"])
