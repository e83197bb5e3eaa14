"""`vae_augment.guide` on small arrays: the feature layout, the worker count, the class
probabilities, and `fit_guide` against a direct (no histogram) greedy fit written here."""

import numpy as np
import pytest

from vae_augment import guide as G


# ---------------------------------------------------------------------- features
def _layout(n_num=2, n_null=1, cat_sizes=(3, 32, 33), shapes=((2, 3), (4,))):
    return {"n_num": n_num, "n_null": n_null, "cat_sizes": list(cat_sizes),
            "tensors": [{"shape": list(s)} for s in shapes]}


def test_guide_width_counts_one_hot_categories_codes_and_small_tensors():
    # 2 numerics + 1 null + 3 + 32 one-hot + 1 code (33 values) + 6 + 4 tensor values
    assert G.guide_width(_layout()) == 2 + 1 + 3 + 32 + 1 + 6 + 4
    # tensors of 1024 values in all are features; 1025 are none
    assert G.guide_width(_layout(0, 0, (), ((32, 32),))) == 1024
    assert G.guide_width(_layout(0, 0, (), ((32, 32), (1,)))) == 0
    assert G.guide_width(_layout(1, 0, (), ((32, 32), (1,)))) == 1


def test_guide_features_are_the_encoded_columns_side_by_side():
    rng = np.random.default_rng(0)
    b = 5
    x = {"num": rng.standard_normal((b, 2)), "nulls": rng.integers(0, 2, (b, 1)),
         "cat": np.stack([rng.integers(0, 3, b), rng.integers(0, 32, b),
                          rng.integers(0, 33, b)], 1),
         "tensor_0": rng.random((b, 2, 3)), "tensor_1": rng.random((b, 4)),
         "y": np.zeros(b, int)}
    got = G.guide_features(_layout(), x).numpy()
    want = np.hstack([x["num"], x["nulls"], np.eye(3)[x["cat"][:, 0]],
                      np.eye(32)[x["cat"][:, 1]], x["cat"][:, 2:3],
                      x["tensor_0"].reshape(b, 6), x["tensor_1"]])
    assert got.dtype == np.float32 and got.shape == (b, 49)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # tensors too wide in all are left out; no feature at all: [B, 0]
    wide = {**x, "tensor_0": rng.random((b, 32, 32))}
    got = G.guide_features(_layout(shapes=((32, 32), (4,))), wide).numpy()
    np.testing.assert_allclose(got, want[:, :39], rtol=1e-6)
    assert G.guide_features(_layout(0, 0, (), ()), x).shape == (b, 0)


def test_guide_workers_one_per_cpu_fit_and_memory_share(monkeypatch):
    cpus = {0: set(range(8))}  # this process's (pid 0) usable CPUs
    monkeypatch.setattr(G.os, "sched_getaffinity", lambda pid: cpus[pid], raising=False)
    assert G.guide_workers(1000, 10, 3) == 3  # fewer fits than CPUs
    assert G.guide_workers(1000, 10, 20) == 8  # fewer CPUs than fits
    # a fit holds 4 x 8 bytes per cell: 2**20 rows x 16 features is 2**29 bytes, 2 in 1 GiB
    assert G.guide_workers(2 ** 20, 16, 20) == 2
    assert G.guide_workers(2 ** 20, 32, 20) == 1
    assert G.guide_workers(2 ** 21, 32, 20) == 1  # over the budget alone: still one
    assert G.guide_workers(0, 0, 5) == 5  # empty: counted as one row, one feature
    cpus[0] = set(range(64))
    assert G.guide_workers(2 ** 20, 4, 20) == 8  # 2**27 bytes a fit: 8 in 1 GiB
    monkeypatch.delattr(G.os, "sched_getaffinity", raising=False)  # not Linux
    monkeypatch.setattr(G.os, "cpu_count", lambda: 4)
    assert G.guide_workers(1000, 10, 20) == 4
    monkeypatch.setattr(G.os, "cpu_count", lambda: None)
    assert G.guide_workers(1000, 10, 20) == 1


