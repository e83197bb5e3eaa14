"""Exact figures of `vae_augment.encoding` on encodings built by hand (session 59, written for
the survivors of its mutation run): the quantile-normal map and its extrapolation, the
decoder's inverse map, the tie table, spike detection, the integer casts. Every expected
value is worked out here (by hand, or with SciPy's normal quantile and NumPy's `interp`),
not read off the module's output. No model is trained."""

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import norm

from vae_augment import encoding as E
from vae_augment.encoding import PROBIT_EPS, Encoding
from vae_augment.schema import QUANTILE_KNOTS, FeatureSpec


def _z(u):
    """The normal score of a grid position share `u` in [0, 1], as the map squeezes it."""
    return norm.ppf(PROBIT_EPS + (1 - 2 * PROBIT_EPS) * np.asarray(u, np.float64))


def _encoding(specs, types, classes=("a", "b"), counts=None, **kw):
    schema = pa.schema([pa.field(s.name, t) for s, t in zip(specs, types)]
                       + [pa.field("label", pa.string())])
    return Encoding(specs, "label", list(classes), counts or {c: 10 for c in classes}, schema,
                    **kw)


def _table(enc, columns, n):
    return pa.table({**columns, "label": pa.array(["a"] * n)}, schema=enc.schema)


# knots of 6 grid positions (0, 0.2, ..., 1): the value 1 fills positions 0.2 to 0.6
TIED = [0.0, 1.0, 1.0, 1.0, 2.0, 4.0]


def test_the_quantile_normal_map_takes_a_tie_to_its_midpoint_and_interpolates_between():
    enc = _encoding([FeatureSpec("x", "numeric", knots=TIED)], [pa.float64()])
    x = [-1.0, 0.0, 1.0, 1.5, 3.0, 4.0, 5.0, 0.5]
    # positions: clipped below, 0, the tie's midpoint (0.2 + 0.6) / 2, from the tie's last
    # position 0.6 to 2's 0.8, from 0.8 to 1, 1, clipped above, from 0 to the tie's first 0.2
    u = [0.0, 0.0, 0.4, 0.7, 0.9, 1.0, 1.0, 0.1]
    out = enc.encode(_table(enc, {"x": pa.array(x)}, len(x)), float_dtype=np.float64)
    np.testing.assert_allclose(out["num"][:, 0], _z(u), rtol=0, atol=1e-12)


def test_extrapolation_goes_on_at_the_slope_of_the_outer_knots_up_to_the_cap():
    # 39 knots: the outer 5 % is one grid step at each end ((39 - 1) // 20 = 1); squares, so
    # each step's slope differs
    knots = (np.arange(39.0) ** 2).tolist()
    # 5 knots: (5 - 1) // 20 is 0, but the step is at least one knot
    few = [0.0, 10.0, 20.0, 30.0, 40.0]
    enc = _encoding([FeatureSpec("x", "numeric", knots=knots),
                     FeatureSpec("w", "numeric", knots=few)], [pa.float64(), pa.float64()])
    x = np.array([-10.0, 0.0, 100.0, 1444.0, 1500.0, 1e12])
    w = np.array([-5.0, 0.0, 15.0, 40.0, 60.0, -1e12])
    out = enc.encode(_table(enc, {"x": pa.array(x), "w": pa.array(w)}, 6),
                     float_dtype=np.float64, extrapolate=True)
    z0, z1, z37, z38 = _z([0.0, 1 / 38, 37 / 38, 1.0])
    low_slope = (z1 - z0) / (1.0 - 0.0)  # normal units per unit of x, first step
    high_slope = (z38 - z37) / (1444.0 - 1369.0)  # last step
    want_x = [z0 - 10.0 * low_slope, z0, _z(10 / 38), z38, z38 + 56.0 * high_slope, 1e4]
    np.testing.assert_allclose(out["num"][:, 0], want_x, rtol=1e-12, atol=1e-12)
    w0, w1, w3, w4 = _z([0.0, 0.25, 0.75, 1.0])
    want_w = [w0 - 5.0 * (w1 - w0) / 10.0, w0, _z(0.375), w4, w4 + 20.0 * (w4 - w3) / 10.0,
              -1e4]
    np.testing.assert_allclose(out["num"][:, 1], want_w, rtol=1e-12, atol=1e-12)
    # without `extrapolate`, values past the ends are the ends
    plain = enc.encode(_table(enc, {"x": pa.array(x), "w": pa.array(w)}, 6),
                       float_dtype=np.float64)
    np.testing.assert_allclose(plain["num"][:, 0], [z0, z0, _z(10 / 38), z38, z38, z38],
                               rtol=0, atol=1e-12)


