"""Derived columns (`vae_augment.constraints.Derived`): a numeric column that is a linear
function of another in every training row, to the data's rounding, found by
``constraints="auto"``, stored with the encoding, recomputed in every generated row, and
checked by the evaluation report."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import FAST, fit_with_and_without_rules, run_cli

TRAIN = {**FAST, "epochs": 6, "patience": 6, "hidden": (32,)}


def calls_table(n: int = 1500, seed: int = 0) -> pa.Table:
    """churn's shape: ``charge = round(0.17 * minutes, 2)`` (minutes to 0.1; both null in
    the same 5 % of rows), ``units = 3 * count + 1`` (integers), ``near`` = 2 * minutes plus
    noise well beyond its rounding (not derived), ``half`` null where minutes is not (not
    derived: the nulls differ). Classes a / b, b's minutes higher."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.7, "a", "b")
    minutes = np.round(rng.normal(np.where(label == "a", 180, 260), 40, n), 1)
    null = rng.random(n) < 0.05
    count = rng.integers(0, 40, n)
    half = np.round(minutes / 2, 2)
    half_null = rng.random(n) < 0.05
    return pa.table({
        "minutes": pa.array(minutes, mask=null),
        "charge": pa.array(np.round(0.17 * minutes, 2), mask=null),
        "count": pa.array(count, pa.int64()),
        "units": pa.array(3 * count + 1, pa.int64()),
        "near": np.round(2 * minutes + rng.normal(0, 3, n), 1),
        "half": pa.array(half, mask=half_null),
        "label": label,
    })


def off_line(table: pa.Table, target="charge", source="minutes", slope=0.17, intercept=0.0,
             tol=0.0051 + 0.17 * 0.05):
    """Rows of `table` whose `target` is off ``slope * source + intercept`` beyond `tol` (the
    two columns' rounding), and whether the two are null in the same rows."""
    t = table.column(target).to_numpy(zero_copy_only=False).astype(float)
    s = table.column(source).to_numpy(zero_copy_only=False).astype(float)
    both = ~(np.isnan(t) | np.isnan(s))
    same_nulls = bool(np.array_equal(np.isnan(t), np.isnan(s)))
    return int((np.abs(t[both] - (slope * s[both] + intercept)) > tol).sum()), same_nulls


def test_discovery_finds_the_derived_columns_and_only_them():
    from vae_augment.constraints import Derived, RelationStats, column_units, resolve_rules
    from vae_augment.preparation import fit_encoding

    table = calls_table()
    enc = fit_encoding(table, "label")
    relations, derived, links, _ = resolve_rules("auto", table, enc)
    pairs = {(d.target, d.source) for d in derived}
    # one direction of each pair, none of the noisy or differently-null columns
    assert len(derived) == 2
    assert pairs & {("charge", "minutes"), ("minutes", "charge")}
    assert pairs & {("units", "count"), ("count", "units")}
    d = next(d for d in derived if d.target == "units" or d.source == "units")
    if d.target == "units":
        assert d.slope == pytest.approx(3) and d.intercept == pytest.approx(1)
    assert not {"near", "half"} & {c for p in pairs for c in p}
    # none without "auto"; the same from batches merged as from one pass
    assert resolve_rules(["none"], table, enc) == ([], [], [], [])
    assert links == []  # no category here
    names = [s.name for s in enc.numeric]
    parts = [RelationStats(names) for _ in range(3)]
    for k, batch in enumerate(table.to_batches(max_chunksize=200)):
        parts[k % 3].update(batch)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    one = RelationStats(names)
    one.update(table)
    units = column_units(enc)
    assert [str(x) for x in merged.derived(units)] == [str(x) for x in one.derived(units)]
    assert merged.pair_co == pytest.approx(one.pair_co, rel=1e-9, abs=1e-6)
    # a column of a named relation is never a target (its repair would be undone); the
    # relation auto finds between a derived column and its source is dropped
    named, kept, _, _ = resolve_rules(["auto", "charge <= near"], table, enc)
    assert all(d.target not in ("charge", "near") for d in kept)
    assert [str(r) for r in named][-1] == "charge <= near"
    assert not [r for r in relations if {r.left, r.right} & {d.target for d in derived}]
    assert ("units", "count") in pairs  # exact both ways: the earlier column is the source
    # too few rows: no fit is trusted
    small = table.slice(0, 10)
    _, few, _, _ = resolve_rules("auto", small, fit_encoding(small, "label"))
    assert few == []
    assert str(Derived("t", "s", 0.17, -0.5)) == "t = 0.17 * s - 0.5"