def test_class_proba_is_the_softmax_share_of_each_rows_class_in_batches():
    trees = {
        "feature": np.array([[0], [1]], np.int32),
        "threshold": np.array([[0.0], [0.5]], np.float32),
        "value": np.array([[-1.0, 1.0], [0.5, -0.5]], np.float32),
        "tree_class": np.array([1, 2], np.int32),
        "baseline": np.log(np.array([0.5, 0.3, 0.2], np.float32)),
    }
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 2, 1, 0, 1])
    logits = np.tile(trees["baseline"].astype(np.float64), (7, 1))
    logits[:, 1] += np.where(x[:, 0] > 0.0, 1.0, -1.0)
    logits[:, 2] += np.where(x[:, 1] > 0.5, -0.5, 0.5)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    want = p[np.arange(7), y]
    for batch in (3, 7, 8192):
        np.testing.assert_allclose(G.class_proba(trees, x, y, batch=batch), want, rtol=1e-5)
    assert G.class_proba(trees, x[:0], y[:0]).shape == (0,)


# ---------------------------------------------------------------------- fitting
def _direct_fit(x, y, n_classes, iterations, depth, binary_one_tree=True):
    """Greedy oblivious boosting written out directly: every candidate threshold (here every
    value a feature takes but its largest: integer data) scored over the rows themselves,
    no histograms. Returns the chosen (feature, threshold) per level and the leaf values."""
    n, n_feat = x.shape
    per_round = 1 if binary_one_tree and n_classes == 2 else n_classes
    classes = list(range(n_classes - per_round, n_classes))
    share = np.bincount(y, minlength=n_classes) / n
    logits = np.tile(np.log(np.maximum(share, 1e-6)).astype(np.float32).astype(np.float64),
                     (n, 1))
    lam, out = 1.0, []
    for _ in range(iterations):
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        for c in classes:
            g = p[:, c] - (y == c)
            h = np.maximum(p[:, c] * (1 - p[:, c]), 1e-6)
            leaf, splits = np.zeros(n, int), []
            for _level in range(depth):
                best = None
                for f in range(n_feat):
                    for thr in np.unique(x[:, f])[:-1]:
                        right = x[:, f] > thr
                        gain = 0.0
                        for q in np.unique(leaf):
                            m = leaf == q
                            gl, hl = g[m & ~right].sum(), h[m & ~right].sum()
                            gt, ht = g[m].sum(), h[m].sum()
                            gain += (gl ** 2 / (hl + lam) + (gt - gl) ** 2 / (ht - hl + lam)
                                     - gt ** 2 / (ht + lam))
                        if gain > 1e-12 and (best is None or gain > best[0] + 1e-9):
                            best = (gain, f, thr)
                if best is None:
                    break
                splits.append((best[1], best[2]))
                leaf = 2 * leaf + (x[:, best[1]] > best[2])
            leaf = leaf << (depth - len(splits))
            values = np.zeros(2 ** depth)
            for q in range(2 ** depth):
                values[q] = -0.2 * g[leaf == q].sum() / (h[leaf == q].sum() + lam)
            logits[:, c] += values[leaf]
            out.append((splits, values))
    return out


@pytest.mark.parametrize("n_classes, binary_one_tree", [(2, True), (2, False), (3, True)])
def test_fit_guide_matches_a_direct_greedy_fit(n_classes, binary_one_tree):
    """Integer features of 4-6 values (each value a large enough share that it is itself a
    candidate threshold): the histogram fit chooses the same splits and leaf values."""
    rng = np.random.default_rng(5 + n_classes)
    n = 240
    x = np.stack([rng.integers(0, 4, n), rng.integers(0, 5, n), rng.integers(0, 6, n)],
                 1).astype(np.float32)
    score = x[:, 0] + 0.7 * x[:, 2] + rng.normal(0, 1.2, n)
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    got = G.fit_guide(x, y, n_classes, iterations=3, depth=3, binary_one_tree=binary_one_tree)
    want = _direct_fit(x, y, n_classes, 3, 3, binary_one_tree)
    assert len(got["feature"]) == len(want) == 3 * (1 if binary_one_tree and n_classes == 2
                                                    else n_classes)
    share = np.bincount(y, minlength=n_classes) / n
    np.testing.assert_allclose(got["baseline"], np.log(share), rtol=1e-6)
    per_round = len(want) // 3
    np.testing.assert_array_equal(got["tree_class"],
                                  np.tile(np.arange(n_classes - per_round, n_classes), 3))
    for t, (splits, values) in enumerate(want):
        assert splits, "every tree splits this data"
        for level in range(3):
            if level < len(splits):
                assert (got["feature"][t, level], got["threshold"][t, level]) == splits[level]
            else:
                assert got["threshold"][t, level] == np.inf
        np.testing.assert_allclose(got["value"][t], values, rtol=1e-4, atol=1e-6)


