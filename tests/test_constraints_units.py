"""`vae_augment.constraints` on hand-made tables and arrays: the statistics, the rules found
from them, the spec, the reports and the redraw logic with a stand-in model, each against
values worked out here (by hand or by NumPy computed another way). Written for the survivors
of the mutation run of session 59 (benchmarks/results/mutants_constraints_s59.md)."""

import math
import types
import warnings

import numpy as np
import pyarrow as pa
import pytest

from vae_augment import constraints as C


# --------------------------------------------------------------------- small helpers
def test_keeps_grid_checks_the_step_and_the_offset_on_the_targets_grid():
    assert C._keeps_grid(0.17, 0.0, 1.0, 0.0)  # no target grid: anything lands on it
    assert C._keeps_grid(5.0, 0.3, 0.0, 0.0)
    assert not C._keeps_grid(0.17, 0.0, 0.0, 0.01)  # an unrounded source: off the grid
    assert C._keeps_grid(0.17, 0.0, 1.0, 0.01)  # 17 cents a minute
    assert C._keeps_grid(0.17, 0.05, 1.0, 0.01)  # and 5 cents on top
    assert not C._keeps_grid(0.175, 0.0, 1.0, 0.01)  # half a cent a minute
    assert not C._keeps_grid(0.17, 0.005, 1.0, 0.01)  # half a cent on top
    assert C._keeps_grid(-0.17, -0.05, 1.0, 0.01)  # negative steps and offsets too
    assert not C._keeps_grid(-0.175, 0.0, 1.0, 0.01)
    assert not C._keeps_grid(-0.17, -0.005, 1.0, 0.01)


def test_direction_rank_reads_the_rounding_the_residual_shows():
    s12 = math.sqrt(12.0)
    # a unit of 0 on either side: cannot tell, ranked 1
    assert C._direction_rank(0.1, 2.0, 0.0, 1.0) == 1
    assert C._direction_rank(0.1, 2.0, 1.0, 0.0) == 1
    # residual the target's own rounding (0.01 / sqrt 12): this direction, 0; the source's
    # rounding through the line (0.17 * 1 / sqrt 12): the reverse, 3
    assert C._direction_rank(0.01 / s12, 0.17, 1.0, 0.01) == 0
    assert C._direction_rank(0.17 / s12, 0.17, 1.0, 0.01) == 3
    assert C._direction_rank(0.17 / s12, -0.17, 1.0, 0.01) == 3  # |slope|
    # residuals alike (own = other: 0.1 * 1 = 0.1) or none: 1 when a source step moves the
    # target by a unit at least, else 2
    assert C._direction_rank(0.1 / s12, 0.1, 1.0, 0.1) == 1
    assert C._direction_rank(0.0, 0.17, 1.0, 0.01) == 1  # 0.17 >= 0.01
    assert C._direction_rank(0.0, -0.17, 1.0, 0.01) == 1
    assert C._direction_rank(0.0, 0.005, 1.0, 0.01) == 2  # 0.005 < 0.01
    assert C._direction_rank(0.0, 1.0, 0.01, 0.01) == 1  # equal: a unit exactly
    assert C._direction_rank(0.0, 1 - 1e-9, 1.0, 1.0) == 1  # within float noise of it
    assert C._direction_rank(0.0, 1 - 1e-8, 1.0, 1.0) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a zero residual takes no log (of 0)
        assert C._direction_rank(0.0, 0.17, 1.0, 0.01) == 1
    # within the margin (log ratios 0.04 apart): no direction read
    own = 0.01 / s12
    other = own * math.exp(0.08)  # |log(rsd/own)| = 0.04, |log(rsd/other)| = 0.04
    rsd = own * math.exp(0.04)
    assert C._direction_rank(rsd, other * s12, 1.0, 0.01) == 1
    rsd = own * math.exp(0.01)  # 0.01 against 0.07: past the 0.05 margin
    assert C._direction_rank(rsd, other * s12, 1.0, 0.01) == 0


def test_formulas_read_as_written():
    assert str(C.Relation("a", "b")) == "a <= b"
    assert str(C.Derived("t", "s", 2.0, 1e-13)) == "t = 2 * s + 0"  # float noise: 0
    assert str(C.Derived("t", "s", 2.0, -3.5)) == "t = 2 * s - 3.5"
    assert str(C.Derived("t", "s", 1.0, 1e-12)) == "t = 1 * s + 0"  # at the bound: noise
    assert str(C.Derived("t", "s", 1.0, -1e-12)) == "t = 1 * s + 0"
    assert str(C.Derived("t", "s", 2.0, 3.5)) == "t = 2 * s + 3.5"
    assert str(C.Derived("t", "s", 1e-20, 1e-13)) == "t = 1e-20 * s + 0"  # noise next to 1
    assert str(C.Derived("t", "s", 1e-20, 1e-11)) == "t = 1e-20 * s + 1e-11"
    assert str(C.Derived("t", "s", 1e6, 1e-7)) == "t = 1e+06 * s + 0"  # noise next to 1e6
    assert str(C.Derived("t", "s", 1e6, 1e-5)) == "t = 1e+06 * s + 1e-05"
    assert str(C.Derived("a b", "s", 1.0, 0.0)) == "'a b' = 1 * s + 0"
    assert str(C.Link("plan", "no", "messages", 0.0, "yes")) == "plan == 'no' <=> messages == 0"
    assert str(C.Link("has", "no", "loan", None, None)) == "has == 'no' <=> loan is null"
    assert str(C.Dependency("state", "region", ())) == "state = f(region)"
    np.testing.assert_allclose(C.Derived("t", "s", 2.0, 1.0).values([0, 1.5]), [1.0, 4.0])


def test_parse_relation_turns_a_greater_or_equal_round():
    assert C.parse_relation("a <= b") == C.Relation("a", "b")
    assert C.parse_relation(" b >= a ") == C.Relation("a", "b")
    r = C.Relation("x", "y")
    assert C.parse_relation(r) is r
    for bad in ("a < b", "a <= b <= c", "a >= b > c", "a", 3):
        with pytest.raises(C.VAEAugmentError, match="must read"):
            C.parse_relation(bad)
    with pytest.raises(C.VAEAugmentError, match="with itself"):
        C.parse_relation("a <= a")


def test_independent_break_share_counts_strictly_greater_pairs():
    # a = 1, 2, 3 against b = 2, 2, 4: only a = 3 beats b (twice): 2 of 9 pairs
    assert C.independent_break_share([3, 1, 2], [4, 2, 2]) == pytest.approx(2 / 9)
    a, b = np.arange(7.0), np.array([0.5, 3.0, 3.0, 6.5])
    want = np.mean(a[:, None] > b[None, :])
    assert C.independent_break_share(a, b) == pytest.approx(want)
    assert C.independent_break_share([], [1.0]) == 0.0
    assert C.independent_break_share([1.0], []) == 0.0