def test_derived_columns_travel_with_the_encoding_json():
    from vae_augment.constraints import Derived
    from vae_augment.encoding import Encoding
    from vae_augment.preparation import fit_encoding

    enc = fit_encoding(calls_table(), "label")
    d = Derived("charge", "minutes", 0.17, 0.0)
    back = Encoding.from_json(json.loads(json.dumps(enc.with_relations([], ("auto",), [d])
                                                    .to_json())))
    assert back.derived == [d] and back.constraints == ("auto",)
    assert "derived" not in enc.to_json()  # encodings without any read as they always did
    assert Encoding.from_json(enc.to_json()).derived == []


@pytest.fixture(scope="module")
def calls_models():
    return fit_with_and_without_rules(calls_table(), **TRAIN)


def test_generated_rows_keep_every_derived_column(calls_models, tmp_path):
    """Every generation path recomputes the targets: `sample`, the tf.data stream, and the
    evaluation report shows the plain model's rows off the line and the auto model's on it."""
    from vae_augment.api import sample
    from vae_augment.cli_evaluate import summary_line
    from vae_augment.evaluation import evaluate
    from vae_augment.tfdata import synthetic_dataset

    table, auto, plain = calls_models
    assert len(auto.encoding.derived) == 2 and plain.encoding.derived == []
    synth = sample(auto, {"a": 800, "b": 800}, seed=1)
    d = next(d for d in auto.encoding.derived if "charge" in (d.target, d.source))
    assert off_line(synth) == (0, True) and off_line(table) == (0, True)
    u = synth.column("units").to_numpy() - 3 * synth.column("count").to_numpy()
    assert (u == 1).all()
    raw = sample(plain, {"a": 800, "b": 800}, seed=1)
    off, _ = off_line(raw)
    assert off > 400  # independent heads: most rows off the line
    for batch in synthetic_dataset(auto, "b", batch_size=256, seed=3, n=512,
                                   null_masks=True):
        m = np.asarray(batch["minutes"], float)
        c = np.asarray(batch["charge"], float)
        keep = ~np.isnan(m)
        assert np.array_equal(keep, ~np.isnan(c)) and keep.any()
        assert np.all(np.abs(c[keep] - 0.17 * m[keep]) <= 0.0051 + 0.17 * 0.05 + 1e-9)
    for model, expect_off in ((plain, True), (auto, False)):
        out = sample(model, {"b": 600}, seed=2)
        report = evaluate(table, out, label="label", sections=["fidelity"],
                          report_dir=tmp_path / str(expect_off), progress=False)
        der = {e["target"]: e for e in report["fidelity"]["derived"]}
        assert d.target in der
        assert (der[d.target]["off_rate"] > 0.5) is expect_off
        assert (der[d.target]["off"] == 0) is not expect_off
        assert "Derived columns" in (tmp_path / str(expect_off) / "report.html").read_text()
        line = summary_line(report)  # the CLI's one-line summary names the worst one
        assert ("derived_off" in line) is expect_off
        if expect_off:
            assert line["derived_off_share"] == round(max(e["off_rate"] for e in der.values()), 4)


def test_cli_fit_reports_derived_columns_and_sample_keeps_them(tmp_path, capsys):
    data = tmp_path / "calls.parquet"
    pq.write_table(calls_table(), data)
    args = ["--epochs", "3", "--batch-size", "64", "--latent-dim", "4", "--hidden", "16",
            "--quiet"]
    code, stdout, err = run_cli(["fit", data, "--label", "label", "--model-dir",
                                 tmp_path / "m", *args], capsys)
    assert code == 0, err
    derived = json.loads(stdout)["derived"]
    assert len(derived) == 2 and any("charge" in d for d in derived)
    code, stdout, err = run_cli(["sample", "--model-dir", tmp_path / "m", "--n", "300",
                                 tmp_path / "s.parquet", "--quiet"], capsys)
    assert code == 0, err
    assert off_line(pq.read_table(tmp_path / "s.parquet")) == (0, True)
    code, stdout, err = run_cli(["info", "--model-dir", tmp_path / "m"], capsys)
    assert code == 0 and "derived" in stdout