def test_fit_guide_stops_a_tree_when_no_split_gains():
    """One informative binary feature, depth 3: the first level splits on it; then no split
    gains anything, the other levels send every row left (threshold +inf) and the leaves are
    the two halves' values at leaves 0 and 4."""
    x = np.repeat(np.array([[0.0], [1.0]], np.float32), [30, 10], 0)
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    got = G.fit_guide(x, y, 2, iterations=1, depth=3)
    np.testing.assert_array_equal(got["threshold"][0], [0.0, np.inf, np.inf])
    p = 0.25  # class 1's baseline share: g = p - y, h = p (1 - p)
    left = -0.2 * (30 * p) / (30 * p * (1 - p) + 1)
    right = -0.2 * (10 * (p - 1)) / (10 * p * (1 - p) + 1)
    want = np.zeros(8)
    want[0], want[4] = left, right
    np.testing.assert_allclose(got["value"][0], want, rtol=1e-5)


def test_fit_guide_splits_at_the_1_32_quantiles():
    """The candidate thresholds are the 31 inner 1/32 quantiles of a feature: on 0..319 they
    are 319 k / 32, and the class boundary at 100.5 is split at the nearest, k = 10."""
    x = np.arange(320, dtype=np.float32)[:, None]
    y = (x[:, 0] > 100.5).astype(int)
    got = G.fit_guide(x, y, 2, iterations=1, depth=1)
    assert got["threshold"][0, 0] == pytest.approx(319 * 10 / 32)


def test_trees_per_round_and_a_fit_on_no_rows():
    assert [G.trees_per_round(c) for c in (1, 2, 3)] == [1, 1, 3]  # one tree for two classes
    assert G.trees_per_round(2, binary_one_tree=False) == 2
    empty = G.fit_guide(np.zeros((0, 3), np.float32), np.zeros(0, int), 2, iterations=2, depth=2)
    np.testing.assert_allclose(empty["baseline"], np.log([1e-6, 1e-6]), rtol=1e-6)
    assert np.all(empty["value"] == 0) and np.all(np.isinf(empty["threshold"]))


def test_fit_guide_can_split_off_one_row_but_not_at_the_minimum():
    """The lowest candidate is the 1/32 quantile, not the minimum, and a split may leave a
    single row on the left: on 0..9 with only row 0 of class 0, the split is at 9 / 32;
    on 0..319 with only row 0 of class 0, at 319 / 32 (rows 0-9 left)."""
    for n in (10, 320):
        x = np.arange(n, dtype=np.float32)[:, None]
        got = G.fit_guide(x, (x[:, 0] > 0.5).astype(int), 2, iterations=1, depth=1)
        assert got["threshold"][0, 0] == pytest.approx((n - 1) / 32)


def test_the_row_sample_above_the_cap_is_of_distinct_rows(monkeypatch):
    """Above `GUIDE_MAX_ROWS` the guide fits a sample of distinct rows: with the cap one
    under the row count, every class keeps all its rows but at most one, which the fitted
    baseline (log class shares) shows. A draw with replacement repeats some rows and misses
    others, moving the shares by about 10 rows in 400 (guide mutant 133)."""
    monkeypatch.setattr(G, "GUIDE_MAX_ROWS", 399)
    x = np.arange(400, dtype=np.float32)[:, None]
    y = np.repeat([0, 1], 200)
    allowed = {np.float32(np.log(199 / 399)), np.float32(np.log(200 / 399))}
    for seed in range(5):
        baseline = G.fit_guide(x, y, 2, iterations=1, depth=1, seed=seed)["baseline"]
        assert set(baseline.tolist()) <= allowed, (seed, baseline)


def test_a_split_is_void_by_its_own_features_counts_only():
    """Whether a threshold sends every row one way is counted on its own feature: two 0/1
    features, the second the label, the first independent of it. Each feature's rows at or
    under 0 are half the rows, so the label's split is valid and is the first tree's root
    (counting the bins' rows across features voided it: guide mutant 83)."""
    y = np.repeat([0, 1], 200)
    x = np.stack([np.tile([0.0, 1.0], 200), y], axis=1).astype(np.float32)
    out = G.fit_guide(x, y, 2, iterations=1, depth=1, seed=0)
    assert out["feature"][0, 0] == 1
    assert out["threshold"][0, 0] == 0.0