def test_a_constant_columns_extrapolation_is_one_rounding_unit_per_normal_sd():
    specs = [FeatureSpec("i", "numeric", is_int=True, knots=[5.0] * 4),
             FeatureSpec("d", "numeric", decimals=2, knots=[5.0] * 4),
             FeatureSpec("f", "numeric", knots=[-200.0] * 4),
             FeatureSpec("s", "numeric", knots=[0.5] * 4)]
    enc = _encoding(specs, [pa.float64()] * 4)
    cols = {"i": pa.array([5.0, 7.0, 2.0, 5.0 + 2e4]),
            "d": pa.array([5.0, 5.03, 4.99, 5.0]),
            "f": pa.array([-200.0, -200.0 - 4e-4, -199.9998, -200.0]),
            "s": pa.array([0.5, 0.5 + 3e-6, 0.5 - 1e-6, 0.5])}
    out = enc.encode(_table(enc, cols, 4), float_dtype=np.float64, extrapolate=True)
    # the constant's own z is the grid's middle: 0; units 1, 0.01, 1e-6 * 200, 1e-6 * 1
    np.testing.assert_allclose(out["num"], [[0, 0, 0, 0], [2, 3, -2, 3], [-3, -1, 1, -1],
                                            [1e4, 0, 0, 0]], rtol=0, atol=1e-6)
    # not extrapolated: every value is the constant's z
    plain = enc.encode(_table(enc, cols, 4), float_dtype=np.float64)
    np.testing.assert_allclose(plain["num"], np.zeros((4, 4)), rtol=0, atol=1e-12)


def test_decoding_is_the_inverse_map_clipped_and_rounded_as_the_column_was_seen():
    specs = [FeatureSpec("x", "numeric", knots=TIED),
             FeatureSpec("i", "numeric", is_int=True, knots=[0.0, 10.0, 20.0, 30.0, 40.0, 50.0]),
             FeatureSpec("d", "numeric", decimals=1, knots=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])]
    enc = _encoding(specs, [pa.float64(), pa.int64(), pa.float64()])
    u = np.array([0.0, 0.1, 0.5, 0.66, 0.94, 1.0, 0.013, 0.36])
    z = np.concatenate([_z(u), [-40.0, 40.0]])  # far past the ends: the ends
    pos = np.concatenate([u, [0.0, 1.0]]) * 5  # positions on the 6-knot grid
    import tensorflow as tf

    gen = {"num": tf.constant(np.repeat(z[:, None], 3, axis=1), tf.float32)}
    out = enc.decode_tf(gen)
    grid = np.arange(6.0)
    tol = 1e-4  # the float32 z
    np.testing.assert_allclose(out["x"][0].numpy(), np.interp(pos, grid, TIED), atol=tol)
    assert out["x"][1] is None
    np.testing.assert_array_equal(out["i"][0].numpy(),
                                  np.round(np.interp(pos, grid, np.arange(6.0) * 10)))
    np.testing.assert_allclose(out["d"][0].numpy(), np.round(pos, 1), atol=1e-12)


