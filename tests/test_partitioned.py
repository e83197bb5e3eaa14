"""Hive-partitioned input directories (``root/key=value/.../part.parquet``): their keys are
columns after the files' own, typed as `pyarrow.dataset`'s hive discovery types them, in every
interface: the CLI (in memory and streamed), tf.data and the Beam jobs."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from vae_augment.errors import InputError
from vae_augment.io import iter_batches, read_schema, read_table, resolve_inputs

from .conftest import FAST, remote_test_filesystem, run_cli

KEYS = ["label", "small"]  # the label is a partition key: only in folder names


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("i", "ascending"), ("f32", "ascending")])


def _truth(root) -> pa.Table:
    """What pyarrow reads from the directory (the reference for the schema and the rows)."""
    return ds.dataset(str(root), format="parquet", partitioning="hive").to_table()


@pytest.fixture(scope="module")
def hive(tmp_path_factory, mixed_table):
    root = tmp_path_factory.mktemp("hive") / "data"
    ds.write_dataset(mixed_table, root, format="parquet", partitioning=KEYS,
                     partitioning_flavor="hive")
    return root


@pytest.fixture(scope="module")
def flat(hive, tmp_path_factory):
    """The same rows as one file, its columns in the hive directory's order."""
    path = tmp_path_factory.mktemp("flat") / "flat.parquet"
    pq.write_table(_truth(hive), path)
    return path


@pytest.fixture(scope="module")
def model(flat, tmp_path_factory):
    """A tiny model of the flat file (the hive directory's columns and types)."""
    from vae_augment.api import fit

    path = tmp_path_factory.mktemp("m") / "m"
    fit(str(flat), label="label", model_dir=str(path), seed=0, **FAST)
    return path


def test_keys_become_typed_columns_as_pyarrow_reads_them(tmp_path, hive):
    files = resolve_inputs(str(hive))
    assert len(files) == len({(r["label"], r["small"]) for r in _truth(hive).to_pylist()})
    schema = read_schema(files)
    assert schema.equals(_truth(hive).schema, check_metadata=False)
    assert schema.names[-2:] == KEYS and schema.field("small").type == pa.int32()
    assert _sorted(read_table(files)).equals(_sorted(_truth(hive)))
    # a column subset, partition keys among them, in the order asked; a key alone
    sub = read_table(files, columns=["small", "f", "label"])
    assert sub.schema.names == ["small", "f", "label"]
    assert sorted(sub.column("label").to_pylist()) == sorted(_truth(hive)["label"].to_pylist())
    assert sum(b.num_rows for b in iter_batches(files, columns=["label"])) == 300
    # nulls (the default partition), percent-encoded values, ints past int32 as strings
    t = pa.table({"x": [1.0, 2.0, 3.0, 4.0], "k": ["a/b", None, "c d", "a/b"],
                  "n": [1, 2, 2**40, 3], "m": [5, None, 6, 5],
                  "u": ["1_000", "007", "-3", "007"], "v": ["007", "-3", "+5", "4"],
                  "w": ["007", "-3", "4", "007"]})
    ds.write_dataset(t, tmp_path / "odd", format="parquet", partitioning=["k", "n", "m", "u", "v", "w"],
                     partitioning_flavor="hive")
    got = read_table(resolve_inputs(str(tmp_path / "odd")))
    truth = _truth(tmp_path / "odd")
    assert got.schema.equals(truth.schema) and got.schema.field("m").type == pa.int32()
    assert got.schema.field("w").type == pa.int32() and got.schema.field("v").type == pa.string()
    assert got.sort_by("x").equals(truth.sort_by("x"))


def test_layouts_that_are_not_hive_are_refused_with_the_glob_hint(tmp_path, mixed_table):
    for layout in (["2024/a.parquet", "2025/b.parquet"],  # folders that are not key=value
                   ["k=1/a.parquet", "k=2/j=1/b.parquet"],  # keys differ between files
                   ["k=1/a.parquet", "j=2/b.parquet"]):
        root = tmp_path / f"d{len(list(tmp_path.iterdir()))}"
        for rel in layout:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(mixed_table.slice(0, 10), root / rel)
        with pytest.raises(InputError, match=r"contains no \.parquet files; it holds \.parquet "
                                             r"files in subdirectories that are not a "
                                             r"hive-partitioned layout.*pass a glob"):
            resolve_inputs(str(root))
    (tmp_path / "clash" / "label=a").mkdir(parents=True)
    pq.write_table(mixed_table.slice(0, 10), tmp_path / "clash" / "label=a" / "p.parquet")
    # files that hold their folders' keys (as Polars writes them) are read as they are
    # (session 43; they were refused as a clash)
    files = resolve_inputs(str(tmp_path / "clash"))
    assert read_schema(files).equals(mixed_table.schema, check_metadata=False)