def test_fit_stats_job_finds_the_derived_columns_fit_would(tmp_path):
    from pipelines.fit_stats import run
    from vae_augment.constraints import resolve_rules
    from vae_augment.preparation import fit_encoding

    table = calls_table(n=2000, seed=5).drop_columns(["half"])
    d = tmp_path / "parts"
    d.mkdir()
    for i in range(4):
        pq.write_table(table.slice(i * 500, 500), d / f"part-{i}.parquet", row_group_size=150)
    out = tmp_path / "encoding.json"
    summary = run(["--input", str(d), "--label", "label", "--output", str(out)])
    one_pass = fit_encoding(str(d), "label")
    relations, derived, _, _ = resolve_rules("auto", str(d), one_pass)
    assert summary["derived"] == [str(x) for x in derived] and len(derived) >= 1
    doc = json.loads(out.read_text())
    expect = one_pass.with_relations(relations, ("auto",), derived).to_json()
    # merged on the runner == one sequential pass (to float rounding)
    assert [r[:2] for r in doc["derived"]] == [r[:2] for r in expect["derived"]]
    assert np.allclose([r[2:] for r in doc["derived"]], [r[2:] for r in expect["derived"]],
                       rtol=1e-9, atol=1e-9)


def test_values_near_the_float_limit_give_no_derived_column_and_no_overflow_warning():
    """|x| ~ 1e200 overflows the pair moments' squares: the discovery skips those pairs
    (`b = 3 a` is not found at that magnitude) and says nothing of numpy's overflow."""
    import warnings

    from vae_augment.constraints import resolve_rules
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    a = rng.normal(size=400) * 1e200
    table = pa.table({"a": a, "b": a * 3.0, "c": rng.normal(size=400),
                      "d": rng.normal(size=400) * 1e200,
                      "label": rng.choice(["p", "q"], size=400)})
    enc = fit_encoding(table, "label")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _, derived, _, _ = resolve_rules("auto", table, enc)
    assert derived == []
    # the same pair at an ordinary magnitude is found (the skip is the magnitude's)
    small = table.set_column(0, "a", pa.array(a / 1e200)).set_column(1, "b", pa.array(a * 3e-200))
    _, derived, _, _ = resolve_rules("auto", small, fit_encoding(small, "label"))
    assert {(d.target, d.source) for d in derived} & {("b", "a"), ("a", "b")}


def test_a_column_a_few_units_off_its_source_is_not_derived():
    """Rounding alone spreads a derived column around its source's line by at most about a
    third of the two units (`DERIVED_SD_SHARE`); a signup age 0, 1 or 2 years under the age
    is real spread, which recomputing it from the age would erase (session 30's audit).
    Twice an unrounded value, each rounded to integers (the widest rounding spread), stays
    derived."""
    from vae_augment.constraints import resolve_rules
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    n = 2000
    label = np.where(rng.random(n) < 0.7, "a", "b")
    age = rng.integers(18, 90, n)
    exact = rng.uniform(0, 500, n)
    table = pa.table({
        "age": pa.array(age, pa.int64()),
        "age_at_signup": pa.array(age - rng.choice([0, 1, 2], n, p=[0.5, 0.3, 0.2]),
                                  pa.int64()),
        "x": pa.array(np.round(exact), pa.int64()),
        "double_x": pa.array(np.round(2 * exact), pa.int64()),
        "label": label,
    })
    _, derived, _, _ = resolve_rules("auto", table, fit_encoding(table, "label"))
    pairs = {frozenset((d.target, d.source)) for d in derived}
    assert frozenset(("age", "age_at_signup")) not in pairs
    assert frozenset(("x", "double_x")) in pairs


def test_a_chain_of_exact_columns_is_derived_from_the_column_that_keeps_every_grid():
    """``a = b + 1`` and ``b = 2 c`` (integers): the schema's first column, a, was the source
    of both, and ``c = (a - 1) / 2`` is half a unit off for even a, so rounding it broke
    ``b = 2 c`` in generated rows (session 30's audit). c gives both on their grids."""
    from vae_augment.constraints import resolve_rules
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    n = 600
    c = rng.integers(0, 50, n)
    table = pa.table({"a": pa.array(2 * c + 1, pa.int64()), "b": pa.array(2 * c, pa.int64()),
                      "c": pa.array(c, pa.int64()),
                      "label": rng.choice(["p", "q"], size=n)})
    _, derived, _, _ = resolve_rules("auto", table, fit_encoding(table, "label"))
    assert sorted((d.target, d.source) for d in derived) == [("a", "c"), ("b", "c")]
    # every value the model could draw for c gives a and b on their lines, as integers
    for d in derived:
        values = d.values(np.arange(-5, 60))
        np.testing.assert_allclose(values, np.round(values), rtol=0, atol=1e-9)


