"""The Beam transforms used as a library in a user's own pipeline: what they check when the
pipeline is built, windowed and empty inputs, metadata, and the messages of misuse (a user
audit of `vae_augment.beam`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

apache_beam = pytest.importorskip("apache_beam")
import apache_beam as beam  # noqa: E402
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # noqa: E402
from apache_beam.testing.util import BeamAssertException, assert_that  # noqa: E402
from apache_beam.transforms import window  # noqa: E402

from vae_augment.beam import (  # noqa: E402
    BalanceClasses,
    CountClasses,
    EncodeLatent,
    GenerateSynthetic,
    ReadParquetTables,
    ScoreAnomalies,
)
from vae_augment.beam.rows import as_table  # noqa: E402
from vae_augment.errors import InputError, SchemaError, VAEAugmentError  # noqa: E402

RUNNER = "FnApiRunner"


def test_a_path_that_matches_nothing_fails_when_the_pipeline_is_built(tmp_path, mixed_parquet,
                                                                      monkeypatch):
    with pytest.raises(InputError, match=r"input file '.*typo\.parquet' does not exist"):
        ReadParquetTables(str(tmp_path / "typo.parquet"))
    with pytest.raises(InputError, match=r"input glob '.*nope/\*\.parquet' matches no files"):
        ReadParquetTables([str(mixed_parquet), str(tmp_path / "nope" / "*.parquet")])
    (tmp_path / "parts" / "2024").mkdir(parents=True)  # nested, not key=value folders
    (tmp_path / "parts" / "2024" / "a.parquet").write_bytes(b"")
    with pytest.raises(InputError, match=r"contains no \.parquet files; it holds \.parquet "
                                         r"files in subdirectories"):
        ReadParquetTables(str(tmp_path / "parts"))
    # one listing per pattern (local paths: `resolve_inputs`' alone, no Beam match before
    # it), and the files it found are what the read gets, each once
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.beam import parquet as bp
    calls, beam_matches = [], []
    real, real_match = bp.match_files, FileSystems.match
    monkeypatch.setattr(bp, "match_files", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(FileSystems, "match",
                        lambda *a, **k: beam_matches.append(a) or real_match(*a, **k))
    glob = str(mixed_parquet)[:-1] + "?"  # another pattern for the same file
    t = ReadParquetTables([str(mixed_parquet), glob, str(mixed_parquet)])
    assert len(calls) == 2 and not beam_matches and t._patterns == [str(mixed_parquet)]
    ReadParquetTables(str(tmp_path / "typo.parquet"), validate=False)  # the caller's choice
    ReadParquetTables(str(mixed_parquet))


def test_root_transforms_applied_to_a_pcollection_say_so(mixed_artifact, mixed_parquet):
    p = beam.Pipeline(runner=RUNNER)
    tables = p | beam.Create([1])
    with pytest.raises(VAEAugmentError, match=r"GenerateSynthetic starts a pipeline branch: "
                                              r"apply it to the pipeline"):
        _ = tables | GenerateSynthetic(str(mixed_artifact), {"a": 5})
    with pytest.raises(VAEAugmentError, match=r"ReadParquetTables starts a pipeline branch"):
        _ = tables | ReadParquetTables(str(mixed_parquet))


def _windowed(p, table):
    return (p | beam.Create([table])
            | beam.Map(lambda t: window.TimestampedValue(t, 0))
            | beam.WindowInto(window.FixedWindows(60)))


def test_windowed_input_is_refused_in_one_line(mixed_artifact, mixed_table):
    p = beam.Pipeline(runner=RUNNER)
    tables = _windowed(p, mixed_table)
    for transform, name in ((CountClasses("label"), "CountClasses"),
                            (BalanceClasses(str(mixed_artifact), "label"), "BalanceClasses")):
        with pytest.raises(SchemaError, match=rf"{name} works on totals over the whole input, "
                                              r"which must be in the global window \(it is "
                                              r"windowed by FixedWindows\)"):
            _ = tables | transform
    counts = tables | "Counts" >> beam.Map(lambda t: {"a": 5})
    with pytest.raises(SchemaError, match=r"GenerateSynthetic's `counts` works on totals"):
        _ = p | GenerateSynthetic(str(mixed_artifact), counts)
    # scoring is per row: windowed input is fine
    _ = tables | ScoreAnomalies(str(mixed_artifact))


@pytest.mark.parametrize("elements", ["none", "empty_table"])
def test_balance_classes_on_no_rows_emits_no_rows(mixed_artifact, mixed_table, elements):
    """A model applied to no rows (an empty PCollection, or empty tables: an empty file or
    shard) adds none, as `api.balance` with a model writes an empty output; it failed
    with "the input has no rows with a label". The dead-letter form too."""
    empty = mixed_table.slice(0, 0)
    source = [] if elements == "none" else [empty]
    bal = BalanceClasses(str(mixed_artifact), "label", {"c": 500})

    def check(tables):
        tables = [as_table(t) for t in tables]
        if sum(t.num_rows for t in tables):
            raise BeamAssertException(f"rows from no rows: {[t.num_rows for t in tables]}")
        for t in tables:
            if not t.schema.equals(bal.output_schema, check_metadata=False):
                raise BeamAssertException(f"schema {t.schema}")

    with BeamTestPipeline(runner=RUNNER) as p:
        tables = p | beam.Create(source, reshuffle=False).with_output_types(pa.Table)
        assert_that(tables | "Plain" >> bal, check, label="CheckPlain")
        good, bad = tables | "DL" >> BalanceClasses(str(mixed_artifact), "label"
                                                    ).with_exception_handling()
        assert_that(good, check, label="CheckGood")
        assert_that(bad, lambda got: None if not got else (_ for _ in ()).throw(
            BeamAssertException(f"dead letters {got}")), label="CheckBad")


def test_balance_classes_with_a_label_null_in_every_row_says_so(mixed_artifact, mixed_table):
    nulls = mixed_table.set_column(mixed_table.schema.get_field_index("label"), "label",
                                   pa.nulls(mixed_table.num_rows, pa.string()))
    with pytest.raises(Exception, match=r"`label` column 'label' is null in every row"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = p | beam.Create([nulls]) | BalanceClasses(str(mixed_artifact), "label")


def test_scoring_takes_a_variable_length_image_column_as_the_cli_does(mixed_artifact,
                                                                        mixed_table):
    """A list<uint8> image column whose rows hold the model's 64 values was refused whole
    ("expected a fixed-size list of 64 numbers"; the CLI's score without --dead-letter
    took it); a row of another length goes to the dead letters naming the column, or
    fails the pipeline, as in the CLI. The output keeps the input's list type."""
    from .test_cli_score import _variable_length_images

    var = _variable_length_images(mixed_table)
    ragged = _variable_length_images(mixed_table, short=(3,))
    transform = ScoreAnomalies(str(mixed_artifact))
    transform.check_input_schema(var.schema)  # what pipelines.score checks first
    want = transform.output_schema(var.schema)
    assert want.field("img").type == pa.list_(pa.uint8())

    def check_good(tables):
        t = pa.concat_tables([as_table(x) for x in tables])
        if not t.schema.equals(want) or t.num_rows != mixed_table.num_rows - 1:
            raise BeamAssertException(f"{t.num_rows} rows of {t.schema}")

    def check_bad(bad):
        errors = [b.error for b in bad]
        if errors != ["column 'img' has lists of another length than the model's 64 values "
                      "(row 3 of the table)"]:
            raise BeamAssertException(str(errors))

    with BeamTestPipeline(runner=RUNNER) as p:
        good, bad = (p | beam.Create([ragged]) | ScoreAnomalies(str(mixed_artifact))
                     .with_exception_handling())
        assert_that(good, check_good, label="Good")
        assert_that(bad, check_bad, label="Bad")
    with pytest.raises(Exception, match=r"column 'img' has lists of another length than the "
                                        r"model's 64 values \(1 row; the first is row 3\)"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = p | beam.Create([ragged]) | EncodeLatent(str(mixed_artifact))


def test_an_empty_counts_pcollection_is_named(mixed_artifact):
    with pytest.raises(Exception, match=r"the `counts` PCollection is empty: it must hold "
                                        r"exactly one \{class: rows\} dict"):
        with BeamTestPipeline(runner=RUNNER) as p:
            counts = p | "NoCounts" >> beam.Create([])
            _ = p | GenerateSynthetic(str(mixed_artifact), counts)


def test_strategy_form_is_checked_when_the_pipeline_is_built(mixed_artifact):
    m = str(mixed_artifact)
    with pytest.raises(VAEAugmentError, match=r"`sampling_strategy` names class 'maybe', which "
                                              r"the model does not know"):
        BalanceClasses(m, "label", {"maybe": 5})
    with pytest.raises(VAEAugmentError, match=r"target for class 'a' must be a non-negative "
                                              r"integer, got -1"):
        BalanceClasses(m, "label", {"a": -1})
    with pytest.raises(VAEAugmentError, match=r"as a float must be a ratio in \(0, 1\], got 2.0"):
        BalanceClasses(m, "label", 2.0)
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` must be one of"):
        BalanceClasses(m, "label", "bogus")  # the Python name, not the CLI flag
    BalanceClasses(m, "label", {"b": 400})


def test_a_float_strategy_is_judged_by_the_classes_in_the_data(mixed_artifact, mixed_table,
                                                               tmp_path):
    """A three-class model refused a float when the pipeline was built, where `balance`
    (and imbalanced-learn) judge by the classes the data holds: two here."""
    import pyarrow.compute as pc

    from vae_augment.api import balance, load_artifact

    two = mixed_table.filter(pc.is_in(mixed_table.column("label"), pa.array(["a", "b"])))
    pq.write_table(two, tmp_path / "two.parquet")
    want = balance(str(tmp_path / "two.parquet"), label="label", model=load_artifact(str(mixed_artifact)),
                   sampling_strategy=0.5, seed=0)["counts_after"]
    bal = BalanceClasses(str(mixed_artifact), "label", 0.5)
    with BeamTestPipeline(runner=RUNNER) as p:
        out = p | beam.Create([two]) | bal

        def check(tables):
            got = pa.concat_tables(tables).column("label").to_pylist()
            counts = {c: got.count(c) for c in set(got)}
            if counts != want:
                raise BeamAssertException(f"{counts} != {want}")

        assert_that(out, check)
    with pytest.raises(Exception, match=r"float only when the type of target is binary"):
        with BeamTestPipeline(runner=RUNNER) as p:  # all three classes: imbalanced-learn's rule
            _ = p | beam.Create([mixed_table]) | BalanceClasses(str(mixed_artifact), "label", 0.5)


def test_dict_strategy_keys_map_to_integer_classes(tmp_path):
    from vae_augment.api import fit

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [150, 50])
    table = pa.table({"x": rng.normal(size=200) + y, "y": y})
    model = str(tmp_path / "m")
    fit(table, label="y", model_dir=model, epochs=2, hidden=(8,), latent_dim=2, verbose=0)
    bal = BalanceClasses(model, "y", {"1": 80})
    with BeamTestPipeline(runner=RUNNER) as p:
        out = p | beam.Create([table]) | bal

        def check(tables):
            got = pa.concat_tables(tables)
            flag = got.column("is_synthetic").to_numpy(zero_copy_only=False)
            if sorted(got.filter(pa.array(flag)).column("y").to_pylist()) != [1] * 30:
                raise BeamAssertException("not 30 synthetic rows of class 1 (80 in all)")

        assert_that(out, check)


def test_real_rows_keep_their_own_metadata(mixed_artifact, mixed_table):
    field = mixed_table.schema.field("s").with_metadata({b"unit": b"grade"})
    table = mixed_table.set_column(mixed_table.schema.get_field_index("s"), field,
                                   mixed_table.column("s"))
    table = table.replace_schema_metadata({b"owner": b"risk-team"})
    bal = BalanceClasses(str(mixed_artifact), "label", "auto")
    with BeamTestPipeline(runner=RUNNER) as p:
        out = p | beam.Create([table]) | bal

        def check(tables):
            real = [t for t in tables
                    if not t.column("is_synthetic").to_numpy(zero_copy_only=False).any()]
            for t in real:
                if t.schema.metadata != {b"owner": b"risk-team"}:
                    raise BeamAssertException(f"schema metadata {t.schema.metadata}")
                if t.schema.field("s").metadata != {b"unit": b"grade"}:
                    raise BeamAssertException(f"field metadata {t.schema.field('s').metadata}")
                if not t.schema.equals(bal.output_schema, check_metadata=False):
                    raise BeamAssertException("types differ from the output schema")

        assert_that(out, check)


def test_new_column_name_and_seed_are_checked(mixed_artifact):
    m = str(mixed_artifact)
    for bad in (None, "", 3):
        with pytest.raises(VAEAugmentError, match=r"`column` must be a non-empty column name"):
            ScoreAnomalies(m, column=bad)
        with pytest.raises(VAEAugmentError, match=r"`column` must be a non-empty column name"):
            EncodeLatent(m, column=bad)
    with pytest.raises(SchemaError, match=r"`column` 'f' is a column of the data the model was "
                                          r"trained on"):
        ScoreAnomalies(m, column="f")
    with pytest.raises(VAEAugmentError, match=r"`seed` must be an integer"):
        ScoreAnomalies(m, method="iwae", seed=1.5)


def test_row_elements_are_named_in_the_error():
    with pytest.raises(VAEAugmentError, match=r"got a Beam Row \(a schema'd PCollection of "
                                              r"single rows\)"):
        as_table(beam.Row(x=1, y="a"))
    with pytest.raises(VAEAugmentError, match=r"got a row dict"):
        as_table({"x": 1})
    with pytest.raises(VAEAugmentError, match=r"got a tuple holding a table \(a keyed element, "
                                              r"or ReadParquetTables\(\.\.\., with_filename"):
        as_table(("part-0.parquet", pa.table({"x": [1]})))


def test_pipeline_balance_writes_the_inputs_metadata(tmp_path, mixed_artifact, mixed_table):
    """The Beam job writes the input's schema metadata into the footer, as the CLI does."""
    from pipelines.balance import run

    src = tmp_path / "in.parquet"
    pq.write_table(mixed_table.replace_schema_metadata({b"owner": b"risk-team"}), src)
    run(["--input", str(src), "--output", str(tmp_path / "out"), "--label", "label",
         "--model-dir", str(mixed_artifact), "--runner", RUNNER])
    for path in (tmp_path / "out").glob("*.parquet"):
        assert pq.read_schema(path).metadata == {b"owner": b"risk-team"}, path


def test_transforms_show_their_settings_in_the_runner_ui(mixed_artifact, mixed_parquet):
    from apache_beam.transforms.display import DisplayData

    def items(transform):
        return {i.key: i.value for i in DisplayData.create_from(transform).items}

    m = str(mixed_artifact)
    shown = items(BalanceClasses(m, "label", {"b": 400}, seed=3))
    assert {k: shown[k] for k in ("label", "seed", "sampling_strategy")} == {
        "label": "label", "seed": 3, "sampling_strategy": "{'b': 400}"}
    assert items(ScoreAnomalies(m, method="iwae", k=4))["method"] == "iwae"
    assert items(EncodeLatent(m))["latent_column"] == "latent"
    assert items(GenerateSynthetic(m, {"a": 5}))["counts"] == "{'a': 5}"
    assert items(CountClasses("label")) == {"label": "label"}
    assert items(ReadParquetTables(str(mixed_parquet)))["patterns"] == str(mixed_parquet)


def _encoded_size(element) -> int:
    """Bytes of an element as a runner encodes it between stages (pickled pyarrow)."""
    from apache_beam.coders import coders

    return len(coders.FastPrimitivesCoder().encode(element))


def test_dead_letter_outputs_hold_only_their_own_rows(mixed_artifact, mixed_table):
    """A slice of a table encodes its parent's whole buffers: the good rows around 2 bad ones
    (about 25 slices) were encoded as 25 copies of the input, each 1-row dead letter as the
    whole input."""
    big = pa.concat_tables([mixed_table] * 20).combine_chunks()  # 6,000 rows
    labels = big.column("label").to_pylist()
    labels[100] = labels[4000] = "zz"
    i = big.schema.get_field_index("label")
    big = big.set_column(i, big.schema.field(i), pa.array(labels))
    whole = _encoded_size(big)
    with BeamTestPipeline(runner=RUNNER) as p:
        good, bad = p | beam.Create([big]) | ScoreAnomalies(
            str(mixed_artifact)).with_exception_handling()
        sizes = (
            (good | "GoodSize" >> beam.Map(lambda t: ("good", t.num_rows, _encoded_size(t))),
             bad | "BadSize" >> beam.Map(lambda b: ("bad", b.rows.num_rows, _encoded_size(b))))
            | beam.Flatten())

        def check(items):
            rows = {kind: sum(n for k, n, _ in items if k == kind) for kind in ("good", "bad")}
            if rows != {"good": 5998, "bad": 2}:
                raise BeamAssertException(f"rows {rows}")
            for kind, n, size in items:
                if size > whole * (1.2 if kind == "good" else 0.05):
                    raise BeamAssertException(f"{kind} element of {n} rows encodes to {size} "
                                              f"bytes (the whole input: {whole})")

        assert_that(sizes, check)


def test_partitioned_write_shuffles_each_row_once(mixed_table):
    """Each (partition, shard) piece goes through the group-by on its own: a slice of the
    partition's rows carried all of them, so `num_shards=8` shuffled the data 8 times."""
    from vae_augment.beam.parquet import _SplitPartitions
    from vae_augment.io import partition_file_schema

    big = pa.concat_tables([mixed_table] * 20).combine_chunks()
    keys = ["label"]
    sizes = {}
    for shards in (1, 8):
        fn = _SplitPartitions(big.schema, keys, partition_file_schema(big.schema, keys), shards)
        fn.setup()
        pieces = list(fn.process(big))
        assert sum(t.num_rows for _, t in pieces) == big.num_rows
        sizes[shards] = sum(_encoded_size(t) for _, t in pieces)
    assert sizes[8] < 1.5 * sizes[1], sizes


def test_partitioned_write_takes_what_the_other_transforms_take(tmp_path, mixed_table):
    """RecordBatch elements, a path object; windowed input and a fractional shard count are
    refused in one line (the windowed error was Beam's CombineGlobally internals)."""
    import pathlib

    from vae_augment.beam import WritePartitionedParquet

    schema = mixed_table.schema
    out = tmp_path / "out"
    with BeamTestPipeline(runner=RUNNER) as p:
        _ = (p | beam.Create(mixed_table.to_batches(max_chunksize=100))
             | WritePartitionedParquet(pathlib.Path(out), schema, ["label"], num_shards=2))
    back = pq.read_table(out, partitioning="hive")
    assert back.num_rows == mixed_table.num_rows
    with pytest.raises(VAEAugmentError, match=r"`num_shards` must be an integer >= 1, got 1\.5"):
        WritePartitionedParquet(str(out), schema, ["label"], num_shards=1.5)
    with pytest.raises(SchemaError, match=r"WritePartitionedParquet works on one file per "
                                          r"partition.*re-window it first"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = (p | beam.Create([mixed_table])
                 | beam.WindowInto(window.FixedWindows(10))
                 | WritePartitionedParquet(str(out), schema, ["label"]))
    with pytest.raises(Exception, match=r"elements must be pyarrow Tables or RecordBatches, "
                                        r"got a row dict"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = (p | beam.Create([{"label": "a"}])
                 | WritePartitionedParquet(str(out), schema, ["label"]))


def test_row_group_start_finds_a_row_group_in_its_file_or_says_it_cannot(tmp_path):
    """Beam's Parquet read yields row groups without their place in the file: the footer
    gives it, by length, and among row groups alike in length by column statistics."""
    from vae_augment.beam.parquet import row_group_start

    rng = np.random.default_rng(0)
    t = pa.table({"x": rng.normal(size=250), "s": rng.choice(["a", "b", None], 250),
                  "l": pa.array([[1, 2]] * 250)})
    path = str(tmp_path / "t.parquet")
    pq.write_table(t, path, row_group_size=100)  # 100, 100, 50 rows
    groups = [pq.ParquetFile(path).read_row_group(i) for i in range(3)]
    assert [row_group_start(path, g) for g in groups] == [0, 100, 200]
    assert row_group_start(path, groups[1].select(["s"])) == 100  # a read of some columns
    assert row_group_start(path, t.slice(3, 100)) is None  # not one of its row groups
    assert row_group_start(path, t.slice(0, 7)) is None  # no row group of that length
    assert row_group_start(str(tmp_path / "gone.parquet"), groups[0]) is None
    # two row groups with the same statistics: which one is not known
    twice = str(tmp_path / "twice.parquet")
    pq.write_table(pa.concat_tables([groups[2], groups[2]]), twice, row_group_size=50)
    assert row_group_start(twice, groups[2]) is None


def test_row_group_start_tells_row_groups_of_one_statistics_apart_by_their_values(
        tmp_path, monkeypatch):
    """An image table's row groups have the same footer statistics (every label, pixels
    0-255; a list column's are its values'): a bad row was "row 30 of its row group",
    which names no row of the file. With `read` (a bad row is being named) the row groups
    are told apart by their columns' values."""
    from vae_augment.beam import parquet

    rng = np.random.default_rng(0)
    n = 300
    img = pa.FixedSizeListArray.from_arrays(
        pa.array(rng.integers(0, 256, n * 4).astype(np.uint8)), 4)
    labels = np.array(["a", "b", "c"] * (n // 3))
    t = pa.table({"img": img, "label": labels})
    t = t.set_column(1, "label", pa.array(rng.permutation(labels)))
    img_only = t.set_column(1, "label", pa.array(labels))  # each group's labels alike
    for table, name in ((t, "t"), (img_only, "img_only")):
        path = str(tmp_path / f"{name}.parquet")
        pq.write_table(table, path, row_group_size=100)
        groups = [pq.ParquetFile(path).read_row_group(i) for i in range(3)]
        assert [parquet.row_group_start(path, g) for g in groups] == [None] * 3
        assert [parquet.row_group_start(path, g, read=True) for g in groups] == [0, 100, 200]
    # the columns read are the element's: a read of some columns, and a column the file
    # lacks (a partition key), which is not compared
    path = str(tmp_path / "t.parquet")
    group = pq.ParquetFile(path).read_row_group(1)
    assert parquet.row_group_start(path, group.select(["img"]), read=True) == 100
    keyed = group.append_column("day", pa.array(["m"] * 100))  # as small as the labels
    assert parquet.row_group_start(path, keyed.select(["day", "label"]), read=True) == 100
    assert parquet.row_group_start(path, keyed.select(["day"]), read=True) is None
    # row groups alike in every value stay unknown
    twice = str(tmp_path / "twice.parquet")
    pq.write_table(pa.concat_tables([group, group, group]), twice, row_group_size=100)
    assert parquet.row_group_start(twice, group, read=True) is None
    # a column larger than the read's budget is not read
    monkeypatch.setattr(parquet, "_BYTES_READ", group.column("label").nbytes * 3 - 1)
    assert parquet.row_group_start(path, group.select(["label"]), read=True) is None
    monkeypatch.undo()
    # each row group's columns are read once per file, not once per lookup
    parquet._column_digests.cache_clear()
    for g in [pq.ParquetFile(path).read_row_group(i) for i in range(3)] * 2:
        parquet.row_group_start(path, g.select(["label"]), read=True)
    assert parquet._column_digests.cache_info().misses == 1


def test_row_group_start_reads_a_rewritten_file_anew(tmp_path):
    """The footer is kept per file between lookups: a file rewritten since (a notebook
    running a job again after fixing its input) was still looked up in its old footer,
    which named a row group's old place in the file (105 for 5)."""
    import os

    from vae_augment.beam.parquet import row_group_start

    a, b = pa.table({"x": np.arange(100.0)}), pa.table({"x": np.arange(100.0, 150.0)})
    path = str(tmp_path / "t.parquet")

    def write(groups, mtime):
        with pq.ParquetWriter(path, a.schema) as w:
            for g in groups:
                w.write_table(g)
        os.utime(path, (mtime, mtime))  # the same size either way: told apart by the time

    write([a, b], 1_000_000)
    assert row_group_start(path, b) == 100
    write([b, a], 2_000_000)
    assert row_group_start(path, b) == 0 and row_group_start(path, a) == 50