def test_the_tie_table_holds_each_tied_values_half_width_at_twice_its_midpoint():
    k = QUANTILE_KNOTS  # 1025: positions 0 .. 1024
    knots = np.empty(k)
    knots[:257] = 0.0  # positions 0 .. 256
    knots[257:500] = np.linspace(0.1, 4.9, 243)
    knots[500:601] = 5.0  # positions 500 .. 600
    knots[601:] = np.linspace(5.1, 9.0, k - 601)
    flat = np.linspace(0.0, 1.0, k)
    enc = _encoding([FeatureSpec("t", "numeric", knots=knots.tolist()),
                     FeatureSpec("u", "numeric", knots=flat.tolist()),
                     FeatureSpec("short", "numeric", knots=[0.0, 0.0, 1.0])],
                    [pa.float64()] * 3)
    table = enc.tie_halfwidths()
    want = np.zeros((3, 2 * k - 1), np.float32)
    want[0, 0 + 256] = 256 / 2 / 1024
    want[0, 500 + 600] = 100 / 2 / 1024
    np.testing.assert_array_equal(table, want)
    assert _encoding([FeatureSpec("u", "numeric", knots=flat.tolist())],
                     [pa.float64()]).tie_halfwidths() is None


@pytest.mark.parametrize("run, share, spike", [
    (256, 0.25, 0.0),  # exactly the share: a spike
    (255, 0.25, None),  # one interval short
    (1023, 0.5, 0.0),  # all but one interval
    (1024, 0.5, None),  # the whole grid: a constant, no spike
])
def test_a_spike_fills_at_least_its_share_of_the_grid_but_not_all_of_it(run, share, spike):
    k = QUANTILE_KNOTS
    knots = np.concatenate([np.zeros(run + 1), np.linspace(1.0, 2.0, k - run - 1)])
    assert E._largest_spike(knots, share) == spike
    enc = _encoding([FeatureSpec("x", "numeric", knots=knots.tolist())], [pa.float64()])
    got = enc.with_spikes(share)
    assert [s.spike for s in got.numeric] == [spike]
    assert (got is enc) == (spike is None)
    # the ends of the share's range: 0 is no indicator, 1 only a grid of one value
    assert enc.with_spikes(0.0) is enc and enc.with_spikes(1.0) is enc
    assert [s.spike for s in got.with_spikes(0.0).numeric] == [None]
    with pytest.raises(ValueError, match="share"):
        enc.with_spikes(1.0 + 1e-9)


def test_a_spike_is_the_longest_run_and_its_run_is_collapsed_to_one_knot():
    knots = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 4.0])
    assert E._largest_spike(knots, 0.1) == 3.0
    assert E._largest_spike(knots[:2], 0.0) is None  # under 3 knots: none
    assert E._largest_spike(np.array([0.0, 1.0, 2.0]), 0.0) is None  # no run at all
    assert E._largest_spike(np.array([0.0, 0.0, 1.0]), 0.5) == 0.0  # 3 knots are enough
    np.testing.assert_array_equal(E._collapse_spike(knots, 3.0), [0, 1, 1, 2, 3, 4])
    np.testing.assert_array_equal(E._collapse_spike(knots, 1.0), [0, 1, 2, 3, 3, 3, 4])
    np.testing.assert_array_equal(E._collapse_spike(knots, 0.0), knots)  # one knot: as is
    assert E._collapse_spike(knots, None) is knots


def test_integer_casts_stay_in_the_types_range():
    assert E.castable_int_bounds(np.int64) == (-2.0 ** 63, 2.0 ** 63 - 1024)
    assert E.castable_int_bounds(np.uint64) == (0.0, 2.0 ** 64 - 2048)
    assert E.castable_int_bounds(np.int8) == (-128.0, 127.0)
    np.testing.assert_array_equal(E._to_int(np.array([1e30, -1e30, 2.5, -3.6]), np.int64),
                                  [2 ** 63 - 1024, -2 ** 63, 2, -4])
    np.testing.assert_array_equal(E._to_int(np.array([300.0, -5.0, 7.4]), np.uint8), [255, 0, 7])
    wide = pa.array([-300, 5, 300, None], pa.int64())
    assert E._clipped_to(wide, pa.int8()).to_pylist() == [-128, 5, 127, None]
    narrow = pa.array([-128, 127], pa.int8())
    assert E._clipped_to(narrow, pa.int64()) is narrow  # to a wider type: as it is
    assert E._clipped_to(pa.array([0, 200], pa.uint8()), pa.int8()).to_pylist() == [0, 127]
    assert E._clipped_to(pa.array([-1, 70000], pa.int32()),
                         pa.uint16()).to_pylist() == [0, 65535]


