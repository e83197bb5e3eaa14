"""A new user's own messy Parquet tables through the product (session 33's audit): each test
fails on the code before its fix."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import FAST_ARGS


def test_every_id_and_free_text_column_is_named_in_one_error(tmp_path, capsys):
    """An ID column and a free-text column: one error names both, with the `--exclude` flags
    that drop them all (it named the first only, and the next run the second); a single one
    keeps its own message."""
    from vae_augment.cli import main
    from vae_augment.errors import SchemaError
    from vae_augment.training import fit_encoding

    n = 300
    t = pa.table({"y": ["a"] * 240 + ["b"] * 60, "x": np.arange(n, dtype=np.float64),
                  "id": [f"id-{i:05d}" for i in range(n)],
                  "note": [f"free text {i * 7919 % 1000}" for i in range(n)]})
    pq.write_table(t, tmp_path / "t.parquet")
    args = ["fit", str(tmp_path / "t.parquet"), "--label", "y", "--model-dir",
            str(tmp_path / "m"), *FAST_ARGS]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert ("2 columns cannot be modelled: 'id' (more than 200 distinct values), 'note' (more "
            "than 200 distinct values). Exclude them all with --exclude id --exclude note (or "
            "raise --max-categories)") in err, err
    assert len(err.strip().splitlines()) == 1
    assert main([*args, "--exclude", "id", "--exclude", "note"]) == 0
    with pytest.raises(SchemaError) as one:
        fit_encoding(t.drop(["note"]), "y")
    assert type(one.value) is SchemaError
    assert str(one.value).startswith("column 'id' has more than 200 distinct values, too many")


def test_a_wide_table_is_warned_of_once():
    """300 numeric columns: `--constraint auto` searches the first 64, and says so once (the
    CLI printed the same warning twice, from two calls in one search)."""
    import warnings

    from vae_augment.constraints import resolve_rules
    from vae_augment.training import fit_encoding

    rng = np.random.default_rng(0)
    t = pa.table({"y": ["a"] * 80 + ["b"] * 20,
                  **{f"f{j}": rng.normal(size=100).round(3) for j in range(300)}})
    enc = fit_encoding(t, "y")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolve_rules("auto", t, enc)
    said = [w for w in caught if "relations among the first 64 of 300" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in caught]


def test_evaluate_takes_negative_zeros_in_a_float_category(tmp_path, capsys):
    """A float column of 0.0/1.0 (a one-hot encoder's) that holds -0.0: `evaluate` (and
    `balance --report`) failed with a traceback while counting the fidelity section's linked
    columns, which looked -0.0 up in the vocabulary's 0.0 and missed."""
    from vae_augment.cli import main

    rng = np.random.default_rng(0)
    n = 200
    real = pa.table({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n),
                     "oh": np.where(rng.random(n) < 0.5, -0.0, 1.0),
                     "y": np.where(rng.random(n) < 0.3, "p", "q")})
    pq.write_table(real, tmp_path / "real.parquet")
    pq.write_table(real.slice(0, 100), tmp_path / "syn.parquet")
    assert main(["evaluate", str(tmp_path / "real.parquet"), str(tmp_path / "syn.parquet"),
                 "--label", "y", "--report", str(tmp_path / "rep"), "--sections", "fidelity",
                 "--quiet"]) == 0, capsys.readouterr().err
    assert (tmp_path / "rep" / "report.json").exists()


def test_the_report_plots_a_float_categorys_negative_zero_as_zero():
    """The marginal plot's bars: -0.0 (real rows) and 0.0 (the synthetic rows' decoded
    value) are one value, as everywhere else (they were two bars, each side missing one)."""
    from vae_augment.report_plots import _freq

    assert _freq(pa.array([-0.0, 0.0, 1.0, None])) == {"0.0": 2 / 3, "1.0": 1 / 3}


