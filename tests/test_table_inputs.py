"""Tables in memory as inputs of the Python API: pandas DataFrames and any object with the
Arrow PyCapsule stream interface (Polars DataFrames, DuckDB results, ...), whose strings may
come as string_view (Polars' do through the stream; few pyarrow 25 kernels take views).

`fit` took a Parquet path or a `pyarrow.Table` only: a DataFrame was "expected Parquet
paths"; the scoring functions refused an Arrow stream; `evaluate` read a Polars DataFrame as
if it were pandas."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.conftest import FAST, make_mixed_table
from vae_augment.errors import InputError, SchemaError


class ArrowStream:
    """Only the Arrow PyCapsule stream interface, as Polars and DuckDB offer it; `views`
    hands the string columns (and dictionaries' strings) over as string_view, as Polars
    does."""

    def __init__(self, table: pa.Table, views: bool = False):
        if views:
            def view(t):
                if pa.types.is_dictionary(t) and pa.types.is_string(t.value_type):
                    return pa.dictionary(t.index_type, pa.string_view())
                return pa.string_view() if pa.types.is_string(t) else t

            table = pa.Table.from_arrays(
                [c.cast(view(c.type)) for c in table.columns],
                schema=pa.schema([f.with_type(view(f.type)) for f in table.schema],
                                 metadata=table.schema.metadata))
        self.table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)


@pytest.fixture(scope="module")
def table():
    return make_mixed_table(200, seed=1, with_tensor=False)


@pytest.fixture(scope="module")
def from_table(table):
    from vae_augment.api import fit

    return fit(table, label="label", seed=0, **FAST)


def test_an_arrow_stream_trains_the_model_the_table_does(table, from_table):
    from vae_augment.api import fit, sample

    streamed = fit(ArrowStream(table), label="label", seed=0, **FAST)
    assert streamed.encoding.schema == from_table.encoding.schema
    a = sample(streamed, {"c": 30}, seed=4)
    b = sample(from_table, {"c": 30}, seed=4)
    assert a.equals(b)


def test_a_pandas_frame_trains_without_its_index(table):
    from vae_augment.api import fit, sample

    frame = table.to_pandas()
    frame.index = np.arange(100, 100 + len(frame))  # not a column of the model
    art = fit(frame, label="label", seed=0, **FAST)
    assert set(art.encoding.schema.names) == set(table.column_names)
    assert sample(art, {"b": 10}, seed=0).num_rows == 10


def test_string_views_train_as_large_strings_and_score(table, from_table):
    """Polars' strings through the stream are string_view: they were refused ("unsupported
    type string_view") and a string_view label too."""
    from vae_augment.api import fit, sample
    from vae_augment.scoring import anomaly_scores, class_posterior, encode_latent

    views = ArrowStream(table, views=True)
    assert views.table.schema.field("label").type == pa.string_view()
    assert views.table.schema.field("d").type.value_type == pa.string_view()
    art = fit(views, label="label", seed=0, **FAST)
    assert art.encoding.schema.field("s").type == pa.large_string()
    assert art.encoding.schema.field("label").type == pa.large_string()
    assert art.encoding.schema.field("d").type.value_type == pa.large_string()
    rows = sample(art, {"a": 5, "c": 20}, seed=0)
    assert rows.column("label").to_pylist() == ["a"] * 5 + ["c"] * 20
    assert set(rows.column("s").drop_null().to_pylist()) <= {"x", "y", "z"}
    # a model trained from a table scores the same rows handed over as a stream of views
    for fn in (encode_latent, anomaly_scores, class_posterior):
        np.testing.assert_allclose(fn(from_table, views), fn(from_table, table), rtol=1e-6)


def test_evaluate_takes_arrow_streams(table, from_table):
    from vae_augment.api import sample
    from vae_augment.evaluation import evaluate

    syn = sample(from_table, {"a": 40, "b": 40, "c": 40}, seed=1)
    want = evaluate(table, syn, label="label", seed=0, sections=["fidelity"])
    got = evaluate(ArrowStream(table, views=True), ArrowStream(syn), label="label", seed=0,
                   sections=["fidelity"])
    assert got["fidelity"] == want["fidelity"]


def test_class_counts_of_tables(table):
    from vae_augment.api import class_counts

    labels = table.column("label").to_pylist()
    want = {c: labels.count(c) for c in ("a", "b", "c")}
    nulled = table.set_column(table.schema.get_field_index("label"), "label",
                              pa.array([None] * 7 + labels[7:]))
    dict_label = table.set_column(table.schema.get_field_index("label"), "label",
                                  table.column("label").dictionary_encode())
    for x in (table, table.to_pandas(), ArrowStream(table, views=True), dict_label,
              table.to_batches()[0]):
        assert class_counts(x, "label") == want
    assert sum(class_counts(nulled, "label").values()) == len(labels) - 7
    with pytest.raises(SchemaError, match=r"`label` column 'y' not found"):
        class_counts(table.to_pandas(), "y")
    with pytest.raises(InputError, match=r"got int; write the table to Parquet first "
                                         r"\(pyarrow.parquet.write_table\)$"):
        class_counts(3, "label")


def test_a_stream_pyarrow_cannot_read_is_one_error():
    from vae_augment.io import in_memory_table

    class Broken:
        def __arrow_c_stream__(self, requested_schema=None):
            raise TypeError("no stream today")

    with pytest.raises(InputError, match=r"^a Broken offers an Arrow stream that pyarrow "
                                         r"cannot read as a table: no stream today$"):
        in_memory_table(Broken())


def test_readme_polars_block_runs(tmp_path, monkeypatch, capsys):
    """README's "Tables in memory" block, as written (the fit shortened): a Polars
    DataFrame in, a balanced Polars DataFrame out."""
    import polars as pl

    import vae_augment
    from tests.conftest import REPO
    from tests.test_docs import _readme_block
    from vae_augment import api

    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    real_fit = api.fit
    monkeypatch.setattr(api, "fit", lambda *a, **k: real_fit(*a, **{**k, **FAST}))
    scope = {"va": vae_augment}
    exec(compile(_readme_block("### Tables in memory"), "README.md", "exec"), scope)
    df, balanced = scope["df"], scope["balanced"]
    assert capsys.readouterr().out.strip() == ("{'no': 4293, 'yes': 707} "
                                               "{'no': 4293, 'yes': 4293}")
    assert balanced.head(len(df)).drop("is_synthetic").equals(df)  # real rows first, unchanged
    assert not balanced.head(len(df))["is_synthetic"].any()
    assert balanced.schema == {**df.schema, "is_synthetic": pl.Boolean}
    assert balanced["is_synthetic"].sum() == 4293 - 707
    assert dict(balanced["churn"].value_counts().iter_rows()) == {"yes": 4293, "no": 4293}


def test_balance_of_a_table_is_the_balance_of_its_parquet_file(tmp_path, table, from_table):
    """The same rows out, from a table in memory (pandas, an Arrow stream) or its file, with
    a model given or trained, to a table or a file; the privacy filter's reference and the
    partition check read the table."""
    import pyarrow.parquet as pq

    from vae_augment.api import balance

    pq.write_table(table, tmp_path / "t.parquet")
    kw = dict(label="label", seed=3, fit_kwargs=FAST)
    want = balance(str(tmp_path / "t.parquet"), **kw)
    for x in (table, ArrowStream(table), table.to_pandas()):
        got = balance(x, **kw)
        assert got["counts_after"] == want["counts_after"] == {"a": 138, "b": 138, "c": 138}
        if isinstance(x, pa.Table):
            assert got["table"].equals(want["table"])
        # pandas gives the dictionary column int8 indices: the same values
        assert got["table"].to_pylist() == want["table"].to_pylist()
    # an Arrow stream of views, to a partitioned file, with the privacy filter
    out = tmp_path / "out"
    summary = balance(ArrowStream(table, views=True), str(out), label="label", seed=0,
                      fit_kwargs=FAST, partition_by=["is_synthetic"],
                      privacy_min_distance=0.01)
    written = pq.read_table(out)
    assert written.num_rows == summary["rows_written"] == 3 * 138
    assert written.schema.field("s").type == pa.large_string()
    real = written.filter(pc.equal(written.column("is_synthetic").cast(pa.string()), "false"))
    assert sorted(real.column("f").to_pylist(), key=str) == sorted(
        table.column("f").to_pylist(), key=str)
    # a model given
    given = balance(table, label="label", seed=0, model=from_table)
    assert given["artifact"] is from_table
    assert given["generated"] == {"a": 0, "b": 138 - 44, "c": 138 - 18}


def test_a_parquet_file_polars_wrote_balances_to_one_polars_reads_back(tmp_path):
    """Polars writes its strings as large_string and a Categorical as a dictionary with its
    own field metadata; the CLI's output keeps both, and Polars reads it as it wrote it."""
    import polars as pl

    from tests.conftest import FAST_ARGS, run_cli

    rng = np.random.default_rng(0)
    n = 300
    df = pl.DataFrame({
        "s": rng.choice(["x", "y", "z"], n),
        "v": rng.normal(size=n),
        "cat": pl.Series(rng.choice(["p", "q"], n)).cast(pl.Categorical),
        "day": pl.Series(rng.integers(19000, 19100, n)).cast(pl.Date),
        "y": rng.choice(["a", "b"], n, p=[0.8, 0.2]),
    }).with_columns(pl.when(pl.col("v") > 1).then(None).otherwise(pl.col("v")).alias("v"))
    df.write_parquet(tmp_path / "in.parquet")
    code, _, err = run_cli(["balance", tmp_path / "in.parquet", tmp_path / "out.parquet",
                            "--label", "y", "--seed", "0", *FAST_ARGS])
    assert code == 0, err
    import pyarrow.parquet as pq

    written = pq.read_schema(tmp_path / "in.parquet")
    assert written.field("s").type == pa.large_string()  # what the test is about
    out = pq.read_schema(tmp_path / "out.parquet")
    assert out.remove(out.get_field_index("is_synthetic")).equals(written, check_metadata=True)
    back = pl.read_parquet(tmp_path / "out.parquet")
    assert back.schema == {**df.schema, "is_synthetic": pl.Boolean}
    assert back.filter(~pl.col("is_synthetic")).drop("is_synthetic").equals(df)
    majority = int(df["y"].eq("a").sum())
    assert dict(back["y"].value_counts().iter_rows()) == {"a": majority, "b": majority}