def test_the_chain_depth_is_the_longest_chain_of_relations():
    assert E._chain_depth([]) == 1
    assert E._chain_depth([(0, 1)]) == 1
    assert E._chain_depth([(0, 1), (1, 2)]) == 2
    assert E._chain_depth([(0, 1), (1, 2), (2, 3), (0, 3)]) == 3
    assert E._chain_depth([(0, 1), (1, 0)]) == 1  # a cycle: each column once
    assert E._chain_depth([(2, 1), (0, 2), (1, 3)]) == 3


def test_tensors_are_scaled_to_the_model_and_decoded_back_on_their_grid():
    import tensorflow as tf

    specs = [FeatureSpec("img", "tensor", is_int=True, shape=[2, 2], likelihood="binomial",
                         low=2.0, high=10.0),
             FeatureSpec("emb", "tensor", shape=[3], likelihood="normal", low=-1.0, high=4.0,
                         mean=[1.0, 0.0, 2.0], std=[2.0, 0.5, 1.0]),
             FeatureSpec("px", "tensor", shape=[2], likelihood="continuous_bernoulli",
                         low=0.0, high=1.0, steps=4)]
    enc = _encoding(specs, [pa.list_(pa.int64(), 4), pa.list_(pa.float64(), 3),
                            pa.list_(pa.float64(), 2)])
    cols = {"img": pa.array([[2, 4, 6, 10], [3, 3, 9, 2]], pa.list_(pa.int64(), 4)),
            "emb": pa.array([[1.0, 0.5, -1.0], [3.0, -0.25, 4.0]], pa.list_(pa.float64(), 3)),
            "px": pa.array([[0.25, 1.0], [0.0, 0.5]], pa.list_(pa.float64(), 2))}
    out = enc.encode(_table(enc, cols, 2), float_dtype=np.float64)
    # (v - low) / (high - low) as [2, 2, 1] images; (v - mean) / std per element
    np.testing.assert_allclose(out["tensor_0"], np.array([[0, 2, 4, 8], [1, 1, 7, 0]]
                                                         ).reshape(2, 2, 2, 1) / 8.0)
    np.testing.assert_allclose(out["tensor_1"], [[0.0, 1.0, -3.0], [1.0, -0.5, 2.0]])
    np.testing.assert_allclose(out["tensor_2"], [[0.25, 1.0], [0.0, 0.5]])
    assert enc.layout()["tensors"] == [
        {"shape": [2, 2], "likelihood": "binomial", "total_count": 8},
        {"shape": [3], "likelihood": "normal"},
        {"shape": [2], "likelihood": "continuous_bernoulli"}]
    gen = {"tensor_0": tf.constant(np.array([[-0.5, 0.3, 0.55, 1.7]]).reshape(1, 2, 2, 1)),
           "tensor_1": tf.constant([[0.4, -20.0, 5.0]]),
           "tensor_2": tf.constant([[0.3, 0.9]])}
    dec = enc.decode_tf(gen)
    # clipped to [0, 1], then 2 + 8 t rounded: 2, 4.4, 6.4, 10
    np.testing.assert_array_equal(dec["img"][0].numpy(), [[2, 4, 6, 10]])
    # mean + std t, clipped to [low, high]: 1.8, -10 -> -1, 7 -> 4
    np.testing.assert_allclose(dec["emb"][0].numpy(), [[1.8, -1.0, 4.0]], atol=1e-6)
    # on the grid of 1 / 4: 0.3 -> 0.25, 0.9 -> 1.0
    np.testing.assert_allclose(dec["px"][0].numpy(), [[0.25, 1.0]], atol=1e-12)
    assert all(dec[n][1] is None for n in ("img", "emb", "px"))