def test_the_class_table_shows_empty_and_padded_classes_quoted(capsys):
    """`balance`'s class table: a class "" printed as a blank cell and " yes " as yes, which
    `--sampling-strategy '{"yes": ...}'` then refused; such classes are quoted."""
    from vae_augment.cli import _print_counts

    counts = {"": 40, " yes ": 77, "no": 323}
    _print_counts({"counts_before": counts, "generated": {"": 1, " yes ": 2, "no": 0},
                   "counts_after": counts, "rows_written": 440})
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line[:7] for line in lines] == ["''     ", "' yes '", "no     "], lines


def test_utility_takes_a_class_of_one_training_row_in_a_large_table():
    """REAL of 15,000 rows with a class of 2 (one of them in real-train): gradient
    boosting's early stopping, on past 10,000 rows, could not split that class off, and
    `evaluate` (and `balance --report`) failed with scikit-learn's traceback."""
    from vae_augment.evaluation import evaluate

    rng = np.random.default_rng(0)
    n = 15000
    y = np.where(rng.random(n) < 0.1, "yes", "no").astype(object)
    y[:2] = "duo"
    real = pa.table({"x": rng.normal(size=n), "y": list(y)})
    report = evaluate(real, real.slice(0, 3000), label="y", sections=["utility"], seed=0)
    assert report["utility"]["train_counts"]["none"]["duo"] == 1
    assert report["utility"]["results"]["gradient_boosting"]["none"]["macro_f1"] is not None


def test_a_pandas_range_index_goes_on_over_the_synthetic_rows(tmp_path):
    """`to_parquet` of a frame with a RangeIndex stores (start, stop, step) in the metadata,
    not a column; `balance` copied it, the output had more rows than the range, and pandas
    fell back to 0..n-1, so the real rows lost their index (an interop audit)."""
    import pandas as pd

    from .conftest import run_cli

    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame({"x": rng.normal(size=n), "y": np.where(rng.random(n) < 0.2, "r", "c")},
                      index=pd.RangeIndex(1000, 1000 + 2 * n, 2))
    df.to_parquet(tmp_path / "in.parquet")
    code, _, err = run_cli(["balance", str(tmp_path / "in.parquet"), str(tmp_path / "o.parquet"),
                            "--label", "y", "--seed", "0", *FAST_ARGS])
    assert code == 0, err
    out = pd.read_parquet(tmp_path / "o.parquet")
    assert len(out) > n and isinstance(out.index, pd.RangeIndex)
    assert out.index.start == 1000 and out.index.step == 2 and len(out.index) == len(out)
    pd.testing.assert_frame_equal(out.iloc[:n].drop(columns="is_synthetic"), df)
    # a schema without a pandas RangeIndex is returned as it is
    from vae_augment.io import with_range_index_rows

    plain = pa.schema([("x", pa.float64())])
    assert with_range_index_rows(plain, 5) is plain


def test_a_text_column_whose_every_value_differs_is_warned_about(capsys):
    """Under --max-categories (200) a unique ID column was modelled silently, and every
    synthetic row carried a real row's ID, most of the minority's a majority row's (a
    small-table audit)."""
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    n = 150
    t = pa.table({"customer_id": [f"C{i:05d}" for i in rng.permutation(n)],
                  "x": rng.normal(size=n), "y": np.where(rng.random(n) < 0.2, "r", "c")})
    with pytest.warns(UserWarning, match=r"column 'customer_id' holds a different value in "
                                         r"each of its 150 rows \(an ID\?\).*exclude it with"):
        fit_encoding(t, "y")
    import warnings

    with warnings.catch_warnings():  # a repeated value, or a short table: no warning
        warnings.simplefilter("error")
        fit_encoding(t.set_column(0, "customer_id", pa.array(["a", "b", "c"] * 50)), "y")
        fit_encoding(t.slice(0, 19), "y")
        fit_encoding(t, "y", exclude=["customer_id"])
