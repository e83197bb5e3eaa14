"""Time, date, duration, time-of-day and decimal columns are modelled as the numbers they hold
(a count of units; a float) and written back in their own types. They were refused ("a cast
to int64 models it"), so a table with a timestamp had to be cast, and its output no longer
kept the input's schema."""

import datetime
import decimal
import glob
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from .conftest import FAST, FAST_ARGS, run_cli

HOUR_MS = 3_600_000


def _table(n: int = 400, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.2, "rare", "common")
    start = [datetime.datetime(2024, 1, 1) + datetime.timedelta(hours=int(h))
             for h in rng.integers(0, 10_000, n)]
    return pa.table({
        "ts": pa.array([None if i % 17 == 0 else s for i, s in enumerate(start)],
                       pa.timestamp("ms", tz="UTC")),
        "end": pa.array([s + datetime.timedelta(days=int(d))
                         for s, d in zip(start, rng.integers(1, 30, n))], pa.timestamp("us")),
        "price": pa.array([decimal.Decimal(f"{v:.2f}") for v in rng.normal(100, 10, n)],
                          pa.decimal128(10, 2)),
        "day": pa.array([datetime.date(2024, 1, 1) + datetime.timedelta(days=int(d))
                         for d in rng.integers(0, 300, n)], pa.date32()),
        "wait": pa.array([datetime.timedelta(minutes=int(m)) for m in rng.integers(0, 500, n)],
                         pa.duration("s")),
        "at": pa.array([datetime.time(int(h), 30) for h in rng.integers(0, 24, n)],
                       pa.time64("us")),
        "x": rng.normal(size=n) + (y == "rare"),
        "y": y,
    })


@pytest.fixture(scope="module")
def balanced(tmp_path_factory):
    """(input table, its path, the `balance` output, the model dir) of one CLI run."""
    tmp = tmp_path_factory.mktemp("temporal")
    table = _table()
    src, out = tmp / "in.parquet", tmp / "out.parquet"
    pq.write_table(table, src)
    code, _, err = run_cli(["balance", str(src), str(out), "--label", "y", "--model-dir",
                            str(tmp / "m"), "--seed", "0", *FAST_ARGS])
    assert code == 0, err
    return table, src, pq.read_table(out), tmp / "m"


def test_balance_keeps_the_types_and_the_units(balanced):
    table, _, out, _ = balanced
    assert out.schema.equals(table.schema.append(pa.field("is_synthetic", pa.bool_(), False)))
    synthetic = out.filter(out.column("is_synthetic"))
    real = out.filter(pc.invert(out.column("is_synthetic"))).drop_columns(["is_synthetic"])
    assert real.equals(table)
    assert synthetic.num_rows == 2 * int(np.sum(np.asarray(table["y"]) == "common")) - table.num_rows
    from vae_augment.schema import as_numbers

    for name in ("ts", "end", "price", "day", "wait", "at"):
        got = as_numbers(synthetic.column(name))
        assert got.null_count < len(got), name
        lo, hi = pc.min_max(as_numbers(table.column(name))).values()
        assert pc.all(pc.and_(pc.greater_equal(got, lo), pc.less_equal(got, hi))).as_py(), name
    # on the grid the real values share: the hour, the whole minute, the half hour, the cent
    ts = synthetic.column("ts").drop_null().cast(pa.int64()).to_numpy()
    assert (ts % HOUR_MS == 0).all()
    assert (synthetic.column("end").cast(pa.int64()).to_numpy() % (HOUR_MS * 1000) == 0).all()
    assert (as_numbers(synthetic.column("wait")).to_numpy() % 60 == 0).all()
    at = synthetic.column("at").cast(pa.int64()).to_numpy()
    assert (at % 1_800_000_000 == 0).all() and (at % 3_600_000_000 != 0).any()
    assert len(np.unique(ts)) > 10  # drawn, not one value