def test_cli_balance_streamed_fit_and_tfdata_read_a_partitioned_directory(tmp_path, hive,
                                                                          flat, model, capsys):
    """balance keeps every row (the keys restored as columns) and generates the rows it
    generates from the flat file of the same rows with the same model; a streamed fit and
    tf.data read it too."""
    from vae_augment.api import fit
    from vae_augment.tfdata import read_parquet

    outs = {}
    for name, src in (("hive", hive), ("flat", flat)):
        outs[name] = tmp_path / f"{name}.parquet"
        code, _, err = run_cli(["balance", src, outs[name], "--label", "label",
                                "--model-dir", model, "--seed", "3", "--quiet"], capsys)
        assert code == 0, err
    out = pq.read_table(outs["hive"])
    assert out.schema.names == [*_truth(hive).schema.names, "is_synthetic"]
    synthetic = out["is_synthetic"].to_numpy(zero_copy_only=False)
    real = out.filter(pa.array(~synthetic)).drop_columns(["is_synthetic"])
    assert _sorted(real).equals(_sorted(_truth(hive)))
    other = pq.read_table(outs["flat"])
    assert out.filter(pa.array(synthetic)).equals(
        other.filter(other["is_synthetic"]))  # same counts, same model, same seed
    art = fit(str(hive), label="label", model_dir=None, seed=0, streaming=True, **FAST)
    assert art.config["metrics"]["streaming"] and art.model.bank_filled.numpy().min() > 0
    rows = sum(int(b["small"].shape[0]) for b in read_parquet(str(hive), batch_size=64))
    assert rows == 300
    got = np.concatenate([b["label"].numpy() for b in read_parquet(str(hive), batch_size=64)])
    assert sorted(got.astype(str)) == sorted(_truth(hive)["label"].to_pylist())


def test_beam_reads_and_the_jobs_keep_partition_columns(tmp_path, hive, model):
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that

    from pipelines import balance, fit_stats, read_inputs
    from vae_augment.beam import ReadParquetTables

    def check(names):
        def inner(tables):
            t = pa.concat_tables(tables)
            assert t.schema.names == names and t.num_rows == 300
            assert sorted(t["label"].to_pylist()) == sorted(_truth(hive)["label"].to_pylist())
        return inner

    with TestPipeline(runner="FnApiRunner") as p:
        everything = p | "All" >> ReadParquetTables(str(hive))
        assert_that(everything, check(_truth(hive).schema.names), label="all")
        some = p | "Some" >> ReadParquetTables(str(hive), columns=["small", "f", "label"])
        assert_that(some, check(["small", "f", "label"]), label="some")
        named = (p | "Named" >> ReadParquetTables(hive, with_filename=True)  # a PathLike
                 | "Drop" >> beam.Map(lambda e: e[1]))
        assert_that(named, check(_truth(hive).schema.names), label="named")
        # files listed before (`pipelines.read_inputs`), validated again here
        listed = p | "Listed" >> ReadParquetTables(read_inputs(str(hive))[0])
        assert_that(listed, check(_truth(hive).schema.names), label="listed")
        # not validated: a local directory is still listed, so its keys are read
        loose = p | "Loose" >> ReadParquetTables(f"{hive},{hive}", validate=False)
        assert_that(loose, check(_truth(hive).schema.names), label="loose")

    stats = tmp_path / "stats.json"
    summary = fit_stats.run(["--input", str(hive), "--output", str(stats), "--label", "label",
                             "--runner", "FnApiRunner"])
    counts = _truth(hive).group_by("label").aggregate([("label", "count")]).to_pydict()
    assert summary["rows"] == 300
    assert summary["classes"] == dict(zip(counts["label"], counts["label_count"]))
    assert json.loads(stats.read_text())["label"] == "label"
    out = tmp_path / "balanced"
    balance.run(["--input", str(hive), "--output", str(out), "--model-dir", str(model),
                 "--label", "label", "--runner", "FnApiRunner"])
    t = ds.dataset(str(out), format="parquet").to_table()
    real = t.filter(pc.invert(t["is_synthetic"])).drop_columns(["is_synthetic"])
    assert _sorted(real).equals(_sorted(_truth(hive)))
    counts = t.group_by("label").aggregate([("label", "count")]).to_pydict()
    assert len(set(counts["label_count"])) == 1  # balanced ("auto")


def test_remote_directories_flat_and_partitioned_are_read_as_local_ones(tmp_path, hive,
                                                                       mixed_table):
    """On a remote filesystem (a Beam filesystem of a test scheme over local files) a
    directory is its own files or its hive layout, as locally; other nested layouts are
    refused with the glob hint."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that

    from pipelines import read_inputs
    from vae_augment.beam import ReadParquetTables

    prefix = remote_test_filesystem("vaetesthive")

    files, schema = read_inputs(f"{prefix}{hive}/")
    assert schema.equals(_truth(hive).schema, check_metadata=False)
    assert [str(f) for f in files] == [prefix + str(f) for f in resolve_inputs(str(hive))]
    flat = tmp_path / "flat"
    flat.mkdir()
    pq.write_table(mixed_table.slice(0, 50), flat / "a.parquet")
    pq.write_table(mixed_table.slice(50, 50), flat / "_b.parquet")  # left out, as locally
    assert read_inputs(f"{prefix}{flat}")[0] == [f"{prefix}{flat}/a.parquet"]
    (tmp_path / "odd" / "2024").mkdir(parents=True)
    pq.write_table(mixed_table.slice(0, 5), tmp_path / "odd" / "2024" / "a.parquet")
    with pytest.raises(InputError, match=r"not a hive-partitioned layout.*pass a glob such as "
                                         r"'vaetesthive://.*/odd/\*\*/\*\.parquet'"):
        read_inputs(f"{prefix}{tmp_path / 'odd'}")

    def check(tables):
        t = pa.concat_tables(tables)
        assert t.schema.names == ["f", "label", "small"] and t.num_rows == 300
        assert _sorted_f(t).equals(_sorted_f(_truth(hive).select(["f", "label", "small"])))

    with TestPipeline(runner="FnApiRunner") as p:
        tables = p | ReadParquetTables(f"{prefix}{hive}", columns=["f", "label", "small"])
        assert_that(tables | beam.combiners.ToList() | beam.FlatMap(lambda x: [x]),
                    lambda got: check(got[0]))


def _sorted_f(table: pa.Table) -> pa.Table:
    return table.sort_by([("f", "ascending"), ("label", "ascending"), ("small", "ascending")])