# ------------------------------------------------------------------ RelationStats
def _stats_table():
    nan = None
    return pa.table({
        "a": pa.array([1.0, 2.0, 5.0, nan, 4.0, 3.0, 0.5, 6.0]),
        "b": pa.array([1.0, 3.0, 5.0, 2.0, 7.0, nan, 0.5, 6.5]),
        "c": pa.array([9, 8, 7, 6, 5, 4, 3, 2], pa.int64()),
    })


def _np_moments(x, i, j):
    """(mean of i, centred sum of squares of i, co-moment) over the rows with both."""
    keep = ~(np.isnan(x[:, i]) | np.isnan(x[:, j]))
    a, b = x[keep, i], x[keep, j]
    return keep.sum(), a.mean(), ((a - a.mean()) ** 2).sum(), ((a - a.mean()) * (b - b.mean())).sum()


@pytest.mark.parametrize("split", [None, 3])
def test_relation_stats_count_exactly_what_numpy_counts(split):
    table = _stats_table()
    classes = np.array([0, 1, 0, 1, 1, -1, 0, 1])
    names = ["a", "b", "c"]
    stats = C.RelationStats(names, 2)
    if split is None:
        stats.update(table, classes)
    else:
        other = C.RelationStats(names, 2)
        stats.update(table.slice(0, split), classes[:split])
        other.update(table.slice(split), classes[split:])
        stats.merge(other)
    x = np.stack([np.asarray(table.column(n).to_numpy(zero_copy_only=False), float)
                  for n in names], 1)
    for i in range(3):
        for j in range(3):
            n, mean, m2, co = _np_moments(x, i, j)
            keep = ~(np.isnan(x[:, i]) | np.isnan(x[:, j]))
            assert stats.both[i, j] == n
            assert stats.max_diff[i, j] == np.max(x[keep, i] - x[keep, j])
            assert stats.pair_mean[i, j] == pytest.approx(mean)
            assert stats.pair_m2[i, j] == pytest.approx(m2)
            assert stats.pair_co[i, j] == pytest.approx(co)
            for k in range(2):
                rows = keep & (classes == k)
                assert stats.class_both[k, i, j] == rows.sum()
                assert stats.class_equal[k, i, j] == (rows & (x[:, i] == x[:, j])).sum()
    np.testing.assert_array_equal(stats.low, np.nanmin(x, 0))
    np.testing.assert_array_equal(stats.high, np.nanmax(x, 0))
    # a <= b in every row with both (2 <= 3, 4 <= 7, ...), not implied by the ranges;
    # c is above a and b in some rows and below in others
    assert stats.relations() == [C.Relation("a", "b")]
    # ties: class 0 rows 0, 2, 6 (all three equal): 1.0; class 1 rows 1, 4, 7 (none): 0.0
    assert stats.relation("a", "b").ties == (1.0, 0.0)
    assert stats.relation("b", "a").ties == (1.0, 0.0)
    assert not stats.broken_rows("a", "b") and stats.broken_rows("b", "a")
    assert stats.broken_rows("c", "a") and stats.broken_rows("a", "c")


def test_a_relation_the_ranges_imply_or_no_row_shows_is_not_reported():
    # x in [0, 1], y in [1, 2]: x <= y in every row, but max x = 1 = min y: implied
    t = pa.table({"x": [0.0, 0.5, 1.0], "y": [1.0, 2.0, 1.5]})
    stats = C.RelationStats(["x", "y"])
    stats.update(t)
    assert stats.relations() == []
    t = pa.table({"x": [0.0, 0.5, 1.01], "y": [1.0, 2.0, 1.5]})  # overlap: found
    stats = C.RelationStats(["x", "y"])
    stats.update(t)
    assert stats.relations() == [C.Relation("x", "y")]
    # never both present: nothing known, nothing reported
    t = pa.table({"x": pa.array([1.0, None]), "y": pa.array([None, 0.5])})
    stats = C.RelationStats(["x", "y"])
    stats.update(t)
    assert stats.relations() == [] and stats.both[0, 1] == 0
    stats.update(t)  # merging a second batch of no such rows keeps their moments at 0
    assert stats.pair_m2[0, 1] == stats.pair_co[0, 1] == stats.pair_mean[0, 1] == 0.0
    assert C.RelationStats(["x"]).relation("x", "x").ties == ()


def test_relation_stats_merge_refuses_other_columns():
    with pytest.raises(ValueError, match="different columns"):
        C.RelationStats(["a", "b"]).merge(C.RelationStats(["a", "c"]))
    with pytest.raises(ValueError, match="different columns"):
        C.RelationStats(["a", "b"], 2).merge(C.RelationStats(["a", "b"], 3))
    links = C.LinkStats(["a"], [0.0], ["k"], [3])
    with pytest.raises(ValueError, match="with and without link counts"):
        C.RelationStats(["a", "b"], links=links).merge(C.RelationStats(["a", "b"]))
    with pytest.raises(ValueError, match="with and without link counts"):
        C.RelationStats(["a", "b"]).merge(C.RelationStats(["a", "b"], links=links))


def test_auto_columns_warn_past_the_cap_only():
    def enc(n):
        return types.SimpleNamespace(numeric=[types.SimpleNamespace(name=f"x{i}")
                                              for i in range(n)])

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert C._auto_columns(enc(C.MAX_RELATION_COLUMNS)) == [f"x{i}" for i in range(64)]
        assert C._auto_columns(enc(3)) == ["x0", "x1", "x2"]
    with pytest.warns(UserWarning, match="first 64 of 65 numeric columns"):
        assert C._auto_columns(enc(65)) == [f"x{i}" for i in range(64)]


# ------------------------------------------------------------ constrained_generate
def _gen_encoding(ties):
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    same = rng.uniform(1, 10, 200)  # a and b alike: equal in model space, equal decoded
    table = pa.table({"a": same, "b": same, "c": rng.uniform(1, 10, 200),
                      "label": ["x", "y"] * 100})
    enc = fit_encoding(table, "label").with_relations([C.Relation("a", "b", ties)])
    return enc, [s.name for s in enc.numeric]


class _Model:
    """A stand-in model: call i returns `rows(i, y)`'s (a, b, c) model-space values."""

    def __init__(self, order, rows):
        self.order, self.rows, self.calls = order, rows, []

    def generate(self, y, seed, **kw):
        import tensorflow as tf

        y = np.asarray(y)
        self.calls.append((y.tolist(), None if seed is None else np.asarray(seed).tolist(), kw))
        abc = np.asarray(self.rows(len(self.calls) - 1, y), np.float32)
        num = np.zeros((len(y), 3), np.float32)
        for k, name in enumerate("abc"):
            num[:, self.order.index(name)] = abc[:, k]
        return {"num": tf.constant(num)}


BREAK, KEEP = (2.0, -2.0), (-2.0, 2.0)  # (a, b) in model space: a > b, a < b


def _fold(seed, r):
    import tensorflow as tf

    return tf.random.experimental.stateless_fold_in(
        tf.constant(seed, tf.int32), C._REDRAW_STREAM + r).numpy().tolist()