def test_the_encoding_counts_units_and_merged_statistics_agree():
    from vae_augment.preparation import fit_encoding
    from vae_augment.schema import SchemaStats
    from vae_augment.stats_merge import encoding_from_stats, merge_stats

    table = _table()
    spec = {s.name: s for s in fit_encoding(table, "y").specs}
    assert (spec["ts"].kind, spec["ts"].is_int, spec["ts"].unit) == ("numeric", True, HOUR_MS)
    assert spec["day"].unit is None and spec["wait"].unit == 60
    assert (spec["price"].is_int, spec["price"].decimals, spec["price"].unit) == (False, 2, None)
    # one part on the hour, the other on the half hour: the merged grid is the half hour
    half = table.slice(200).set_column(
        0, "ts", pc.add(table.slice(200).column("ts"), pa.scalar(1_800_000, pa.duration("ms"))))
    parts = []
    for part in (table.slice(0, 200), half):
        stats = SchemaStats(part.schema, "y")
        stats.update(part)
        parts.append(stats)
    merged = encoding_from_stats(merge_stats(*parts))
    whole = SchemaStats(table.schema, "y")
    whole.update(pa.concat_tables([table.slice(0, 200), half]))
    grid = {s.name: (s.unit, s.unit_offset) for s in merged.specs}
    assert grid == {s.name: (s.unit, s.unit_offset) for s in encoding_from_stats(whole).specs}
    assert grid["ts"] == (1_800_000, 0)


