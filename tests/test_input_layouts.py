"""A column in another Arrow layout than the model's, on every interface: the output keeps
the input's layout.

Parquet files whose strings are string_view / binary_view (what pyarrow writes for a table
of views, Polars 1.38 wrote, DuckDB gives with its view setting): every interface reads them
as large_string / large_binary, models them as it models strings, and writes the views back,
so an output keeps the input's schema. Each test compares with the same file written as
large types (or plain strings): the same rows, only the types differ.

Before session 48 every interface refused such a file ("unsupported type string_view; cast
it to string"): few pyarrow 25 kernels take views (not take, filter, is_in or equal). And
`balance` (CLI, Python, Beam) with a model of plain strings refused a file of large strings
(Polars' and pandas 3's), and the other way round; `score` took them. So with a category
(a dictionary) for plain strings, and int32 / float32 for the model's int64 / float64."""

from __future__ import annotations

import glob

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST, FAST_ARGS, make_mixed_table, run_cli
from vae_augment.io import read_table, resolve_inputs, without_views

VIEWED = {"s": pa.string_view(), "label": pa.string_view(), "blob": pa.binary_view()}
LARGE = {"s": pa.large_string(), "label": pa.large_string(), "blob": pa.large_binary()}


def _typed(table: pa.Table, types) -> pa.Table:
    for name, typ in types.items():  # no cast from a dictionary to a view: decode first
        i = table.schema.get_field_index(name)
        if pa.types.is_dictionary(table.schema.field(i).type) and not pa.types.is_dictionary(typ):
            col = table.column(i).cast(table.schema.field(i).type.value_type)
            table = table.set_column(i, table.schema.field(i).with_type(col.type), col)
    fields = [f.with_type(types.get(f.name, f.type)) for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The mixed table (no tensor) plus a binary column, as views, as large types and as
    plain string / binary."""
    d = tmp_path_factory.mktemp("views")
    t = make_mixed_table(with_tensor=False)
    t = t.append_column("blob", pa.array([b"x%d" % i for i in range(t.num_rows)]))
    out = {}
    for name, types in (("views", VIEWED), ("large", LARGE), ("plain", {})):
        out[name] = d / f"{name}.parquet"
        pq.write_table(_typed(t, types), out[name])
    assert pq.read_schema(out["views"]).field("s").type == pa.string_view()
    return out


@pytest.fixture(scope="module")
def plain_model(tmp_path_factory, files):
    """A model trained on the plain-string file."""
    from vae_augment.api import fit

    d = tmp_path_factory.mktemp("plain_model")
    fit(str(files["plain"]), label="label", model_dir=str(d), seed=0, exclude=["blob"], **FAST)
    return d


def _read(path) -> pa.Table:
    """A file or a folder of files as written (types kept)."""
    found = resolve_inputs(str(path))
    return pa.concat_tables([pq.read_table(f) for f in found])


def test_cli_balance_of_views_writes_views_and_the_rows_of_large_strings(tmp_path, files,
                                                                          capsys):
    outs = {}
    for name in ("views", "large"):
        outs[name] = tmp_path / f"{name}_out.parquet"
        code, _, err = run_cli(["balance", str(files[name]), str(outs[name]), "--label", "label",
                                "--model-dir", str(tmp_path / f"m_{name}"), "--exclude", "blob",
                                "--seed", "0", *FAST_ARGS], capsys)
        assert code == 0, err
    got, want = pq.read_table(outs["views"]), pq.read_table(outs["large"])
    source = pq.read_schema(files["views"])
    assert got.schema.equals(source.append(pa.field("is_synthetic", pa.bool_(), False)),
                             check_metadata=False)
    assert got.column("is_synthetic").to_pylist().count(True) > 0
    assert without_views(got).equals(want)
    # the model trained on views samples views
    code, _, err = run_cli(["sample", "--model-dir", str(tmp_path / "m_views"),
                            str(tmp_path / "s.parquet"), "--n", "30", "--seed", "1", "--quiet"],
                           capsys)
    assert code == 0, err
    sampled = pq.read_table(tmp_path / "s.parquet")
    assert [sampled.schema.field(n).type for n in VIEWED] == list(VIEWED.values())
    assert sampled.num_rows == 90


def test_a_model_of_plain_strings_balances_scores_and_encodes_views_as_they_came(
        tmp_path, files, plain_model, capsys):
    """A model trained on plain strings takes the view file, and the large-string one
    (`balance` refused it: "column 's' has type large_string, expected string"); outputs
    keep their types, with the rows the plain file gives (the privacy filter and a
    partition by a view column filter and take rows: no Arrow kernel for views)."""
    for command, extra in (("balance", ["--privacy-min-distance", "0.05", "--partition-by", "s",
                                        "--label", "label", "--seed", "0"]),
                           ("balance", ["--label", "label", "--seed", "0"]),
                           ("score", ["--kind", "label"]),
                           ("encode", [])):
        outs = {}
        for name in ("views", "large", "plain"):
            outs[name] = tmp_path / f"{command}_{len(extra)}_{name}"
            if "--partition-by" not in extra:
                outs[name] = outs[name].with_suffix(".parquet")
            code, _, err = run_cli([command, str(files[name]), str(outs[name]), *extra,
                                    "--model-dir", str(plain_model), "--quiet"], capsys)
            assert code == 0, (command, extra, err)
        want = _read(outs["plain"])
        for name, types in (("views", VIEWED), ("large", LARGE)):
            got = _read(outs[name])
            for n, t in types.items():
                if n in got.schema.names:  # a partition's files leave out its column
                    assert got.schema.field(n).type == t, (command, name, n)
            assert got.cast(want.schema).equals(want), (command, name, extra)
    # read back whole, the partition column comes from the folder names, every row there
    parts = read_table(resolve_inputs(str(tmp_path / "balance_8_views")))
    assert parts.num_rows == pq.read_table(tmp_path / "balance_4_views.parquet").num_rows


def test_python_balance_of_a_table_of_views_filters_privately(files, plain_model):
    from vae_augment.api import balance
    from vae_augment.artifact import load_artifact

    art = load_artifact(str(plain_model))
    views, plain = pq.read_table(files["views"]), pq.read_table(files["plain"])
    got = balance(views, label="label", model=art, privacy_min_distance=0.05, seed=0)["table"]
    want = balance(plain, label="label", model=art, privacy_min_distance=0.05, seed=0)["table"]
    assert got.schema.field("s").type == pa.string_view()
    assert got.cast(want.schema).equals(want)


def test_streamed_training_on_views_trains_the_model_of_large_strings(tmp_path, files):
    from vae_augment.api import fit, sample

    arts = {name: fit(str(files[name]), label="label", seed=0, exclude=["blob"], streaming=True,
                      **FAST) for name in ("views", "large")}
    assert arts["views"].encoding.input_lists == VIEWED
    got = sample(arts["views"], {"b": 20, "c": 20}, seed=2)
    want = sample(arts["large"], {"b": 20, "c": 20}, seed=2)
    assert got.schema.field("label").type == pa.string_view()
    assert without_views(got).equals(want)


def test_beam_jobs_write_the_views_and_large_strings_back(tmp_path, files, plain_model):
    from pipelines import balance, score

    for job, args in ((balance, ["--label", "label", "--seed", "0"]),
                      (balance, ["--label", "label", "--seed", "0", "--partition-by", "s"]),
                      (score, [])):
        outs = {}
        for name in ("views", "large", "plain"):
            outs[name] = tmp_path / f"{job.__name__}_{len(args)}_{name}"
            job.run(["--input", str(files[name]), "--output", str(outs[name]), "--model-dir",
                     str(plain_model), "--runner", "FnApiRunner", *args])
        want = read_table(resolve_inputs(str(outs["plain"])))
        for name, types in (("views", VIEWED), ("large", LARGE)):
            written = glob.glob(str(outs[name] / "**" / "*.parquet"), recursive=True)
            assert written
            for f in written:
                schema = pq.read_schema(f)
                assert schema.field("label").type == types["label"], f
                assert schema.field("blob").type == types["blob"], f
            got = read_table(resolve_inputs(str(outs[name])))
            assert got.cast(want.schema).equals(want), (job.__name__, name, args)


def test_tfdata_and_evaluate_read_views_as_strings(tmp_path, files):
    from vae_augment.evaluation import evaluate
    from vae_augment.tfdata import read_parquet

    els = [next(iter(read_parquet(str(files[n]), batch_size=50))) for n in ("views", "plain")]
    assert sorted(els[0]) == sorted(els[1])
    for key in els[0]:
        np.testing.assert_array_equal(els[0][key].numpy(), els[1][key].numpy(), err_msg=key)
    reports = [evaluate(str(files[n]), str(files[n]), label="label", sections=["fidelity"])
               for n in ("views", "plain")]
    assert reports[0]["fidelity"] == reports[1]["fidelity"]


def test_a_binary_view_column_is_refused_by_its_own_type(tmp_path, files, capsys):
    """binary columns are not modelled: the error names the file's type, not the large
    binary it is read as."""
    code, _, err = run_cli(["fit", str(files["views"]), "--label", "label", "--model-dir",
                            str(tmp_path / "m"), *FAST_ARGS], capsys)
    assert code == 2
    assert "column 'blob' has unsupported type binary_view; exclude it with --exclude blob" in err
    assert "large_binary" not in err


def test_a_model_of_large_strings_balances_plain_strings_as_they_came(files):
    """The other way round: a model trained on large strings (Polars' files) balances a
    table of plain strings (pandas'), written back as plain strings (it was refused:
    "column 's' has type string, expected large_string")."""
    from vae_augment.api import balance, fit

    art = fit(str(files["large"]), label="label", seed=0, exclude=["blob"], **FAST)
    plain, large = pq.read_table(files["plain"]), pq.read_table(files["large"])
    got = balance(plain, label="label", model=art, seed=0)["table"]
    want = balance(large, label="label", model=art, seed=0)["table"]
    assert got.schema.field("s").type == pa.string() and got.schema.field("blob").type == pa.binary()
    assert got.cast(want.schema).equals(want)


def test_fit_stats_job_on_views_gives_fit_encodings_encoding(tmp_path, files):
    """The Beam statistics job recorded the views as the trained types, so `fit --encoding`
    on the same file trained a model of string_view columns and recorded no view to write
    back."""
    import json

    from pipelines.fit_stats import run
    from vae_augment.api import fit, sample
    from vae_augment.preparation import fit_encoding

    out = tmp_path / "encoding.json"
    run(["--input", str(files["views"]), "--label", "label", "--exclude", "blob", "--output",
         str(out), "--constraint", "none", "--runner", "FnApiRunner"])
    doc = json.loads(out.read_text())
    want = fit_encoding(str(files["views"]), "label", exclude=["blob"]).to_json()
    assert {k: v for k, v in doc.items() if k != "constraints"} == {
        k: v for k, v in want.items() if k != "constraints"}
    art = fit(str(files["views"]), label="label", encoding=str(out), seed=0,
              **{**FAST, "epochs": 1})
    assert art.encoding.schema.field("s").type == pa.large_string()
    assert art.encoding.input_lists == VIEWED
    assert sample(art, {"c": 5}, seed=0).schema.field("s").type == pa.string_view()


@pytest.mark.parametrize("column, typ", [
    ("d", pa.string()),  # the model's category (a dictionary) as plain strings
    ("d", pa.string_view()),
    ("s", pa.dictionary(pa.int32(), pa.string())),  # the model's strings as a category
    ("label", pa.dictionary(pa.int8(), pa.large_string())),
])
def test_a_model_takes_categories_as_strings_and_strings_as_categories(files, plain_model,
                                                                        column, typ):
    """A pandas or Polars category against plain strings: `balance` with a model refused
    the other one ("column 'd' has type string, expected dictionary<...>")."""
    from vae_augment.api import balance
    from vae_augment.artifact import load_artifact

    art = load_artifact(str(plain_model))
    plain = pq.read_table(files["plain"])
    other = _typed(plain, {column: typ})
    got = balance(other, label="label", model=art, seed=0)["table"]
    want = balance(plain, label="label", model=art, seed=0)["table"]
    assert got.schema.field(column).type == typ
    assert got.to_pylist() == want.to_pylist()  # the values (dictionaries differ in order)


def test_beam_transforms_take_tables_of_views_a_user_made(files, plain_model):
    """`ScoreAnomalies`, `EncodeLatent` and `BalanceClasses` on tables of views made by the
    user's own pipeline (not read by `ReadParquetTables`): the scorers compared the label
    with `is_in`, which takes no views (a SchemaError: "has type string_view, which does not
    match the model's classes")."""
    import apache_beam as beam
    from apache_beam.testing.util import assert_that

    from vae_augment.beam import BalanceClasses, EncodeLatent, ScoreAnomalies

    views = pq.read_table(files["views"])
    plain = pq.read_table(files["plain"])

    def check(want_rows):
        def check(tables):
            assert sum(t.num_rows for t in tables) == want_rows
            for t in tables:
                assert t.schema.field("s").type == pa.string_view()
                assert t.schema.field("label").type == pa.string_view()
        return check

    with beam.Pipeline(runner="FnApiRunner") as p:
        tables = p | beam.Create([views.slice(0, 150), views.slice(150)])
        assert_that(tables | ScoreAnomalies(str(plain_model)), check(300), label="Score")
        assert_that(tables | EncodeLatent(str(plain_model)), check(300), label="Encode")
        balanced = tables | BalanceClasses(str(plain_model), "label", input_schema=views.schema)
        counts = plain.group_by("label").aggregate([("label", "count")]).column(1).to_pylist()
        assert_that(balanced, check(max(counts) * len(counts)), label="Balance")


def test_a_model_takes_numbers_of_another_width_and_writes_them_so(files, plain_model):
    """int32 for a model's int64 (Spark against pandas), float32 for float64: `balance` with
    a model refused them ("column 'i' has type int32, expected int64"). The synthetic rows
    are the model's, cast to the input's types; integers past a narrower type's range are
    clipped to it."""
    import pyarrow.compute as pc

    from vae_augment.api import balance
    from vae_augment.artifact import load_artifact

    art = load_artifact(str(plain_model))
    plain = pq.read_table(files["plain"])
    want = balance(plain, label="label", model=art, seed=0)["table"]
    want = want.filter(want["is_synthetic"])
    other = _typed(plain, {"i": pa.int32(), "small": pa.int64(), "f": pa.float32()})
    got = balance(other, label="label", model=art, seed=0)["table"]
    assert got.schema.equals(other.schema.append(got.schema.field("is_synthetic")))
    assert got.filter(pc.invert(got["is_synthetic"])).drop_columns(["is_synthetic"]).equals(other)
    assert got.filter(got["is_synthetic"]).equals(want.cast(got.schema))

    # int8 holds none of the model's values over 127 (it learned 0-999)
    narrow = _typed(plain.set_column(plain.schema.get_field_index("i"), "i",
                                     pc.min_element_wise(plain["i"], 100)), {"i": pa.int8()})
    got = balance(narrow, label="label", model=art, seed=0)["table"]
    got = got.filter(got["is_synthetic"])
    assert got.schema.field("i").type == pa.int8()
    assert pc.max(want["i"]).as_py() > 127
    assert got["i"].to_pylist() == pc.min_element_wise(want["i"], 127).to_pylist()


def test_integers_cast_to_a_narrower_type_keep_their_nulls():
    """The clip to a narrower type's range leaves a null row null (an element-wise max that
    skips nulls made it the range's end)."""
    from vae_augment.encoding import Encoding

    batch = pa.table({"i": pa.array([1, None, 300, -500], pa.int64())})
    got = Encoding.as_list_types(batch, {"i": pa.int8()})
    assert got.schema.field("i").type == pa.int8()
    assert got.column("i").to_pylist() == [1, None, 127, -128]