def test_a_numeric_null_is_zero_and_its_indicator_one():
    enc = _encoding([FeatureSpec("a", "numeric", has_nulls=True, knots=TIED),
                     FeatureSpec("b", "numeric", knots=TIED),
                     FeatureSpec("c", "numeric", has_nulls=True, knots=TIED)],
                    [pa.float64()] * 3)
    cols = {"a": pa.array([None, 4.0, 0.0]), "b": pa.array([4.0, 0.0, 1.0]),
            "c": pa.array([2.0, None, None])}
    out = enc.encode(_table(enc, cols, 3), float_dtype=np.float64)
    np.testing.assert_array_equal(out["nulls"], [[1, 0], [0, 1], [0, 1]])
    z0, z4, z1 = _z([0.0, 1.0, 0.4])
    np.testing.assert_allclose(out["num"], [[0, z4, _z(0.8)], [z4, z0, 0], [z0, z1, 0]],
                               atol=1e-12)
    assert enc.layout()["num_null_idx"] == [0, -1, 1]


def test_class_null_rules_from_counts_worked_by_hand():
    # three classes of 10 rows; column x null in 10 / 0 / 1 of them:
    # a: the others' rate 1 / 20, 0.05 ** 10 < 1e-3: always null
    # b: the others' rate 11 / 20, 0.45 ** 10 = 3.4e-4 < 1e-3: never null
    # c: the others' rate 10 / 20, neither 0.5 ** 10 (nor is c all or none)
    # column y null in 0 / 10 / 10: a's 0.0 ** 10 < 1e-3 never; b and c: 0.5 ** 10 = 9.8e-4
    # of 10 rows: both always null
    # column w null in 10 / 10 / 0 of 10, 7, 7 rows: c's others' rate 20 / 17, its 7 rows
    # never null
    specs = [FeatureSpec("x", "numeric", has_nulls=True, knots=TIED),
             FeatureSpec("y", "numeric", has_nulls=True, knots=TIED),
             FeatureSpec("k", "categorical", has_nulls=True, vocab=["p", "q"])]
    enc = _encoding(specs, [pa.float64(), pa.float64(), pa.string()], classes=("a", "b", "c"),
                    counts={"a": 10, "b": 10, "c": 10},
                    class_nulls={"x": [10, 0, 1], "y": [0, 10, 10], "k": [0, 9, 10]})
    null_rule, cat_rule = enc.class_null_rules()
    assert null_rule.tolist() == [[1, -1], [-1, 1], [0, 1]]
    # k: a never (0.95 ** 10 ... the others' rate 19 / 20: 0.05 ** 10); b 9 of 10: none;
    # c always null at the others' rate 9 / 20: 0.45 ** 10 = 3.4e-4
    assert cat_rule.tolist() == [[-1], [0], [1]]
    assert enc.layout()["class_null_rule"] == [[1, -1], [-1, 1], [0, 1]]
    assert enc.class_null_texts() == [
        "x is null where label == 'a'", "x is never null where label == 'b'",
        "y is never null where label == 'a'", "y is null where label == 'b'",
        "y is null where label == 'c'", "k is never null where label == 'a'",
        "k is null where label == 'c'"]
    # a class without rows gets no rule (c); 9 rows always null at the others' rate 5 / 10
    # are not enough: 0.5 ** 9 = 2e-3
    few = _encoding(specs[:1], [pa.float64()], classes=("a", "b", "c"),
                    counts={"a": 9, "b": 9, "c": 0}, class_nulls={"x": [9, 0, 0]})
    assert few.class_null_rules()[0].tolist() == [[1], [-1], [0]]
    even = _encoding(specs[:1], [pa.float64()], counts={"a": 9, "b": 10},
                     class_nulls={"x": [9, 5]})
    assert even.class_null_rules()[0].tolist() == [[0], [0]]
    # no rule at all but with constraints "auto" (or unknown)
    assert _encoding(specs[:1], [pa.float64()], counts={"a": 10, "b": 10},
                     class_nulls={"x": [10, 0]}).class_null_rules()[0].tolist() == [[1], [-1]]
    assert _encoding(specs[:1], [pa.float64()], counts={"a": 10, "b": 10},
                     class_nulls={"x": [10, 0]},
                     constraints=("none",)).class_null_rules()[0].tolist() == [[0], [0]]