def test_a_grid_off_the_epochs_is_kept():
    """Every value on the local hour in Kolkata (UTC+5:30), every date a Monday: the grid
    was the greatest common divisor of the counts themselves, so its origin was 1970-01-01
    00:00 UTC: half-hours and every weekday came out (an audit's runs: 44 of 262 rows at
    :30, 16 % of the dates another weekday)."""
    from vae_augment.api import fit, sample

    rng = np.random.default_rng(2)
    n = 400
    local_hours = 1_704_047_400_000 + HOUR_MS * rng.integers(0, 5_000, n)  # 00:00 IST
    mondays = 19_723 + 7 * rng.integers(0, 50, n)  # 2024-01-01 was a Monday
    table = pa.table({"at": pa.array(local_hours, pa.timestamp("ms", tz="Asia/Kolkata")),
                      "day": pa.array(mondays.astype(np.int32)).cast(pa.date32()),
                      "x": rng.normal(size=n), "y": np.where(rng.random(n) < 0.2, "r", "c")})
    art = fit(table, label="y", seed=0, **FAST)
    spec = {s.name: s for s in art.encoding.specs}
    assert (spec["at"].unit, spec["at"].unit_offset) == (HOUR_MS, HOUR_MS // 2)
    assert (spec["day"].unit, spec["day"].unit_offset) == (7, 19_723 % 7)
    out = sample(art, {"r": 300, "c": 100}, seed=1)
    at = out.column("at").drop_null().cast(pa.int64()).to_numpy()
    assert len(np.unique(at)) > 10 and (at % HOUR_MS == HOUR_MS // 2).all()
    assert {d.weekday() for d in out.column("day").drop_null().to_pylist()} == {0}


def test_a_relation_between_two_time_columns_of_one_type_is_kept():
    from vae_augment.api import fit, sample

    rng = np.random.default_rng(1)
    n = 400
    start = 1_704_067_200 + rng.integers(0, 10**7, n)
    table = pa.table({
        "start": pa.array(start, pa.timestamp("s")),
        "end": pa.array(start + rng.integers(0, 10**5, n), pa.timestamp("s")),
        "y": np.where(rng.random(n) < 0.2, "r", "c")})
    art = fit(table, label="y", seed=0, **FAST)
    assert [str(r) for r in art.encoding.relations] == ["start <= end"]
    out = sample(art, {"r": 300}, seed=1)
    assert out.schema.field("end").type == pa.timestamp("s")
    assert pc.all(pc.less_equal(out.column("start"), out.column("end"))).as_py()


def test_evaluate_reports_on_time_and_decimal_columns(balanced, tmp_path, capsys):
    _, src, _, model = balanced
    out = tmp_path / "out.parquet"
    code, _, err = run_cli(["sample", str(out), "--model-dir", str(model), "--n", "60",
                            "--seed", "3"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["evaluate", str(src), str(out), "--label", "y", "--report",
                            str(tmp_path / "rep"), "--sections", "fidelity,detection"], capsys)
    assert code == 0, err
    import json

    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    scored = json.dumps(report["fidelity"])
    for name in ("ts", "end", "price", "day", "wait", "at"):
        assert f'"{name}"' in scored, name


def test_wrong_time_types_and_categories_are_errors(balanced, tmp_path, capsys):
    table, src, _, model = balanced
    code, _, err = run_cli(["fit", str(src), "--label", "y", "--model-dir",
                            str(tmp_path / "m"), "--categorical", "day", *FAST_ARGS], capsys)
    assert code == 2 and ("--categorical day names column 'day' of type date32[day], which is "
                          "modelled as a number") in err, err
    other = table.set_column(1, "end", table.column("end").cast(pa.timestamp("ms")))
    pq.write_table(other, tmp_path / "ms.parquet")
    code, _, err = run_cli(["balance", str(tmp_path / "ms.parquet"), str(tmp_path / "o.parquet"),
                            "--label", "y", "--model-dir", str(model)], capsys)
    assert code == 2 and "end" in err and "timestamp[us]" in err, err
    assert not (tmp_path / "o.parquet").exists()
    from vae_augment.artifact import load_artifact
    from vae_augment.errors import SchemaError

    enc = load_artifact(str(model)).encoding
    with pytest.raises(SchemaError, match=r"column 'end' has type timestamp\[ms\]; the model was "
                                          r"trained on timestamp\[us\]"):
        enc.encode(other)
    from vae_augment.preparation import fit_encoding

    assert fit_encoding(table, "y", numeric=["ts", "price"]).specs[0].unit == HOUR_MS  # no-op
    wide = pa.table({"p": pa.array([decimal.Decimal(f"12345678901234567890.{i:05d}")
                                    for i in range(40)], pa.decimal256(40, 5)),
                     "y": ["a", "b"] * 20})
    with pytest.warns(UserWarning, match=r"column 'p' is decimal256\(40, 5\): modelled as "
                                         r"float64, which keeps 15-16 significant digits"):
        fit_encoding(wide, "y")
    as_ints = table.set_column(1, "end", table.column("end").cast(pa.int64()))
    with pytest.raises(SchemaError, match=r"column 'end' has type int64; the model was trained "
                                          r"on timestamp\[us\]"):
        enc.encode(as_ints)


def test_tf_data_reads_and_generates_counts_of_units(balanced):
    from vae_augment import load_artifact, tfdata

    _, src, _, model = balanced
    ds = tfdata.read_parquet(str(src), 64, null_masks=["ts"])
    spec = ds.element_spec
    assert [spec[n].dtype.name for n in ("ts", "end", "price", "day", "wait", "at")] == [
        "int64", "int64", "float64", "int32", "int64", "int64"]
    first = next(iter(ds))
    want = pq.read_table(src).slice(0, 64)
    assert first["ts__is_null"].numpy().tolist() == want.column("ts").is_null().to_pylist()
    np.testing.assert_array_equal(first["day"].numpy(), want.column("day").cast(pa.int32()))
    np.testing.assert_allclose(first["price"].numpy(),
                               want.column("price").cast(pa.float64()).to_numpy())
    art = load_artifact(str(model))
    gen = next(iter(tfdata.synthetic_dataset(art, "rare", batch_size=50, seed=0, n=50,
                                             null_masks=["ts"])))
    ts = gen["ts"].numpy()[~gen["ts__is_null"].numpy()]
    assert gen["ts"].dtype.name == "int64" and len(ts) and (ts % HOUR_MS == 0).all()


def test_beam_balance_and_the_oversampler_keep_the_types(balanced, tmp_path):
    from pipelines import balance
    from vae_augment import VAEOverSampler

    table, src, _, model = balanced
    out = tmp_path / "beam"
    balance.run(["--input", str(src), "--output", str(out), "--model-dir", str(model),
                 "--label", "y", "--seed", "0", "--runner", "FnApiRunner"])
    synthetic = pq.read_table(glob.glob(str(out / "synthetic*.parquet"))[0])
    assert synthetic.schema.equals(table.schema.append(pa.field("is_synthetic", pa.bool_(), False)))
    assert (synthetic.column("ts").drop_null().cast(pa.int64()).to_numpy() % HOUR_MS == 0).all()

    frame = table.to_pandas()
    X, y = frame.drop(columns="y"), frame["y"]
    Xr, yr = VAEOverSampler(random_state=0, **FAST).fit_resample(X, y)
    assert Xr.dtypes.to_dict() == X.dtypes.to_dict()
    assert yr.value_counts()["rare"] == yr.value_counts()["common"]
    assert str(Xr["ts"].dt.tz) == "UTC" and (Xr["ts"].dropna().dt.minute == 0).all()


def test_the_report_labels_a_time_columns_axis_with_times():
    """The marginal plots' axis of a time column read 1.7e12 (milliseconds since 1970)."""
    from vae_augment.report_plots import time_label

    assert time_label(1_714_564_800_000, pa.timestamp("ms", tz="UTC")) == "2024-05-01 12:00"
    assert time_label(19_844, pa.date32()) == "2024-05-01"
    assert time_label(45_000_000_000, pa.time64("us")) == "12:30"
    assert time_label(93_780, pa.duration("s")) == "1 day, 2:03:00"
    assert time_label(1e30, pa.timestamp("ms")) == ""  # a tick off the type's range


def test_string_view_columns_are_modelled_as_the_large_strings_they_are_read_as():
    """string_view (Polars' strings) was refused, with the cast to make; a column or a label
    of views is now modelled as large_string, and recorded so that outputs are written as
    views (every interface: tests/test_input_layouts.py)."""
    from vae_augment.io import without_views
    from vae_augment.preparation import fit_encoding

    t = pa.table({"s": pa.array(["a", "b"] * 20).cast(pa.string_view()),
                  "y": ["c", "d"] * 20})
    enc, large = fit_encoding(t, "y"), fit_encoding(without_views(t), "y")
    assert enc.input_lists == {"s": pa.string_view()} and not large.input_lists
    assert {k: v for k, v in enc.to_json().items() if k != "input_lists"} == large.to_json()
    assert enc.specs[0].kind == "categorical" and enc.specs[0].vocab == ["a", "b"]
    labelled = fit_encoding(t.select(["y"]).append_column("z", t.column("s")), "z")
    assert labelled.classes == ["a", "b"] and labelled.input_lists == {"z": pa.string_view()}


def test_time_columns_of_different_units_are_not_related():
    """A timestamp in milliseconds against one in microseconds compared counts of different
    units: named, `start <= end` held in every row whatever the times were; found by
    ``auto``, two such columns whose counts happened to overlap made a relation."""
    from vae_augment.constraints import constraint_spec, discover_relations
    from vae_augment.errors import SchemaError
    from vae_augment.preparation import fit_encoding

    table = _table()
    enc = fit_encoding(table, "y")
    with pytest.raises(SchemaError, match=r"^constraint 'ts <= end' compares timestamp\[ms, "
                                          r"tz=UTC\] with timestamp\[us\], which count different "
                                          r"units; cast one column"):
        constraint_spec(["ts <= end"], enc)
    # a time against a plain number: the repair set every row's `wait` to its least value
    # and `x` to 1.7e12 (an audit's run), far outside x's range
    with pytest.raises(SchemaError, match=r"^constraint 'wait <= x' compares duration\[s\] "
                                          r"with double: a time column keeps a relation only"):
        constraint_spec(["wait <= x"], enc)
    rng = np.random.default_rng(0)
    wait = rng.integers(0, 3_600, 400)
    pair = pa.table({"wait": pa.array(wait, pa.duration("s")),
                     "at": pa.array(wait + rng.integers(0, 3_600, 400), pa.int32()).cast(
                         pa.time32("s")),
                     "n": pa.array(wait + rng.integers(0, 3_600, 400)),
                     "later": pa.array(wait + rng.integers(0, 3_600, 400), pa.duration("s")),
                     "y": table.column("y")})
    found = [str(r) for r in discover_relations(pair, fit_encoding(pair, "y"))]
    assert found == ["wait <= later"]  # of one unit; seconds of a day, and a plain number, not


def test_a_time_column_is_derived_only_from_a_time_column_of_its_unit():
    """A timestamp on a 31-minute grid that was an exact line of an int64 (an audit's DuckDB
    table) was a derived column: recomputed from the number, then put on its grid, which
    left every other synthetic row up to 15 minutes off the line (evaluate: off share 0.5).
    The same rule as for relations now holds; a time column's grid is its rounding unit."""
    from vae_augment.constraints import column_units, constraint_spec, relation_stats
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    k = rng.integers(0, 5_000, 400)
    start = 1_704_067_200_000 + 1_860_000 * k  # ms on a 31-minute grid
    table = pa.table({"k": k, "at": pa.array(start, pa.timestamp("ms")),
                      "end": pa.array(start + 3_600_000, pa.timestamp("ms")),
                      "y": np.where(rng.random(400) < 0.2, "r", "c")})
    enc = fit_encoding(table, "y")
    assert column_units(enc) == {"k": 1.0, "at": 1_860_000.0, "end": 1_860_000.0}
    spec = constraint_spec("auto", enc)
    rules = spec.rules(relation_stats(table, enc, ["k", "at", "end"]), enc)
    assert [str(d) for d in rules.derived] == ["end = 1 * at + 3.6e+06"]


def test_evaluate_casts_a_time_column_only_when_every_time_comes_back():
    """evaluate casts SYNTHETIC's column of another type to REAL's when no value changes.
    Arrow's safe cast let a timestamp lose its time of day as a date32 and read an int64 as
    milliseconds; both are now mismatches, while lossless casts (a date as a timestamp,
    microseconds on whole milliseconds, text that parses) still go through."""
    from vae_augment.errors import SchemaError
    from vae_augment.evaluation import _check_schemas

    noon = datetime.datetime(2024, 1, 1, 12, 30)
    day = pa.table({"t": pa.array([datetime.date(2024, 1, 1), None])})
    stamp = pa.table({"t": pa.array([noon, None], pa.timestamp("ms"))})
    count = pa.table({"t": pa.array([5, None], pa.int64())})
    for real, other in [(day, stamp), (day, count), (stamp, count), (count, stamp),
                        (stamp, pa.table({"t": pa.array([noon.replace(microsecond=7), None],
                                                        pa.timestamp("us"))}))]:
        with pytest.raises(SchemaError, match=rf"column 't' is {re.escape(str(real.schema[0].type))} in REAL "
                                              rf"but .* in SYNTHETIC, which does not convert"):
            _check_schemas(real, other, "SYNTHETIC")
    midnight = pa.table({"t": pa.array([datetime.datetime(2024, 1, 1), None],
                                       pa.timestamp("us"))})
    assert _check_schemas(day, midnight, "SYNTHETIC").equals(day)
    assert _check_schemas(stamp, stamp.cast(pa.schema([("t", pa.timestamp("us"))])),
                          "SYNTHETIC").equals(stamp)
    assert _check_schemas(stamp, pa.table({"t": ["2024-01-01 12:30:00", None]}),
                          "SYNTHETIC").equals(stamp)
