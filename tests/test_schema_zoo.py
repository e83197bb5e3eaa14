"""Unusual schemas and values through the product (session 20's schema-zoo audit): each test
fails on the code before its fix."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import FAST, FAST_ARGS


# ----------------------------------------------------------- schema zoo (session 20 audit)
def test_integers_at_the_type_limits_stay_in_range(tmp_path):
    """int64 / uint64 near their limits: the float64 clip bound rounded up to 2**63 / 2**64,
    and the cast wrapped synthetic values to -2**63 and 0 (tensors: no clip at all)."""
    from vae_augment.api import fit, sample

    rng = np.random.default_rng(0)
    n = 300
    i64 = (2**63 - 1 - rng.integers(0, 1000, n)).astype(np.int64)
    u64 = np.uint64(2**64 - 1) - rng.integers(0, 1000, n).astype(np.uint64)
    t64 = (2**63 - 1 - rng.integers(0, 10**6, (n, 4))).astype(np.int64)
    table = pa.table({
        "y": np.where(np.arange(n) % 5 == 0, "b", "a"), "x": rng.normal(size=n),
        "i64": i64, "u64": u64,
        "t64": pa.FixedSizeListArray.from_arrays(pa.array(t64.reshape(-1)), 4)})
    art = fit(table, label="y", seed=0, constraints=None, **FAST)
    out = sample(art, {"b": 200}, seed=1)
    for name, real in (("i64", i64), ("u64", u64), ("t64", t64.reshape(-1))):
        col = out.column(name)
        v = (np.asarray(col.combine_chunks().flatten()) if name == "t64" else col.to_numpy())
        assert v.dtype == real.dtype
        # scalar columns: within the exact observed range (FeatureSpec.int_low / int_high);
        # tensors: within float64's spacing (1,024 here) of it. No wrap-around either way.
        slack = 1024 if name == "t64" else 0
        assert (v >= real.min() - slack).all() and (v <= real.max()).all(), name
    spec = {s.name: s for s in art.encoding.specs}["i64"]
    assert (spec.int_low, spec.int_high) == (int(i64.min()), int(i64.max()))
    # tf.data generates the same way
    from vae_augment import tfdata

    rows = next(iter(tfdata.synthetic_dataset(art, "b", batch_size=256, seed=0, n=256)))
    assert rows["i64"].numpy().min() >= i64.min() and rows["u64"].numpy().min() >= u64.min()


def test_exact_integer_extremes_merge_like_one_pass():
    from vae_augment.schema import SchemaStats
    from vae_augment.stats_merge import encoding_from_stats, merge_stats

    big = 2**62 + np.arange(100, dtype=np.int64) * 3
    t = pa.table({"v": big, "y": ["a"] * 80 + ["b"] * 20})
    one = SchemaStats(t.schema, "y")
    one.update(t)
    a, b = SchemaStats(t.schema, "y"), SchemaStats(t.schema, "y")
    a.update(t.slice(0, 37))
    b.update(t.slice(37))
    merged = encoding_from_stats(merge_stats(a, b)).specs[0]
    single = encoding_from_stats(one).specs[0]
    assert (merged.int_low, merged.int_high) == (single.int_low, single.int_high) == (
        int(big.min()), int(big.max()))


def test_duplicate_column_names_are_one_line(tmp_path, capsys):
    from vae_augment.cli import main

    x = pa.array(np.arange(50, dtype=np.float64))
    y = pa.array(["a"] * 40 + ["b"] * 10)
    pq.write_table(pa.Table.from_arrays([y, x, x], names=["y", "x", "x"]), tmp_path / "d.parquet")
    assert main(["balance", str(tmp_path / "d.parquet"), str(tmp_path / "o.parquet"),
                 "--label", "y", *FAST_ARGS]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("vae-augment: error: the input has several columns named ['x']; column "
                   "names must be unique (rename them, e.g. with pyarrow's rename_columns)")
    assert not (tmp_path / "o.parquet").exists()


def test_bad_image_shape_metadata_names_the_column(tmp_path, capsys):
    from vae_augment.cli import main

    img = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(50 * 6, np.float32)), 6)
    t = pa.table({"img": img, "y": ["a"] * 40 + ["b"] * 10})
    t = t.replace_schema_metadata({b"image_shape": b"two,three"})
    pq.write_table(t, tmp_path / "i.parquet")
    assert main(["fit", str(tmp_path / "i.parquet"), "--label", "y", "--model-dir",
                 str(tmp_path / "m"), *FAST_ARGS]) == 2
    err = capsys.readouterr().err
    assert "column 'img': `image_shape` metadata 'two,three'" in err and "--exclude img" in err


def test_bool_classes_take_command_line_spelling():
    """(`balance` took Parquet paths only and refused a table: it takes tables in memory
    since session 47, tested in test_table_inputs.py.)"""
    from vae_augment.preparation import fit_encoding

    enc = fit_encoding(pa.table({"x": np.arange(40.0), "y": [True] * 30 + [False] * 10}), "y")
    assert enc.class_index("true") == 1 and enc.class_index("False") == 0
    assert enc.class_index(np.bool_(True)) == 1


def test_a_pandas_index_column_is_named_in_a_warning(tmp_path):
    import pandas as pd

    from vae_augment.preparation import fit_encoding

    n = 60
    df = pd.DataFrame({"y": ["a"] * 50 + ["b"] * 10, "x": np.arange(n, dtype=float)},
                      index=pd.Index(np.arange(n) * 2 + 5, name="rid"))
    df.to_parquet(tmp_path / "p.parquet")
    with pytest.warns(UserWarning, match="column 'rid' is the pandas index of the input"):
        fit_encoding(str(tmp_path / "p.parquet"), "y")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_encoding(str(tmp_path / "p.parquet"), "y", exclude=["rid"])  # no warning
        df.reset_index(drop=True).to_parquet(tmp_path / "r.parquet")  # a RangeIndex: none
        fit_encoding(str(tmp_path / "r.parquet"), "y")


def test_the_beam_jobs_print_a_warning_as_one_line(tmp_path, capsys):
    """The CLI printed the library's warnings as one ``vae-augment: warning:`` line, the
    Beam jobs as Python does (a file, a line number, the category, the source line)."""
    import pandas as pd

    from pipelines import main
    from pipelines.fit_stats import run

    df = pd.DataFrame({"y": ["a"] * 50 + ["b"] * 10, "x": np.arange(60, dtype=float)},
                      index=pd.Index(np.arange(60) * 2 + 5, name="rid"))
    df.to_parquet(tmp_path / "p.parquet")
    assert main("pipelines.fit_stats", run, [
        "--input", str(tmp_path / "p.parquet"), "--label", "y", "--output",
        str(tmp_path / "e.json"), "--runner", "FnApiRunner"], uses_tensorflow=False) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pipelines.fit_stats: warning: column 'rid' is the pandas index of the "
                   "input (its pandas metadata says so); it is modelled like any column, so "
                   "synthetic rows repeat its values and it can give the label away; leave "
                   "it out with --exclude rid"], err


def test_null_fixed_size_lists_are_named_as_pyarrows_limit_not_corruption(tmp_path, capsys):
    from vae_augment.cli import main

    img = pa.array([None if k % 13 == 0 else [1.0] * 4 for k in range(60)],
                   pa.list_(pa.float32(), 4))
    pq.write_table(pa.table({"y": ["a"] * 50 + ["b"] * 10, "img": img}), tmp_path / "n.parquet")
    code = main(["balance", str(tmp_path / "n.parquet"), str(tmp_path / "o.parquet"),
                 "--label", "y", *FAST_ARGS])
    err = capsys.readouterr().err
    assert code == 2 and "has a fixed-size list column with null entries" in err, err
    assert "corrupt" not in err


def test_evaluate_filters_a_balance_output_with_a_string_view_column(tmp_path, capsys):
    """pyarrow 25 cannot take from string_view: evaluate crashed splitting real and
    synthetic rows of a balance output whose excluded column was a string_view."""
    from vae_augment.cli import main

    rng = np.random.default_rng(0)
    n = 200
    t = pa.table({"sv": pa.array(rng.choice(["u", "v"], n), pa.string_view()),
                  "y": np.where(np.arange(n) % 5 == 0, "b", "a"), "x": rng.normal(size=n)})
    pq.write_table(t, tmp_path / "sv.parquet")
    out = tmp_path / "o.parquet"
    assert main(["balance", str(tmp_path / "sv.parquet"), str(out), "--label", "y",
                 "--exclude", "sv", *FAST_ARGS]) == 0
    assert pq.read_schema(out).field("sv").type == pa.string_view()
    assert main(["evaluate", str(tmp_path / "sv.parquet"), str(out), "--label", "y",
                 "--report", str(tmp_path / "rep"), "--sections", "fidelity"]) == 0, \
        capsys.readouterr().err
    assert (tmp_path / "rep" / "report.html").exists()


def test_bool_classes_in_a_sampling_strategy_take_json_spelling():
    from vae_augment.balancing import parse_sampling_strategy

    assert parse_sampling_strategy('{"true": 100}', classes=[False, True]) == {True: 100}
    assert parse_sampling_strategy('{"True": 7}', classes=[False, True]) == {True: 7}


def test_a_non_nullable_unsupported_column_is_not_sent_to_exclude(tmp_path, capsys):
    from vae_augment.cli import main

    schema = pa.schema([pa.field("bin", pa.binary(), nullable=False), ("y", pa.string()),
                        ("x", pa.float64())])
    t = pa.table({"bin": [b"q"] * 50, "y": ["a"] * 40 + ["b"] * 10, "x": np.arange(50.0)},
                 schema=schema)
    pq.write_table(t, tmp_path / "nn.parquet")
    assert main(["fit", str(tmp_path / "nn.parquet"), "--label", "y", "--model-dir",
                 str(tmp_path / "m"), *FAST_ARGS]) == 2
    err = capsys.readouterr().err
    assert "has unsupported type binary and is not nullable" in err and "--exclude" not in err


def test_every_unsupported_column_is_named_in_one_error(tmp_path, capsys):
    """Three columns the model cannot learn: one error names them all and one `--exclude`
    line drops them all (not one column per run); a single one keeps its own message."""
    from vae_augment.cli import main
    from vae_augment.errors import SchemaError
    from vae_augment.training import fit_encoding

    t = pa.table({"y": ["a"] * 40 + ["b"] * 10, "x": np.arange(50.0),
                  "addr": pa.array([{"n": 1}] * 50), "tags": pa.array([["p", "q"]] * 50),
                  "sign up": pa.array([["q"]] * 50, pa.list_(pa.string(), 1))})
    pq.write_table(t, tmp_path / "many.parquet")
    args = ["fit", str(tmp_path / "many.parquet"), "--label", "y", "--model-dir",
            str(tmp_path / "m"), *FAST_ARGS]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert ("3 columns cannot be modelled: 'addr' (unsupported type struct<n: int64>), 'tags' "
            "(a list of string, not numbers), 'sign up' (a fixed-size list of string, "
            "not numbers). Exclude them all") in err, err
    assert err.rstrip().endswith("Exclude them all with --exclude addr --exclude tags "
                                 "--exclude 'sign up'"), err
    assert len(err.strip().splitlines()) == 1
    # the hint works: the same command with it trains
    assert main([*args, "--exclude", "addr", "--exclude", "tags", "--exclude", "sign up"]) == 0
    with pytest.raises(SchemaError, match=r"Exclude them all with exclude=\['addr', 'tags'\]$"):
        fit_encoding(t.drop(["sign up"]), "y")
    with pytest.raises(SchemaError) as one:
        fit_encoding(t.drop(["sign up", "tags"]), "y")
    assert type(one.value) is SchemaError
    assert str(one.value) == "column 'addr' has unsupported type struct<n: int64>; exclude it " \
                             "with exclude=['addr']"


def test_a_nan_in_one_of_several_files_names_that_file(tmp_path, capsys):
    """Several input files: the value error names the file that holds the NaN (in memory and
    streamed); one file: the message is unchanged (the user named the file)."""
    from vae_augment.cli import main

    d = tmp_path / "parts"
    d.mkdir()
    for i in range(3):
        x = np.arange(60.0)
        if i == 1:
            x[5] = np.nan
        pq.write_table(pa.table({"x": x, "y": ["a", "b", "b"] * 20}), d / f"p{i}.parquet")
    for extra in ([], ["--streaming"]):
        code = main(["fit", str(d), "--label", "y", "--model-dir", str(tmp_path / "m"),
                     *FAST_ARGS, *extra])
        err = capsys.readouterr().err
        assert code == 2 and f"error: input '{d / 'p1.parquet'}': column 'x' contains NaN" in err
        assert len(err.strip().splitlines()) == 1
    assert main(["fit", str(d / "p1.parquet"), "--label", "y", "--model-dir",
                 str(tmp_path / "m"), *FAST_ARGS]) == 2
    assert "error: column 'x' contains NaN; replace it" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    # the Beam statistics job too (its row groups are read with their file names)
    from pipelines.fit_stats import run
    from vae_augment.errors import SchemaError

    for inputs, named in ((d, True), (d / "p1.parquet", False)):
        with pytest.raises(SchemaError, match=r"contains NaN") as err:
            run(["--input", str(inputs), "--label", "y", "--output", str(tmp_path / "e.json")])
        assert str(err.value).startswith(f"input '{d / 'p1.parquet'}': column 'x'") is named
    assert not (tmp_path / "e.json").exists()


def test_excluded_tensor_columns_are_written_as_lists_of_nulls(tmp_path, capsys):
    """An excluded fixed-size list (refused with advice to exclude it, or excluded by
    choice) was null in synthetic rows, which the writer refuses on this pyarrow
    (apache/arrow#35692): the advice failed after the whole fit (session 31's audit). Its
    synthetic rows now hold lists of null elements; real rows keep theirs."""
    from vae_augment.cli import main

    rng = np.random.default_rng(0)
    n = 60
    words = pa.FixedSizeListArray.from_arrays(pa.array(rng.choice(["u", "v"], 2 * n)), 2)
    tensor_type = pa.fixed_shape_tensor(pa.float32(), [2, 2])
    tensor = pa.ExtensionArray.from_storage(tensor_type, pa.FixedSizeListArray.from_arrays(
        pa.array(rng.normal(size=4 * n).astype(np.float32)), 4))
    t = pa.table({"fs": words, "t": tensor, "x": rng.normal(size=n),
                  "y": ["a"] * 45 + ["b"] * 15})
    pq.write_table(t, tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    assert main(["balance", str(tmp_path / "in.parquet"), str(out), "--label", "y",
                 "--exclude", "fs", "--exclude", "t", "--model-dir", str(tmp_path / "m"),
                 *FAST_ARGS]) == 0, capsys.readouterr().err
    got = pq.read_table(out)
    assert got.schema.remove(got.schema.get_field_index("is_synthetic")).equals(
        t.schema, check_metadata=False)
    real = got.filter(pa.compute.invert(got.column("is_synthetic")))
    assert real.drop_columns(["is_synthetic"]).equals(t, check_metadata=False)
    synth = got.filter(got.column("is_synthetic"))
    assert synth.num_rows == 30
    assert synth.column("fs").to_pylist() == [[None, None]] * 30
    assert synth.column("t").combine_chunks().storage.to_pylist() == [[None] * 4] * 30


def test_a_small_dictionary_index_type_with_more_values_across_files_is_refused(tmp_path,
                                                                                 capsys):
    """dictionary<int8> columns of 100 values in each of two files (200 in all) trained, then
    generation failed with "Integer value 151 not in range: -128 to 127" (session 31's
    audit): one line before training now."""
    from vae_augment.cli import main

    typ = pa.dictionary(pa.int8(), pa.string())
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(2):
        values = [f"v{k}_{i}" for i in range(100)]
        t = pa.table({"c": pa.array(values, type=pa.string()).cast(typ),
                      "x": rng.normal(size=100), "y": ["a"] * 70 + ["b"] * 30})
        pq.write_table(t, folder / f"p{k}.parquet")
    assert main(["balance", str(folder), str(tmp_path / "o.parquet"), "--label", "y",
                 "--max-categories", "500", "--model-dir", str(tmp_path / "m"),
                 *FAST_ARGS]) == 2
    err = capsys.readouterr().err
    assert "column 'c' is dictionary<values=string, indices=int8" in err
    assert "reach 128 values, and the input holds 200 distinct values" in err
    assert not (tmp_path / "m").exists() and not (tmp_path / "o.parquet").exists()


def test_the_exclude_advice_for_a_name_that_begins_with_a_dash_can_be_typed(tmp_path, capsys):
    """The error said `--exclude -ts`, which argparse reads as a flag; `--exclude=-ts`."""
    from vae_augment.cli import main

    t = pa.table({"-ts": [f"id{i}" for i in range(300)], "x": np.arange(300.0),
                  "y": ["a"] * 200 + ["b"] * 100})
    pq.write_table(t, tmp_path / "in.parquet")
    base = ["fit", str(tmp_path / "in.parquet"), "--label", "y", "--model-dir",
            str(tmp_path / "m"), *FAST_ARGS]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "--exclude=-ts" in err
    assert main([*base, "--exclude=-ts"]) == 0, capsys.readouterr().err


def test_categorical_and_numeric_requests_are_kept_or_refused_never_dropped(tmp_path):
    """--categorical on an integer column of more values than --max-categories became a
    number, on a float column it was ignored, and with --numeric on the same column the
    number won: each silently (session 31's audit)."""
    from vae_augment.errors import SchemaError
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    n = 600
    t = pa.table({"k": pa.array(rng.integers(0, 500, n), pa.int64()),
                  "few": pa.array(rng.integers(0, 30, n), pa.int64()),
                  "f": rng.normal(size=n), "y": rng.choice(["a", "b"], n)})
    with pytest.raises(SchemaError, match=r"column 'k' has more than 200 distinct values, too "
                                          r"many to model as a category as"):
        fit_encoding(t, "y", categorical=["k"])
    with pytest.raises(SchemaError, match=r"categorical=\['f'\] names a float column that "
                                          r"is not a few whole numbers"):
        fit_encoding(t, "y", categorical=["f"])
    onehot = t.append_column("oh", pa.array(rng.integers(0, 2, n).astype(float)))
    kinds = {s.name: s.kind for s in fit_encoding(onehot, "y", categorical=["oh"]).specs}
    assert kinds["oh"] == "categorical"
    with pytest.raises(SchemaError, match=r"both name \['few'\]"):
        fit_encoding(t, "y", categorical=["few"], numeric=["few"])
    kinds = {s.name: s.kind for s in fit_encoding(t, "y", categorical=["few"]).specs}
    assert kinds["few"] == "categorical" and kinds["k"] == "numeric"
    wide = fit_encoding(t, "y", categorical=["k"], max_categories=600)
    assert {s.name: s.kind for s in wide.specs}["k"] == "categorical"


def test_schema_image_shape_metadata_warns_only_when_no_column_fits():
    """A table of 8x8 images and a 32-d embedding under schema metadata ``image_shape: 8,8``
    warned that the metadata did not fit the embedding, though it was plainly the images'
    (session 32's image audit); metadata that fits no column still warns."""
    import warnings

    from vae_augment.schema import tensor_shape

    img = pa.field("img", pa.list_(pa.uint8(), 64))
    emb = pa.field("emb", pa.list_(pa.float32(), 32))
    both = pa.schema([img, emb], metadata={"image_shape": "8,8"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tensor_shape(both.field("img"), both) == [8, 8]
        assert tensor_shape(both.field("emb"), both) == [32]
    alone = pa.schema([emb], metadata={"image_shape": "8,8"})
    with pytest.warns(UserWarning, match="does not fit column 'emb'"):
        assert tensor_shape(alone.field("emb"), alone) == [32]