def test_to_arrow_clips_rounds_and_writes_nulls_and_labels_in_the_input_types():
    specs = [FeatureSpec("i", "numeric", is_int=True, knots=TIED, int_low=0, int_high=3,
                         has_nulls=True),
             FeatureSpec("d", "numeric", decimals=2, knots=TIED),
             FeatureSpec("k", "categorical", vocab=["p", "q"], has_nulls=True),
             FeatureSpec("gone", "excluded")]
    enc = _encoding(specs, [pa.int16(), pa.float32(), pa.dictionary(pa.int8(), pa.string()),
                            pa.string()],
                    classes=("a", "b"))
    decoded = {"i": (np.array([-2.4, 1.6, 9.0]), np.array([False, False, True])),
               "d": (np.array([0.123456, 1.005, -2.0]), None),
               "k": (np.array([1, 2, 0], np.int32), None)}
    batch = enc.to_arrow(decoded, np.array([1, 0, 1]))
    assert batch.schema.field("i").type == pa.int16()
    assert batch.column("i").to_pylist() == [0, 2, None]  # rounded, clipped to 0 .. 3
    np.testing.assert_allclose(batch.column("d").to_numpy(), np.float32([0.12, 1.0, -2.0]))
    assert batch.column("k").to_pylist() == ["q", None, "p"]  # code 2: the null code
    assert batch.column("gone").to_pylist() == [None] * 3
    assert batch.column("label").to_pylist() == ["b", "a", "b"]
    assert batch.column(batch.num_columns - 1).to_pylist() == [True] * 3
    one = enc.to_arrow(decoded, 0)  # one class for the whole batch
    assert one.column("label").to_pylist() == ["a"] * 3


def test_spikes_and_time_grids_decode_exactly():
    import tensorflow as tf

    # s: spike 0 on knots 0 0 0 1 2 3 (collapsed to 0 1 2 3); h: hours (unit 3600) off the
    # epoch's grid by 1800, knots 0 .. 36000; p: plain, no spike, its knots 0 .. 5
    specs = [FeatureSpec("s", "numeric", knots=[0.0, 0.0, 0.0, 1.0, 2.0, 3.0], spike=0.0),
             FeatureSpec("h", "numeric", is_int=True, knots=np.linspace(0, 36000, 6).tolist(),
                         unit=3600, unit_offset=1800),
             FeatureSpec("p", "numeric", knots=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], has_nulls=True)]
    enc = _encoding(specs, [pa.float64(), pa.int64(), pa.float64()])
    assert enc.layout()["num_knots"] == [4, 6, 6]
    assert enc.layout()["num_spike_idx"] == [1, -1, -1]
    assert enc.layout()["num_null_idx"] == [-1, -1, 0]
    u = np.array([0.52, 0.13, 0.93])
    z = _z(u)
    gen = {"num": tf.constant(np.repeat(z[:, None], 3, axis=1), tf.float64),
           "nulls": tf.constant([[0.0, 1.0], [1.0, 0.0], [0.0, 0.0]])}
    out = enc.decode_tf(gen)
    # s: the spike where its indicator is set (row 0), else the collapsed grid at u * 3
    np.testing.assert_allclose(out["s"][0].numpy(), [0.0, 0.39, 2.79], atol=1e-9)
    # h: u * 36000 = 18720, 4680, 33480, on the hours + 1800: 1800 + 3600 * (4.7, 0.8, 8.8
    # rounded)
    np.testing.assert_array_equal(out["h"][0].numpy(), [19800, 5400, 34200])
    np.testing.assert_allclose(out["p"][0].numpy(), [2.6, 0.65, 4.65], atol=1e-9)
    np.testing.assert_array_equal(out["p"][1].numpy(), [False, True, False])
    # and the encoder: the spike's rows are 0 with the indicator set
    cols = {"s": pa.array([0.0, 1.5, 3.0]), "h": pa.array([1800, 19800, 37800]),
            "p": pa.array([None, 2.5, 5.0])}
    got = enc.encode(_table(enc, cols, 3), float_dtype=np.float64)
    np.testing.assert_array_equal(got["nulls"], [[1, 1], [0, 0], [0, 0]])
    np.testing.assert_allclose(got["num"][:, 0], [0.0, _z(0.5), _z(1.0)], atol=1e-12)
    np.testing.assert_allclose(got["num"][:, 1], _z([1800 / 36000, 0.55, 1.0]), atol=1e-12)