def test_breaking_rows_take_spares_of_their_class_then_their_first_keeping_redraw():
    import tensorflow as tf

    enc, order = _gen_encoding((0.0, 0.0))  # no ties: every breaking row is redrawn

    def rows(call, y):
        if call == 0:  # 6 first draws (0-2 break) and 6 spares (spare 1 and 2 keep)
            kinds = [BREAK] * 3 + [KEEP] * 3 + [BREAK, KEEP, KEEP, BREAK, BREAK, BREAK]
            return [(*k, i) for i, k in enumerate(kinds)]
        # the redraws of row 2: 8 candidates, the first three break
        return [(*(BREAK if p < 3 else KEEP), 100 + p) for p in range(len(y))]

    model = _Model(order, rows)
    y = tf.constant([0, 1, 0, 1, 0, 1])
    out = C.constrained_generate(model, enc, y, tf.constant([3, 4]), candidates=2)
    # 6 spares (one per row, under 64), classes those of the rows
    assert model.calls[0] == ([0, 1, 0, 1, 0, 1] * 2, [3, 4], {"candidates": 2})
    # row 0 (class 0) takes spare 2, row 1 (class 1) spare 1; row 2 has no spare left and
    # gets 512 // 1 draws, capped at 8, in one round, the fourth the first that keeps
    assert model.calls[1] == ([0] * 8, _fold([3, 4], 1), {"candidates": 2})
    assert len(model.calls) == 2
    c = out["num"].numpy()[:, order.index("c")]
    assert c.tolist() == [8, 7, 103, 3, 4, 5]
    assert not enc.violations_tf(out).numpy().any()
    assert out["edge"].numpy().tolist() == [[False]] * 6
    # no relation: the model's own draw, nothing added
    plain = _Model(order, lambda call, y: [(*BREAK, 0)] * len(y))
    got = C.constrained_generate(plain, enc.with_relations([]), tf.constant([0, 1]), None)
    assert set(got) == {"num"} and plain.calls == [([0, 1], None, {})]