def test_a_derived_value_rounded_to_zero_is_written_as_zero_not_minus_zero():
    """Churn's intl minutes, derived as 3.704 * charge - 0.0027, came out -0.0 for a charge
    of 0 in 30 of 6,000 rows; the data holds 0.0 (session 49's audit)."""
    import types

    import tensorflow as tf

    from vae_augment.encoding import Encoding

    spec = types.SimpleNamespace(unit=None, is_int=False, decimals=1)
    got = Encoding._on_grid(spec, tf.constant([-0.0027, 0.04, -0.06, 3.2], tf.float64)).numpy()
    assert got.tolist() == [0.0, 0.0, -0.1, 3.2]
    assert not np.signbit(got[:2]).any()


def test_a_derived_formula_reads_as_written():
    """`fit` and `info` showed "x = 3 * a b - 5.55112e-17": the column `a b` read as a times
    b, and an intercept that is float noise for a line through 0."""
    from vae_augment.constraints import Derived

    assert str(Derived("x", "a b", 3.0, -5.55e-17)) == "x = 3 * 'a b' + 0"
    assert str(Derived("total_charge", "minutes", 0.17, 0.00066)) == (
        "total_charge = 0.17 * minutes + 0.00066")
    assert str(Derived("y", "x", 2.0, -1.5)) == "y = 2 * x - 1.5"


def test_a_pair_is_derived_in_the_direction_its_rounding_shows():
    """Churn's international charge (0.27 a minute, to the cent) was the source of its
    minutes (to 0.1): a charge no minutes give (2.71) took the minutes nearest it, and
    11 % of synthetic rows held a pair no real row could (session 50). The residual shows
    which column was rounded last: the charge (its residual is a cent's rounding). Each
    pair is taken in the direction its rows were made, whichever that is, and every value
    of the source's grid then gives a pair the real rule gives."""
    from vae_augment.constraints import _direction_rank, resolve_rules
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    n = 3000
    intl = np.round(rng.gamma(9.0, 1.1, n), 1)          # minutes -> charge, 0.027 a tenth
    eve = np.round(rng.normal(200, 50, n), 1)           # minutes -> charge, 0.0085 a tenth
    cents = np.round(rng.uniform(1, 6, n), 2)           # charge -> minutes: made the other way
    table = pa.table({
        "intl_minutes": intl, "intl_charge": np.round(0.27 * intl, 2),
        "eve_minutes": eve, "eve_charge": np.round(0.085 * eve, 2),
        "rev_minutes": np.round(cents / 0.27, 1), "rev_charge": cents,
        "label": rng.choice(["p", "q"], size=n)})
    _, derived, _, _ = resolve_rules("auto", table, fit_encoding(table, "label"))
    assert sorted((d.target, d.source) for d in derived) == [
        ("eve_charge", "eve_minutes"), ("intl_charge", "intl_minutes"),
        ("rev_minutes", "rev_charge")]
    made = {"intl_charge": lambda m: 0.27 * m, "eve_charge": lambda m: 0.085 * m,
            "rev_minutes": lambda c: c / 0.27}
    for d in derived:  # every source value of the grid (as generation rounds them) but the
        # half-unit ties, which the fitted line's tilt rounds either way
        unit = 0.1 if d.source.endswith("minutes") else 0.01
        grid = np.round(np.arange(round(1 / unit), round(30 / unit)) * unit, 2)
        scale = 100 if d.target.endswith("charge") else 10
        exact = made[d.target](grid) * scale
        tie = np.abs(exact - np.floor(exact) - 0.5) < 1e-6
        assert tie.mean() < 0.2
        np.testing.assert_allclose(np.round(d.values(grid[~tie]) * scale),
                                   np.round(exact[~tie]), atol=1e-9)
    # the rule alone: a residual of the target's rounding, of the source's through the line,
    # or neither told apart (then the way whose source steps move the target a unit or more)
    assert _direction_rank(0.01 / np.sqrt(12), 0.27, 0.1, 0.01) == 0
    assert _direction_rank(0.01 / np.sqrt(12), 3.704, 0.01, 0.1) == 3
    assert _direction_rank(0.0, 3.0, 1.0, 1.0) == 1 and _direction_rank(0.0, 1 / 3, 1.0, 1.0) == 2
    assert _direction_rank(0.01, 2.0, 0.0, 0.1) == 1