def test_layouts_of_other_widths_and_string_kinds():
    assert not E._other_layout(pa.int64(), pa.int64())
    assert E._other_layout(pa.int32(), pa.int64())
    assert E._other_layout(pa.float32(), pa.float64())
    assert not E._other_layout(pa.float16(), pa.float32())  # half floats are not taken so
    assert not E._other_layout(pa.int64(), pa.float64())
    assert E._other_layout(pa.large_string(), pa.string())
    assert E._other_layout(pa.dictionary(pa.int8(), pa.string()), pa.string_view())
    assert E._other_layout(pa.binary(), pa.large_binary())
    assert not E._other_layout(pa.string(), pa.binary())
    assert not E._other_layout(pa.dictionary(pa.int8(), pa.string()), pa.int64())


def test_rows_notes_and_null_values():
    assert E._rows_note(np.array([False, True, True])) == "2 rows; the first is row 1"
    assert E._rows_note(np.array([False, False, True]), 10) == "1 row; the first is row 12"
    fsl = pa.list_(pa.field("item", pa.float32()), 3)
    nulls = E._null_values(fsl, 2)
    assert nulls.null_count == 0 and nulls.to_pylist() == [[None] * 3] * 2
    assert E._null_values(pa.int8(), 2).to_pylist() == [None, None]
    strict = pa.list_(pa.field("item", pa.float32(), nullable=False), 3)
    assert E._null_values(strict, 2).null_count == 2
    tensor = pa.fixed_shape_tensor(pa.float32(), [3])
    ext = E._null_values(tensor, 1)
    assert ext.type == tensor and ext.storage.to_pylist() == [[None] * 3]


def test_labels_and_categories_keep_the_inputs_dictionary_order():
    specs = [FeatureSpec("k", "categorical", vocab=["p", "q", "r"], dictionary=["r", "p", "q"])]
    dic = pa.dictionary(pa.int8(), pa.string())
    schema = pa.schema([pa.field("k", dic), pa.field("label", dic)])
    enc = Encoding(specs, "label", ["x", "y"], {"x": 1, "y": 1}, schema,
                   label_dictionary=["y", "z", "x"])
    batch = enc.to_arrow({"k": (np.array([0, 1, 2, 3]), None)}, np.array([0, 1, 1, 0]))
    k, label = batch.column("k"), batch.column("label")
    assert k.dictionary.to_pylist() == ["r", "p", "q"]
    assert k.indices.to_pylist() == [1, 2, 0, None]
    assert k.to_pylist() == ["p", "q", "r", None]
    assert label.dictionary.to_pylist() == ["y", "z", "x"]
    assert label.indices.to_pylist() == [2, 0, 0, 2]
    assert label.to_pylist() == ["x", "y", "y", "x"]