@pytest.mark.parametrize("pending, sizes", [
    (600, [600] * 8),  # many pending: one draw a row a round, 8 rounds
    (200, [400] * 4),  # 512 // 200 = 2 draws a row a round
    (100, [500, 300]),  # 5 draws a row, then the 3 left of the 8
])
def test_redraw_rounds_draw_about_512_rows_and_8_a_row_in_all(pending, sizes):
    import tensorflow as tf

    enc, order = _gen_encoding((0.0, 0.0))
    model = _Model(order, lambda call, y: [(*BREAK, call)] * len(y))  # nothing ever keeps
    y = tf.zeros([pending], tf.int32)
    out = C.constrained_generate(model, enc, y, tf.constant([1, 2]))
    # first draws and max(pending // 8, min(pending, 64)) spares, then the rounds
    assert len(model.calls[0][0]) == pending + max(pending // 8, min(pending, 64))
    assert [len(c[0]) for c in model.calls[1:]] == sizes
    assert [c[1] for c in model.calls[1:]] == [_fold([1, 2], r) for r in
                                               range(1, len(sizes) + 1)]
    # rows no draw fixed keep their first draw (for decode_tf to repair)
    assert (out["num"].numpy()[:, order.index("c")] == 0).all()


def test_a_class_short_of_its_edge_keeps_its_breaking_draws_and_marks_the_nearest():
    import tensorflow as tf

    # class 0: 4 of 5 rows on the edge in the training rows, none of class 1
    enc, order = _gen_encoding((0.8, 0.0))

    def rows(call, y):
        assert call == 0  # nothing to redraw
        first = [(*BREAK, 0), (0.0, 1.5, 1), (*BREAK, 2), (0.0, 0.5, 3), (0.3, 0.3, 4),  # 0
                 (*KEEP, 5), (-1.0, 1.0, 6), (*KEEP, 7), (-1.5, 1.0, 8)]  # class 1
        return first + [(*KEEP, 10 + i) for i in range(len(y) - 9)]

    model = _Model(order, rows)
    y = tf.constant([0, 0, 0, 0, 0, 1, 1, 1, 1])
    out = C.constrained_generate(model, enc, y, tf.constant([5, 6]))
    assert len(model.calls) == 1
    # class 0: 2 of 5 draws break (share 0.4), 1 is on the edge: 0.8 - 0.2 = 0.6 more
    # wanted there: each breaking draw goes on it (probability min(1, 0.6 / 0.4)), and
    # 0.6 - 0.4 of 5 rows, 1 row, more: the one off the edge nearest it (b at 0.5, not 1.5;
    # not the row already on it)
    assert out["num"].numpy()[:, order.index("c")].tolist() == list(range(9))
    assert out["edge"].numpy()[:, 0].tolist() == [False, False, False, True] + [False] * 5


# ---------------------------------------------------------------------- LinkStats
N_, Y_ = 0, 1  # plan's codes ("n", "y"); 2 is its null code
Z_, S_ = 0, 1  # tier's codes ("z", "s")
LINK_ROWS = {  # plan is "n" exactly where m == 0 (6 rows on, 5 off); tier is "z" exactly
    # where w == 0 (5 on, 6 off), and breaks the other pairing in one row each
    "m": [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5],
    "w": [0, 0, 0, 0, 0, 7, 7, 7, 7, 7, 7],
    "plan": [N_] * 6 + [Y_] * 5,
    "tier": [Z_] * 5 + [S_] * 6,
}
LINK_VOCABS = {"plan": ["n", "y"], "tier": ["z", "s", "w"]}  # tier: "w" never seen


def _link_stats(extra_null_row=False):
    x = np.array([LINK_ROWS["m"], LINK_ROWS["w"]], float).T
    codes = np.array([LINK_ROWS["plan"], LINK_ROWS["tier"]]).T
    if extra_null_row:  # m null, w on its spike, plan and tier null
        x = np.vstack([x, [np.nan, 0.0]])
        codes = np.vstack([codes, [2, 3]])  # plan null, tier null
    stats = C.LinkStats(["m", "w", "m"], [0.0, 0.0, None], ["plan", "tier"], [3, 4])
    stats.update(x[:, [0, 1, 0]], codes)
    return stats, x, codes


def test_link_counts_are_the_rows_by_code_and_by_spike():
    stats, x, codes = _link_stats(extra_null_row=True)
    want = np.zeros((3, 2, 4, 2), np.int64)  # codes up to tier's 4
    for row in range(len(x)):
        for i, (col, spike) in enumerate(((0, 0.0), (1, 0.0), (0, None))):
            v = x[row, col]
            if spike is None:
                off = int(not np.isnan(v))
            elif np.isnan(v):
                continue
            else:
                off = int(v != spike)
            for k in range(2):
                want[i, k, codes[row, k], off] += 1
    np.testing.assert_array_equal(stats.counts, want)
    pairs = np.zeros((3, 4), np.int64)
    for p, t in codes:
        pairs[p, t] += 1
    assert list(stats.pairs) == [(0, 1)]
    np.testing.assert_array_equal(stats.pairs[(0, 1)], pairs)
    stats.update(np.zeros((0, 3)), np.zeros((0, 2), np.int64))  # no rows: nothing added
    np.testing.assert_array_equal(stats.counts, want)
    twice, _, _ = _link_stats(extra_null_row=True)
    twice.merge(stats)
    np.testing.assert_array_equal(twice.counts, 2 * want)
    np.testing.assert_array_equal(twice.pairs[(0, 1)], 2 * pairs)
    with pytest.raises(ValueError, match="different columns"):
        stats.merge(C.LinkStats(["m"], [0.0], ["plan", "tier"], [3, 4]))


def test_links_need_min_rows_on_each_side_and_at_most_max_break():
    stats, _, _ = _link_stats()
    plan = C.Link("plan", "n", "m", 0.0, "y")
    tier = C.Link("tier", "z", "w", 0.0, "s")
    assert stats.links(LINK_VOCABS, min_rows=5, max_break=0.0) == [plan, tier]
    assert stats.links(LINK_VOCABS, min_rows=6, max_break=0.0) == []  # 5 off m's, 5 on w's
    assert stats.links(LINK_VOCABS) == []  # 20 rows a side by default
    # one break in 11 rows allowed: plan~w and tier~m qualify too, but each category keeps
    # the pairing seen in as many rows with fewer breaks
    assert stats.links(LINK_VOCABS, min_rows=5, max_break=1 / 11) == [plan, tier]
    assert stats.links(LINK_VOCABS, min_rows=5, max_break=0.99 / 11) == [plan, tier]
    # a one-value vocabulary is never linked
    assert stats.links({"plan": ["n"], "tier": ["z", "s", "w"]}, min_rows=5,
                       max_break=0.0) == [tier]


def test_a_link_seen_in_more_rows_wins_and_other_is_the_commonest_value_off_the_spike():
    # plan "n" exactly where m == 0 (4 rows): off the spike "y" twice, null (code 2) 3 times
    x = np.array([[0, 0, 0, 0, 1, 2, 3, 4, 5]], float).T
    codes = np.array([[N_, N_, N_, N_, Y_, Y_, 2, 2, 2]]).T
    stats = C.LinkStats(["m"], [0.0], ["plan"], [3])
    stats.update(x, codes)
    assert stats.links({"plan": ["n", "y"]}, min_rows=4, max_break=0.0) == [
        C.Link("plan", "n", "m", 0.0, None)]
    # with a second numeric column seen in more rows (m null in 2 more), it wins
    x2 = np.vstack([np.hstack([x, x]), [[np.nan, 0.0], [np.nan, 9.0]]])
    codes2 = np.vstack([codes, [[N_], [2]]])
    stats = C.LinkStats(["m", "v"], [0.0, 0.0], ["plan"], [3])
    stats.update(x2, codes2)
    assert stats.links({"plan": ["n", "y"]}, min_rows=4, max_break=0.0) == [
        C.Link("plan", "n", "v", 0.0, None)]


def _dep_codes(n_rows=100):
    """state (6 values: 20, 20, 20, 20, 10, 10 rows) -> region (state // 2); code <-> name
    (4 values, one to one, row % 4); color (3 values, row % 3)."""
    state = np.repeat(np.arange(6), [20, 20, 20, 20, 10, 10])[:n_rows]
    rows = np.arange(len(state))
    return np.stack([state, state // 2, rows % 4, rows % 4, rows % 3], 1)


DEP_VOCABS = {"state": [f"s{i}" for i in range(6)], "region": ["r0", "r1", "r2"],
              "code": ["c0", "c1", "c2", "c3"], "name": ["n0", "n1", "n2", "n3"],
              "color": ["red", "green", "blue"]}


def _dependencies(codes, **kw):
    stats = C.LinkStats([], [], list(DEP_VOCABS), [len(v) + 1 for v in DEP_VOCABS.values()])
    stats.update(np.zeros((len(codes), 0)), codes)
    return stats.dependencies(DEP_VOCABS, **kw)


def test_dependencies_map_each_determinant_value_and_the_earlier_column_determines():
    found = _dependencies(_dep_codes())
    assert found == [C.Dependency("region", "state", ()), C.Dependency("name", "code", ())]
    assert found[0].mapping == (("s0", "r0"), ("s1", "r0"), ("s2", "r1"), ("s3", "r1"),
                                ("s4", "r2"), ("s5", "r2"))
    assert found[1].mapping == (("c0", "n0"), ("c1", "n1"), ("c2", "n2"), ("c3", "n3"))
    assert _dependencies(_dep_codes(), exclude={"region"}) == [C.Dependency("name", "code", ())]
    # 99 rows: under DEPENDENCY_MIN_ROWS, nothing
    assert _dependencies(_dep_codes(99)) == []
    # a region flipped in one row of 100: broken unless 1 % may break
    codes = _dep_codes()
    codes[0, 1] = 2
    assert [str(d) for d in _dependencies(codes)] == ["name = f(code)"]
    assert [str(d) for d in _dependencies(codes, max_break=0.01)] == [
        "region = f(state)", "name = f(code)"]
    # a column with one value in over 90 % of the rows is not a dependency's (90 %: is)
    codes = _dep_codes()
    codes[:90, 1] = 0
    codes[:, 0] = np.where(np.arange(100) < 90, 0, codes[:, 0])
    assert "region = f(state)" in [str(d) for d in _dependencies(codes)]
    codes = _dep_codes()
    codes[:91, 1] = 0
    codes[:, 0] = np.where(np.arange(100) < 91, 0, codes[:, 0])
    assert "region = f(state)" not in [str(d) for d in _dependencies(codes, max_break=0.1)]


# ----------------------------------------------------------------------- reports
def test_relation_report_counts_the_synthetic_rows_that_break_a_real_relation():
    real = pa.table({"a": [1.0, 2, 3, 4, 5, 6], "b": [2.0, 3, 4, 5, 6, 7]})
    synth = pa.table({"a": pa.array([1.0, 5, 3, None, 9]), "b": pa.array([2.0, 4, 3, 1, None])})
    (entry,) = C.relation_report(real, synth)
    a, b = np.arange(1.0, 7), np.arange(2.0, 8)
    assert entry == {"relation": "a <= b", "left": "a", "right": "b", "real_rows": 6,
                     "synthetic_rows": 3, "violations": 1,
                     "violation_rate": round(1 / 3, 6),
                     "marginals_break_share": round(np.mean(a[:, None] > b[None, :]), 6),
                     "by_chance": False}
    assert C.relation_report(real, synth.slice(0, 0)) == []
    # by default the integer and float columns both tables have
    wide = real.append_column("k", pa.array(["x"] * 6)).append_column("z", pa.array([0.0] * 6))
    assert [e["relation"] for e in C.relation_report(
        wide, synth.append_column("k", pa.array(["y"] * 5)))] == ["a <= b"]
    # the marginals break it in 1 pair of 100 (9 > 8.5): AUTO_MIN_BREAK exactly, not chance
    real = pa.table({"a": np.arange(10.0), "b": np.r_[8.5, np.arange(10.0, 19)]})
    (entry,) = C.relation_report(real, synth)
    assert entry["marginals_break_share"] == 0.01 and not entry["by_chance"]
    assert C.relation_report(pa.table({"a": [1.0, 2], "b": [0.0, 1]}), synth) == []


def test_derived_report_counts_rows_off_the_line_by_more_than_the_rounding():
    s = np.arange(30)
    real = pa.table({"s": s, "t": 2 * s + 1})
    units = {"s": 1.0, "t": 1.0}
    # allowed: half a unit of t and half a unit of s through the slope, 0.5 + 1.0
    synth = pa.table({"s": pa.array([1.0, 2, 3, 4, None]),
                      "t": pa.array([3.0, 6.5, 9.0, 7.4, 1])})
    (entry,) = C.derived_report(real, synth, units)
    assert entry["relation"] == "t = 2 * s + 1" and (entry["target"], entry["source"]) == ("t", "s")
    # rows: 3 vs 3 (0), 6.5 vs 5 (1.5: allowed), 9 vs 7 (2: off), 7.4 vs 9 (1.6: off)
    assert {k: entry[k] for k in ("real_rows", "synthetic_rows", "off", "off_rate")} == {
        "real_rows": 30, "synthetic_rows": 4, "off": 2, "off_rate": 0.5}
    assert C.derived_report(real, synth.slice(0, 0), units) == []
    # a falling line: the slope's size counts (allowed 0.5 + 0.5 * 2 again)
    real = pa.table({"s": s, "t": 100 - 2 * s})
    synth = pa.table({"s": [1.0, 2.0], "t": [98 + 1.4, 96 - 1.6]})
    (entry,) = C.derived_report(real, synth, units)
    assert entry["relation"] == "t = -2 * s + 100" and entry["off"] == 1



# -------------------------------------------------------------------------- spec
def test_same_units_compares_numbers_and_times_of_one_unit_only():
    schema = pa.schema([("i", pa.int64()), ("f", pa.float32()),
                        ("ms", pa.timestamp("ms")), ("ms_utc", pa.timestamp("ms", "UTC")),
                        ("us", pa.timestamp("us")), ("d", pa.date32()), ("d2", pa.date32()),
                        ("d64", pa.date64())])
    same = {("i", "f"), ("ms", "ms_utc"), ("d", "d2"), ("ms", "ms")}
    for a in schema.names:
        for b in schema.names:
            want = a == b or (a, b) in same or (b, a) in same
            assert C._same_units(schema, a, b) == want, (a, b)


def test_constraint_spec_reads_none_auto_and_named_relations():
    none = C.ConstraintSpec(False, ())
    for nothing in (None, "none", " NONE ", (), []):
        assert C.constraint_spec(nothing) == none
    assert none.key == ()
    auto = C.constraint_spec(" Auto ")
    assert auto == C.ConstraintSpec(True, ()) and auto.key == ("auto",)
    spec = C.constraint_spec(["b >= a", "auto", "none", C.Relation("c", "d"), "a <= b"])
    assert spec.auto and spec.given == (C.Relation("a", "b"), C.Relation("c", "d"),
                                        C.Relation("a", "b"))
    assert spec.key == ("auto", "a <= b", "c <= d")
    assert C.constraint_spec(spec) == spec  # a spec reads as itself
    assert C.constraint_spec(C.Relation("a", "b")) == C.ConstraintSpec(False, (C.Relation("a", "b"),))
    assert C.constraint_spec("a <= b").key == ("a <= b",)


def test_a_spec_names_its_columns_and_whether_it_needs_a_pass():
    from vae_augment.preparation import fit_encoding

    x = np.arange(40) * 1.37
    table = pa.table({"a": x, "b": x + 1, "c": np.cos(x), "k": ["x", "y"] * 20,
                      "label": ["p", "q"] * 20})
    enc = fit_encoding(table, "label")
    assert [s.name for s in enc.numeric] == ["a", "b", "c"]
    assert C.constraint_spec(["c <= b"], enc).columns(enc) == ["c", "b"]
    assert C.constraint_spec(["auto", "c <= b"], enc).columns(enc) == ["a", "b", "c"]
    assert C.constraint_spec("none", enc).columns(enc) == []
    assert C.constraint_spec(["c <= b"], enc).needs_pass(enc)
    assert C.constraint_spec("auto", enc).needs_pass(enc)
    assert not C.constraint_spec("none", enc).needs_pass(enc)
    cats = fit_encoding(pa.table({"k": ["x", "y"] * 5, "label": ["p", "q"] * 5}), "label")
    assert not C.constraint_spec("auto", cats).needs_pass(cats)  # one category: nothing
    two = fit_encoding(pa.table({"k": ["x", "y"] * 5, "j": ["u", "v"] * 5,
                                 "label": ["p", "q"] * 5}), "label")
    assert C.constraint_spec("auto", two).needs_pass(two)  # two categories to relate
    with pytest.raises(C.SchemaError, match="'k' is a categorical column"):
        C.constraint_spec(["k <= b"], enc)
    with pytest.raises(C.SchemaError, match="'label' is the label"):
        C.constraint_spec(["a <= label"], enc)
    with pytest.raises(C.SchemaError, match="'z' is not a column"):
        C.constraint_spec(["a <= z"], enc)
    n = np.arange(40) * 7
    times = pa.table({"t": pa.array(n, pa.timestamp("ms")), "u": pa.array(n, pa.timestamp("us")),
                      "n": n, "label": ["p", "q"] * 20})
    tenc = fit_encoding(times, "label")
    assert [s.name for s in tenc.numeric] == ["t", "u", "n"]
    with pytest.raises(C.SchemaError, match="count different units; cast one"):
        C.constraint_spec(["t <= u"], tenc)
    with pytest.raises(C.SchemaError, match="a time column keeps a relation only"):
        C.constraint_spec(["t <= n"], tenc)


def test_link_report_counts_synthetic_rows_on_one_side_only():
    from vae_augment.preparation import fit_encoding

    m = np.concatenate([np.zeros(30), np.arange(1.0, 31)])
    real = pa.table({"m": m, "plan": ["no"] * 30 + ["yes"] * 30, "label": ["p", "q"] * 30})
    enc = fit_encoding(real, "label")
    synth = pa.table({"m": pa.array([0.0, 0, 0, 5, 6, 7, None, 0, 8, 9]),
                      "plan": ["no", "yes", "no", "yes", "no", "yes", "no", "no", "yes", None]})
    # 9 rows with m; broken: m 0 with "yes" (row 1), m 6 with "no" (row 4)
    assert C.link_report(real, synth, enc) == [{
        "link": "plan == 'no' <=> m == 0", "category": "plan", "column": "m",
        "real_rows": 60, "real_broken": 0, "real_broken_rate": 0.0,
        "synthetic_rows": 9, "broken": 2, "broken_rate": round(2 / 9, 6)}]
    assert C.link_report(real, synth.slice(0, 0), enc) == []
    # the spike broken in two real rows of 60: no link, no report
    bad = real.set_column(1, "plan", pa.array(["yes", "yes"] + ["no"] * 28 + ["yes"] * 30))
    assert C.link_report(bad, synth, fit_encoding(bad, "label")) == []


def test_dependency_report_counts_rows_whose_mapped_value_differs():
    from vae_augment.preparation import fit_encoding

    state = np.repeat(["s0", "s1", "s2", "s3"], 25)
    region = np.where(np.isin(state, ["s0", "s1"]), "r0", "r1")
    real = pa.table({"state": state, "region": region, "label": ["p", "q"] * 50})
    enc = fit_encoding(real, "label")
    synth = pa.table({"state": ["s0", "s1", "s2", "s3", "s9", None],
                      "region": ["r0", "r1", "r1", "r0", "r0", "r1"]})
    # s9 (unseen) and null map to nothing: 4 rows, 2 with the other region
    assert C.dependency_report(real, synth, enc) == [{
        "dependency": "region = f(state)", "column": "region", "determinant": "state",
        "real_rows": 100, "real_broken": 0, "real_broken_rate": 0.0,
        "synthetic_rows": 4, "broken": 2, "broken_rate": 0.5}]
    assert C.dependency_report(real, synth.slice(0, 0), enc) == []
    assert C._broken_counts(0, 0, 0, 0) == {"real_rows": 0, "real_broken": 0,
                                            "real_broken_rate": 0.0, "synthetic_rows": 0,
                                            "broken": 0, "broken_rate": 0.0}


# ----------------------------------------------------------------- derived, auto
def _derived(table, units, **kw):
    stats = C.RelationStats(table.column_names)
    stats.update(table)
    return stats.derived(units, **kw)


def test_an_exact_line_is_derived_from_min_rows_rows_in_the_direction_on_the_grid():
    s = np.arange(20)
    units = {"s": 1.0, "t": 1.0}
    found = _derived(pa.table({"s": s, "t": 2 * s + 1}), units)
    assert [(d.target, d.source) for d in found] == [("t", "s")]
    assert found[0].slope == pytest.approx(2.0) and found[0].intercept == pytest.approx(1.0)
    assert _derived(pa.table({"s": s[:19], "t": 2 * s[:19] + 1}), units) == []
    assert [(d.target, d.source) for d in _derived(
        pa.table({"s": s[:19], "t": 2 * s[:19] + 1}), units, min_rows=19)] == [("t", "s")]
    # t may not be a target: s = (t - 1) / 2 instead (off t's grid, but the one left)
    (back,) = _derived(pa.table({"s": s, "t": 2 * s + 1}), units, exclude={"t"})
    assert (back.target, back.source) == ("s", "t")
    assert back.slope == pytest.approx(0.5) and back.intercept == pytest.approx(-0.5)
    # t null in a row where s is not: no line
    t = pa.array(2 * s + 1, mask=s == 3)
    assert _derived(pa.table({"s": s, "t": t}), units) == []
    # a constant column is no source or target (and no slope is divided by its 0 spread)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _derived(pa.table({"s": s, "k": np.full(20, 4)}), {"s": 1.0, "k": 1.0}) == []


def test_a_line_is_derived_within_four_tenths_of_the_rounding():
    # t = s + e, e = +-d alternating: residual sd d; allowed 0.4 * hypot(1, 1 * 1) = 0.566
    s = np.arange(40.0)
    e = np.where(np.arange(40) % 2 == 0, 1.0, -1.0)
    units = {"s": 1.0, "t": 1.0}
    for d, found in ((0.55, True), (0.58, False)):
        got = _derived(pa.table({"s": s, "t": s + d * e}), units)
        assert bool(got) == found, d
    # unrounded columns (unit 0): within 1e-7 of the target's sd only
    sd = np.std(2 * s)
    assert _derived(pa.table({"s": s, "t": 2 * s + 1e-9 * sd * e}), {}) != []
    assert _derived(pa.table({"s": s, "t": 2 * s + 1e-6 * sd * e}), {}) == []


def test_auto_keeps_a_relation_chance_would_keep_with_probability_under_a_thousandth():
    # knots: a in 0..3, b in 1..4: independent draws break a <= b 3 times in 16
    share = 3 / 16
    assert C.independent_break_share([0, 1, 2, 3], [1, 2, 3, 4]) == share
    need = -np.log(C.AUTO_MAX_CHANCE) / -np.log1p(-share)  # 33.3 rows
    assert 33 < need < 34
    enc = types.SimpleNamespace(
        numeric=[types.SimpleNamespace(name="a", knots=[0, 1, 2, 3]),
                 types.SimpleNamespace(name="b", knots=[1, 2, 3, 4]),
                 types.SimpleNamespace(name="c", knots=None)],
        schema=pa.schema([("a", pa.float64()), ("b", pa.float64()), ("c", pa.float64())]))

    def found(rows, min_break=C.AUTO_MIN_BREAK, knots=True):
        x = np.linspace(0.0, 3.0, rows)
        stats = C.RelationStats(["a", "b", "c"])
        stats.update(pa.table({"a": x, "b": x + 1, "c": x - 0.5}))
        return [str(r) for r in C._auto_relations(stats, enc, min_break)]

    assert found(34) == ["a <= b", "c <= a", "c <= b"]  # c's knots unknown: kept whatever its rows
    assert found(33) == ["c <= a", "c <= b"]
    assert found(33, min_break=0.0) == ["a <= b", "c <= a", "c <= b"]
    assert found(34, min_break=share) == ["a <= b", "c <= a", "c <= b"]
    assert found(34, min_break=share + 1e-9) == ["c <= a", "c <= b"]
    assert found(33) == ["c <= a", "c <= b"]
    assert found(33, min_break=0.0) == ["a <= b", "c <= a", "c <= b"]
    assert found(34, min_break=share) == ["a <= b", "c <= a", "c <= b"]
    assert found(34, min_break=share + 1e-9) == ["c <= a", "c <= b"]


def test_reports_read_the_stats_they_are_given_over_the_same_columns():
    real = pa.table({"a": [1.0, 2, 3, 4, 5, 6], "b": [2.0, 3, 4, 5, 6, 7]})
    synth = pa.table({"a": [1.0, 5.0], "b": [2.0, 4.0]})
    more = C.real_stats(pa.concat_tables([real, real]), ["a", "b"])  # 12 rows
    assert C.relation_report(real, synth, stats=more)[0]["real_rows"] == 12
    other = C.real_stats(real.select(["b", "a"]), ["b", "a"])  # other columns: recomputed
    assert C.relation_report(real, synth, stats=other)[0]["real_rows"] == 6
    s = np.arange(30)
    line = pa.table({"s": s, "t": 2 * s + 1})
    units = {"s": 1.0, "t": 1.0}
    twice = C.real_stats(pa.concat_tables([line, line]), ["s", "t"])
    assert C.derived_report(line, line, units, stats=twice)[0]["real_rows"] == 60
    swapped = C.real_stats(line.select(["t", "s"]), ["t", "s"])
    assert C.derived_report(line, line, units, stats=swapped)[0]["real_rows"] == 30


def test_link_columns_take_spikes_and_nulls_against_categories_of_2_to_64_codes():
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(0)
    n = 260
    m = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 40, n)).astype(float)
    table = pa.table({"m": pa.array(m, mask=rng.random(n) < 0.1), "amt": rng.normal(0, 1, n),
                      "plan": rng.choice(["a", "b"], n), "one": ["z"] * n,
                      "c64": [f"v{i % 64}" for i in range(n)],
                      "c65": [f"v{i % 65}" for i in range(n)], "label": ["p", "q"] * (n // 2)})
    enc = fit_encoding(table, "label")
    assert {s.name: s.n_categories for s in enc.categorical} == {
        "plan": 2, "one": 1, "c64": 64, "c65": 65}
    stats = C.link_columns(enc, ["m", "amt"])
    assert (stats.columns, stats.spikes) == (["m", "m"], [0.0, None])  # amt: neither
    assert (stats.categories, stats.n_codes) == (["plan", "c64"], [2, 64])
    assert C.link_columns(enc, ["m"], ["plan"]).categories == ["plan"]
    assert C.link_columns(enc, ["amt"], ["plan"]) is None  # nothing to link or relate
    assert C.link_columns(enc, ["m"], ["one", "c65"]) is None  # no category to count
    two = C.link_columns(enc, [])  # no numeric column: the two categories' pairs
    assert two.columns == [] and list(two.pairs) == [(0, 1)]
    # each row's class and codes; an unknown label is -1
    batch = pa.table({"label": ["q", "p", "x", None], "plan": ["b", "a", "a", "b"]})
    assert C.class_codes(batch, enc).tolist() == [1, 0, -1, -1]
    plan = next(s for s in enc.categorical if s.name == "plan")
    assert C.category_codes(batch, enc, ["plan"])[:, 0].tolist() == [
        plan.vocab.index("b"), plan.vocab.index("a"), plan.vocab.index("a"),
        plan.vocab.index("b")]
    assert C.category_codes(batch, enc, []).shape == (4, 0)


def test_relation_stats_read_from_parquet_match_the_table(tmp_path):
    import pyarrow.parquet as pq

    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(1)
    n = 300
    x = rng.uniform(0, 10, n)
    table = pa.table({"x": x, "y": x + rng.uniform(0, 1, n), "k": rng.choice(["u", "v"], n),
                      "j": rng.choice(["s", "t"], n), "label": rng.choice(["p", "q"], n)})
    enc = fit_encoding(table, "label")
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=64)
    a = C.relation_stats(table, enc, ["x", "y"], links=True)
    b = C.relation_stats([str(tmp_path / "t.parquet")], enc, ["x", "y"], links=True)
    for field in ("both", "max_diff", "class_both", "class_equal"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    label = np.asarray(table.column("label").to_pylist())
    assert a.class_both[:, 0, 1].tolist() == [(label == c).sum() for c in enc.classes]
    assert b.links is not None and b.links.categories == ["k", "j"]
    pairs = np.zeros((2, 2), np.int64)  # k's and j's codes, counted here
    kv, jv = (next(s.vocab for s in enc.categorical if s.name == c) for c in ("k", "j"))
    for x_k, x_j in zip(table.column("k").to_pylist(), table.column("j").to_pylist()):
        pairs[kv.index(x_k), jv.index(x_j)] += 1
    np.testing.assert_array_equal(a.links.pairs[(0, 1)], pairs)
    np.testing.assert_array_equal(b.links.pairs[(0, 1)], pairs)
    assert C.relation_stats(table, enc, ["x", "y"]).links is None


def _rules_table():
    rng = np.random.default_rng(0)
    n = 200
    s = rng.integers(0, 60, n)
    has = rng.random(n) < 0.4
    state = rng.choice(["s0", "s1", "s2", "s3"], n)
    return pa.table({
        "s": s, "t": 3 * s + 1,  # t derived from s (and s <= t in every row)
        "u": np.round(s + rng.uniform(0, 400, n), 1),  # s <= u, but the marginals keep it
        "msg": np.where(has, rng.integers(1, 30, n), 0),
        # plan is "no" exactly where msg is 0, and a function of tier (null in a fifth of
        # the rows, so tier is linked to nothing)
        "tier": pa.array(np.where(has, "gold", "none"), mask=rng.random(n) < 0.2),
        "plan": np.where(has, "yes", "no"),
        "state": state, "region": np.where(np.isin(state, ["s0", "s1"]), "r0", "r1"),
        "label": rng.choice(["p", "q"], n)})


def test_rules_drop_relations_on_derived_targets_and_never_determine_a_linked_column():
    from vae_augment.preparation import fit_encoding

    table = _rules_table()
    enc = fit_encoding(table, "label")

    def rules(spec):
        r = C.resolve_rules(spec, table, enc)
        return [[str(x) for x in part] for part in r]

    # "auto": t = 3 s + 1, so s <= t goes; plan is linked to msg, so not set from tier
    assert rules("auto") == [[], ["t = 3 * s + 1"], ["plan == 'no' <=> msg == 0"],
                             ["region = f(state)"]]
    # a named relation's columns are never derived; named and found once
    assert rules(["auto", "s <= t", "t >= s"]) == [
        ["s <= t"], [], ["plan == 'no' <=> msg == 0"], ["region = f(state)"]]
    assert rules(["s <= t"]) == [["s <= t"], [], [], []]
    assert rules("none") == [[], [], [], []]
    with pytest.warns(UserWarning, match="'t <= s' does not hold in every training row"):
        assert rules(["t <= s"]) == [["t <= s"], [], [], []]
    spec = C.constraint_spec("auto", enc)
    assert spec.relations(None, enc) == [] and spec.rules(None, enc) == ([], [], [], [])


def test_reports_on_unrounded_lines_and_on_null_links():
    from vae_augment.preparation import fit_encoding

    s = np.arange(30) * 0.37
    real = pa.table({"s": s, "t": 2 * s + 1})
    units = {"s": 0.0, "t": 0.0}  # not rounded: 1e-7 of the target's sd allowed
    sd = np.std(2 * s)
    synth = pa.table({"s": [1.0, 2.0, 3.0], "t": [3 + 0.5e-7 * sd, 5 + 2e-7 * sd, 7 - 2e-7 * sd]})
    (entry,) = C.derived_report(real, synth, units)
    assert (entry["synthetic_rows"], entry["off"]) == (3, 2)
    # amount null exactly where loan is "no": a link to null, every row counted
    real = pa.table({"amount": pa.array(np.arange(60.0) * 1.5, mask=np.arange(60) < 30),
                     "loan": ["no"] * 30 + ["yes"] * 30, "label": ["p", "q"] * 30})
    enc = fit_encoding(real, "label")
    synth = pa.table({"amount": pa.array([None, 5.0, None, 7.0, None]),
                      "loan": ["no", "no", "yes", "yes", "no"]})
    assert C.link_report(real, synth, enc) == [{
        "link": "loan == 'no' <=> amount is null", "category": "loan", "column": "amount",
        "real_rows": 60, "real_broken": 0, "real_broken_rate": 0.0,
        "synthetic_rows": 5, "broken": 2, "broken_rate": 0.4}]


def test_relation_report_puts_chance_relations_last_and_the_worst_first():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.uniform(0, 5, n)  # a, b, c under 8: under big's range
    small, big = rng.uniform(0, 10.5, n), rng.uniform(9.9, 100, n)
    real = pa.table({"a": x, "b": x + rng.uniform(0, 3, n), "c": x + rng.uniform(0, 3, n),
                     "small": small, "big": np.maximum(big, small)})
    synth = pa.table({"a": [5.0, 5, 5, 5], "b": [4.0, 4, 6, 6], "c": [4.0, 4, 4, 6],
                      "small": [9.0, 9, 9, 9], "big": [1.0, 1, 1, 1]})
    got = [(e["relation"], e["violation_rate"], e["by_chance"])
           for e in C.relation_report(real, synth, ["a", "b", "c", "small", "big"])]
    # a <= c broken in 3 of 4 rows, a <= b in 2; small <= big, which big's range all but
    # implies, may hold by chance: after the others though broken in more rows
    assert got == [("a <= c", 0.75, False), ("a <= b", 0.5, False), ("small <= big", 1.0, True)]
    assert [e["relation"] for e in C.relation_report(real, synth, limit=1)] == ["a <= c"]


def test_loose_codes_read_dictionaries_half_floats_negative_zero_and_strangers():
    from vae_augment.preparation import fit_encoding

    real = pa.table({"k": ["u", "v", "w"] * 10, "f": [0.0, 1.0, 2.0] * 10,
                     "label": ["p", "q"] * 15})
    enc = fit_encoding(real, "label", categorical=["f"])
    specs = {s.name: s for s in enc.categorical}
    k, f = specs["k"], specs["f"]
    synth = pa.table({"k": pa.array(["w", "x", None, "u"]).dictionary_encode(),
                      "f": pa.array(np.array([-0.0, 2.0, 7.0, 1.0], np.float16))})
    codes = C._loose_codes(synth, [k, f])
    assert codes[:, 0].tolist() == [k.vocab.index("w"), 3, 3, k.vocab.index("u")]
    assert codes[:, 1].tolist() == [f.vocab.index(0.0), f.vocab.index(2.0), 3,
                                    f.vocab.index(1.0)]
    # a column of another type (dates for strings): every row outside the vocabulary
    odd = pa.table({"k": pa.array([1, 2], pa.date32())})
    assert C._loose_codes(odd, [k]).tolist() == [[3], [3]]
    assert C._loose_codes(odd, []).shape == (2, 0)


def test_a_links_other_value_is_never_its_own():
    # off the spike: "y" once; "n" (the link's value) never
    stats = C.LinkStats(["m"], [0.0], ["plan"], [3])
    stats.update(np.array([[0.0], [0], [0], [5]]), np.array([[N_], [N_], [N_], [Y_]]))
    assert stats.links({"plan": ["n", "y"]}, min_rows=1, max_break=0.0) == [
        C.Link("plan", "n", "m", 0.0, "y")]


def test_reports_of_several_rules_put_the_worst_first():
    from vae_augment.preparation import fit_encoding

    s = np.arange(30)
    real = pa.table({"s": s, "t": 2 * s + 1, "u": 3 * s})
    synth = pa.table({"s": [1.0, 2.0], "t": [3.0, 9.0], "u": [9.0, 0.0]})  # t off 1, u 2
    got = [(e["target"], e["off_rate"])
           for e in C.derived_report(real, synth, {"s": 1.0, "t": 1.0, "u": 1.0})]
    assert got == [("u", 1.0), ("t", 0.5)]
    m = np.concatenate([np.zeros(30), np.arange(1.0, 31)])
    on_w = (np.arange(60) < 10) | ((np.arange(60) >= 30) & (np.arange(60) < 50))
    w = np.where(on_w, 0.0, np.arange(60) + 1.0)  # tier is "a" exactly where w == 0
    real = pa.table({"m": m, "plan": ["no"] * 30 + ["yes"] * 30,
                     "w": w, "tier": np.where(on_w, "a", "z"), "label": ["p", "q"] * 30})
    enc = fit_encoding(real, "label")
    synth = pa.table({"m": [0.0, 0.0], "plan": ["no", "no"],  # plan: no row broken
                      "w": [0.0, 0.0], "tier": ["z", "z"]})  # tier: both
    got = [(e["category"], e["real_broken"], e["broken_rate"])
           for e in C.link_report(real, synth, enc)]
    assert got == [("tier", 0, 1.0), ("plan", 0, 0.0)]
    # a column the synthetic table lacks is left out
    assert [e["category"] for e in C.link_report(real, synth.drop_columns(["w"]), enc)] == [
        "plan"]


def test_a_dependency_needs_groups_of_5_rows_covering_90_percent_and_maps_seen_values():
    def codes_of(sizes):  # state's groups, region = (0, 1, 0, 1, 2, 2)[state]
        state = np.repeat(np.arange(6), sizes)
        rows = np.arange(len(state))
        return np.stack([state, np.array([0, 1, 0, 1, 2, 2])[state], rows % 4, rows % 4,
                         rows % 3], 1)

    def regions(codes):
        return [d for d in _dependencies(codes) if d.column == "region"]

    # groups of 5 rows or more: 45 + 40 + 5 = 90 of 100, just enough; 89 is not
    assert [str(d) for d in regions(codes_of([45, 40, 5, 4, 3, 3]))] == ["region = f(state)"]
    assert regions(codes_of([44, 40, 5, 4, 4, 3])) == []
    # s5 never seen: no pair for it
    (dep,) = regions(codes_of([45, 40, 5, 5, 5, 0]))
    assert [a for a, _ in dep.mapping] == ["s0", "s1", "s2", "s3", "s4"]


def test_a_column_is_determined_once_and_never_determines_when_determined():
    state = np.repeat(np.arange(6), [20, 20, 20, 20, 10, 10])
    region = np.array([0, 0, 1, 1, 2, 2])[state]
    zone = np.array([0, 1, 1])[region]  # a function of region, so of state too
    stats = C.LinkStats([], [], ["state", "region", "zone"], [7, 4, 3])
    stats.update(np.zeros((100, 0)), np.stack([state, region, zone], 1))
    vocabs = {"state": [f"s{i}" for i in range(6)], "region": ["r0", "r1", "r2"],
              "zone": ["z0", "z1"]}
    assert [str(d) for d in stats.dependencies(vocabs)] == ["region = f(state)",
                                                           "zone = f(state)"]
