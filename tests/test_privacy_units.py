"""`vae_augment.privacy` on small hand-made tables: the comparison space, the nearest-row
distances, the near-copy filter and the report's privacy figures, each checked against a
brute-force numpy computation or a count by hand (no model, a few seconds in all)."""

import numpy as np
import pyarrow as pa
import pytest

from vae_augment import privacy
from vae_augment.errors import VAEAugmentError
from vae_augment.training import fit_encoding


def _table(x, s, img, label):
    """A numeric column `x`, a category `s`, a 4-element float tensor `img` and `label`."""
    flat = np.asarray(img, np.float32).reshape(-1)
    return pa.table({"x": pa.array(x, pa.float64()), "s": pa.array(s),
                     "img": pa.FixedSizeListArray.from_arrays(pa.array(flat), 4),
                     "label": pa.array(label)})


@pytest.fixture(scope="module")
def small():
    """Twelve rows of two classes, every kind of column, a null numeric; the encoding."""
    rng = np.random.default_rng(0)
    x = [1.0, 2.5, None, 4.0, 5.5, 7.0, 8.0, 9.5, 11.0, 12.0, 13.5, 15.0]
    s = ["p", "q", "p", "r", "q", "p", "r", "r", "q", "p", "q", "r"]
    img = rng.random((12, 4))
    label = ["a"] * 6 + ["b"] * 6
    table = _table(x, s, img, label)
    return table, fit_encoding(table, "label", numeric=["x"])


def _expected_features(enc, table):
    """The comparison space by hand from the encoded values: numeric and null indicator as
    encoded, each category one-hot at 1/sqrt(2), the tensor divided by sqrt(4 elements),
    all divided by sqrt(3 columns)."""
    x = enc.encode(table, with_label=False)
    n = table.num_rows
    onehot = np.zeros((n, 3))
    onehot[np.arange(n), x["cat"][:, 0]] = 1 / np.sqrt(2)
    return np.hstack([x["num"], x["nulls"], onehot, x["tensor_0"] / 2.0]) / np.sqrt(3)


def _brute_nearest(ref, query):
    """Euclidean distance of each query row to its nearest reference row (numpy, no index)."""
    return np.sqrt(((query[:, None, :] - ref[None, :, :]) ** 2).sum(-1)).min(axis=1)


# ---------------------------------------------------------------------- the comparison space
def test_feature_matrix_is_the_scaled_encoded_columns(small):
    table, enc = small
    want = _expected_features(enc, table)
    got = privacy.feature_matrix(enc, table)
    assert got.shape == (12, 1 + 1 + 3 + 4)
    np.testing.assert_allclose(got, want, atol=1e-6)
    sparse = privacy.feature_matrix(enc, table, sparse=True)
    np.testing.assert_allclose(sparse.toarray(), want, atol=1e-6)
    no_label = privacy.feature_matrix(enc, table.drop_columns(["label"]))  # not needed
    np.testing.assert_allclose(no_label, want, atol=1e-6)


def test_feature_matrix_is_float32_and_the_same_dense_or_sparse(small):
    """As its docstring says, float32 (a float64 scale made the dense matrix float64: twice
    the memory of the reference rows), and the dense values are the sparse path's, bit for
    bit (a tensor column and a category included)."""
    table, enc = small
    dense = privacy.feature_matrix(enc, table)
    sparse = privacy.feature_matrix(enc, table, sparse=True)
    assert dense.dtype == np.float32 and sparse.dtype == np.float32
    np.testing.assert_array_equal(dense, sparse.toarray())
    # two rows that differ only in their category are 1 / sqrt(3 columns) apart
    a, b = table.slice(0, 1), table.slice(0, 1).set_column(1, "s", pa.array(["q"]))
    gap = privacy.feature_matrix(enc, a) - privacy.feature_matrix(enc, b)
    assert np.linalg.norm(gap) == pytest.approx(1 / np.sqrt(3), abs=1e-6)


def test_feature_matrix_buckets_a_columns_categories(small):
    table, enc = small
    codes = enc.encode(table, with_label=False)["cat"][:, 0]
    buckets = {"s": np.array([1, 0, 1])}  # codes 0 and 2 share feature 1: width 2
    got = privacy.feature_matrix(enc, table, buckets=buckets)
    assert got.shape == (12, 1 + 1 + 2 + 4)
    onehot = np.zeros((12, 2))
    onehot[np.arange(12), buckets["s"][codes]] = 1 / np.sqrt(2)
    np.testing.assert_allclose(got[:, 2:4], onehot / np.sqrt(3), atol=1e-6)
    np.testing.assert_allclose(got[:, [0, 1, 4, 5, 6, 7]],
                               _expected_features(enc, table)[:, [0, 1, 5, 6, 7, 8]],
                               atol=1e-6)
    sparse = privacy.feature_matrix(enc, table, buckets=buckets, sparse=True)
    np.testing.assert_allclose(sparse.toarray(), got, atol=1e-6)


def test_wide_categories_and_buckets_on_a_small_cap():
    """More values than the cap (nulls not counted) is wide; the cap - 1 most frequent values
    in the tables given (ties: the lower code) get a feature each, the rest share the last."""
    v = ["u"] * 5 + ["w"] * 3 + ["t"] * 3 + ["z"] + [None] * 2
    table = pa.table({"v": pa.array(v), "label": pa.array(["a", "b"] * 7)})
    enc = fit_encoding(table, "label")
    spec = enc.categorical[0]
    assert len(spec.vocab) == 4
    assert privacy.wide_categories(enc, 4) == {}  # 4 values: not more than 4
    assert privacy.wide_categories(enc, 3) == {"v": spec.n_categories}
    assert privacy.category_buckets(enc, (table,), 4) == {}

    def code(value):
        t = pa.table({"v": pa.array([value], pa.string()), "label": pa.array(["a"])})
        return int(enc.encode(t, with_label=False)["cat"][0, 0])

    # counts over every table (the empty one adds nothing; no label needed): w 3 + 4 = 7,
    # u 5 + 1 = 6 (its one in a table of one row), t 3 + 2 = 5, z 1, null 2
    more = pa.table({"v": pa.array(["w"] * 4 + ["t"] * 2)})
    one_row = pa.table({"v": pa.array(["u"])})
    got = privacy.category_buckets(enc, (table, table.slice(0, 0), more, one_row), 3)["v"]
    want = np.full(spec.n_categories, 2)
    want[code("w")], want[code("u")] = 0, 1  # u outnumbers t by its one-row table's row
    np.testing.assert_array_equal(got, want)
    # a tie for the second feature: w and t both 3, the lower code wins
    got = privacy.category_buckets(enc, (table,), 3)["v"]
    want = np.full(spec.n_categories, 2)
    want[code("u")], want[min(code("w"), code("t"))] = 0, 1
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------- nearest distances
def test_distance_to_closest_is_the_brute_force_nearest_row(small):
    table, enc = small
    ref = table.slice(0, 8)  # class a: 6 rows; b: 2
    relabelled = table.slice(0, 1).set_column(3, "label", pa.array(["b"]))  # row 0 as b
    query = pa.concat_tables([table.slice(4, 8), relabelled])
    xr, xq = _expected_features(enc, ref), _expected_features(enc, query)
    yr, yq = enc.encode(ref)["y"], enc.encode(query)["y"]
    want = np.array([_brute_nearest(xr[yr == c], xq[i:i + 1])[0] for i, c in enumerate(yq)])
    got = privacy.distance_to_closest(enc, ref, query)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert got[0] == pytest.approx(0.0, abs=1e-6)  # row 4 is in both
    # without classes: the nearest row of any class, nearer for some row here
    want_any = _brute_nearest(xr, xq)
    got_any = privacy.distance_to_closest(enc, ref, query, by_class=False)
    np.testing.assert_allclose(got_any, want_any, atol=1e-5)
    assert want_any[-1] == pytest.approx(0.0, abs=1e-6) and want[-1] > 0.1


def test_distance_to_closest_of_a_class_or_table_without_rows_is_inf(small):
    table, enc = small
    only_a, only_b = table.slice(0, 6), table.slice(6, 6)
    mixed = table.slice(3, 6)  # 3 rows of a, 3 of b
    d = privacy.distance_to_closest(enc, only_a, mixed)
    assert np.isinf(d[3:]).all() and np.isfinite(d[:3]).all()
    for by_class in (True, False):
        assert np.isinf(privacy.distance_to_closest(enc, only_a.slice(0, 0), mixed,
                                                    by_class=by_class)).all()
        assert privacy.distance_to_closest(enc, only_b, mixed.slice(0, 0),
                                           by_class=by_class).shape == (0,)


# ---------------------------------------------------------------------- the near-copy filter
def _nudged(table, enc, row, delta):
    """Row `row` of `table` with its tensor's first element moved by `delta` on the encoded
    (standardised) scale: `delta` / sqrt(4 elements) / sqrt(3 columns) away from the row."""
    one = table.slice(row, 1)
    img = np.asarray(one.column("img").combine_chunks().flatten(), np.float32).copy()
    img[0] += np.float32(delta * np.asarray(enc.tensors[0].std).reshape(-1)[0])
    return one.set_column(2, "img", pa.FixedSizeListArray.from_arrays(pa.array(img), 4))


def test_near_copy_index_distances_and_threshold(small):
    table, enc = small
    ref = table.slice(0, 6)
    index = privacy.NearCopyIndex(enc, ref)
    assert index.rows == 6
    # a tensor element moved by 0.6 (encoded): 0.6 / sqrt(4) / sqrt(3) = 0.1732 away
    far = _nudged(table, enc, 2, 0.6)
    want = _brute_nearest(_expected_features(enc, ref), _expected_features(enc, far))[0]
    assert want == pytest.approx(0.6 / 2 / np.sqrt(3), abs=1e-6)  # row 2 is still nearest
    # 3e-5 / 2 / sqrt(3) = 8.7e-6: within EXACT_TOLERANCE (1e-5), float32 noise's order
    near = _nudged(table, enc, 2, 3e-5)
    query = pa.concat_tables([ref.slice(1, 1), far, near])
    d = index.distances(query)
    np.testing.assert_allclose(d, [0.0, want, 3e-5 / 2 / np.sqrt(3)], atol=2e-6)
    assert 0 < d[2] < privacy.EXACT_TOLERANCE
    assert index.keep(query, 0.0).tolist() == [False, True, False]
    assert index.keep(query, 0.17).tolist() == [False, True, False]
    assert index.keep(query, 0.18).tolist() == [False, False, False]
    assert index.keep(far, float(index.distances(far)[0])).tolist() == [False]  # not farther
    assert index.distances(query.slice(0, 0)).shape == (0,)
    assert index.keep(query.slice(0, 0), 0.0).shape == (0,)
    empty = privacy.NearCopyIndex(enc, ref.slice(0, 0))
    assert empty.rows == 0 and np.isinf(empty.distances(query)).all()
    assert empty.keep(query, 0.5).tolist() == [True] * 3


def test_filter_near_copies_drops_rows_within_the_distance(small):
    table, enc = small
    ref = table.slice(0, 6)  # class a
    far = _nudged(table, enc, 2, 0.6)
    near = _nudged(table, enc, 2, 3e-5)
    # a copy, a row 0.17 away, a row within the exact tolerance, a row of a class ref lacks;
    # an extra column the reference has not is ignored (and kept)
    syn = pa.concat_tables([ref.slice(1, 1), far, near, table.slice(8, 1)])
    syn = syn.append_column("extra", pa.array([1, 2, 3, 4]))
    kept, dropped = privacy.filter_near_copies(enc, ref, syn, 0.0)
    assert dropped == 2 and kept.column("extra").to_pylist() == [2, 4]
    kept, dropped = privacy.filter_near_copies(enc, ref, syn, 0.18)
    assert dropped == 3 and kept.column("extra").to_pylist() == [4]
    # a row exactly at `min_distance` is not farther: dropped, as `NearCopyIndex.keep` does
    index = privacy.NearCopyIndex(enc, ref)
    at = float(privacy.distance_to_closest(enc, ref, far)[0])
    for d in (0.0, at, np.nextafter(at, 0.0), 0.18):
        kept, dropped = privacy.filter_near_copies(enc, ref, syn, d)
        keep = index.keep(syn.slice(0, 3), d).tolist() + [True]
        assert kept.column("extra").to_pylist() == [e for e, k in zip([1, 2, 3, 4], keep) if k]
        assert dropped == keep.count(False)
    assert privacy.filter_near_copies(enc, ref, far, at)[1] == 1
    with pytest.raises(VAEAugmentError, match=r"`min_distance` must be >= 0, got -0.1"):
        privacy.filter_near_copies(enc, ref, syn, -0.1)


# ---------------------------------------------------------------------- the report's figures
def test_summary_of_the_finite_distances():
    d = np.array([0.0, 1.0, 2.0, 3.0, 10.0, np.inf])
    got = privacy._summary(d)
    # median of the 5 finite values 2; 5 % quantile at position 0.2: 0.2; mean 16 / 5
    assert got == {"median": 2.0, "p05": pytest.approx(0.2), "mean": pytest.approx(3.2),
                   "n": 5}
    assert privacy._summary(np.array([np.inf, np.inf])) == {
        "median": None, "p05": None, "mean": None, "n": 0}


def test_closer_than_p05_counts_a_value_at_an_untied_quantile_as_not_below():
    holdout = np.arange(11.0)  # the 5 % quantile is 0.5, which no holdout row sits at
    assert privacy._closer_than_p05(np.array([0.5, 0.4, 0.6]), holdout) == 1.0


# ---------------------------------------------------------------------- the privacy section
def _rows(rng, n, label):
    return pa.table({"x": pa.array(rng.normal(0, 1, n)), "y": pa.array(rng.normal(5, 2, n)),
                     "label": pa.array([label] * n)})


@pytest.fixture(scope="module")
def split():
    """real-train (a 30, b 30), real-test (a 26: one repeats a real-train row; b 25) and
    synthetic rows: a 3 copies of real-train rows, 2 of real-test rows and 10 new; b 1 copy
    of a real-train row and 9 new; c (a class REAL lacks) 4."""
    rng = np.random.default_rng(7)
    train = pa.concat_tables([_rows(rng, 30, "a"), _rows(rng, 30, "b")])
    test = pa.concat_tables([_rows(rng, 25, "a"), train.slice(5, 1), _rows(rng, 25, "b")])
    syn = pa.concat_tables([
        train.take([0, 1, 2]), test.take([0, 1]), _rows(rng, 10, "a"),
        train.take([40]), _rows(rng, 9, "b"), _rows(rng, 4, "c")])
    enc = fit_encoding(pa.concat_tables([train, test, syn]), "label", numeric=["x", "y"])
    return enc, train, test, syn


def _class_distances(enc, ref, query):
    """Brute force: each query row's distance to the nearest `ref` row of its class (inf:
    none); the space is the two encoded numerics over sqrt(2) (no nulls, no categories)."""
    def feats(t):
        x = enc.encode(t, with_label=False)
        assert x["nulls"].shape[1] == 0 and x["cat"].shape[1] == 0
        return x["num"].astype(np.float64) / np.sqrt(2)

    xr, xq = feats(ref), feats(query)
    yr, yq = enc.encode(ref)["y"], enc.encode(query)["y"]
    out = np.full(len(xq), np.inf)
    for i, c in enumerate(yq):
        if (yr == c).any():
            out[i] = _brute_nearest(xr[yr == c], xq[i:i + 1])[0]
    return out


def _share_below_p05(ds, dh):
    """Rows of `ds` below the 5 % quantile of `dh` (no ties in these continuous distances
    but zeros, which lie below the quantile here)."""
    p05 = np.quantile(dh, 0.05)
    assert not (dh == p05).any()
    return int(np.sum(ds < p05))


def test_the_privacy_figures_of_a_split(split):
    """REAL split into real-train and real-test (`evaluate` without a holdout)."""
    enc, train, test, syn = split
    real = pa.concat_tables([train, test])
    report, d_syn, d_hold = privacy._privacy(enc, real, train, test, syn, 0, 10_000)
    want_syn, want_hold = _class_distances(enc, train, syn), _class_distances(enc, train, test)
    np.testing.assert_allclose(d_syn, want_syn, atol=1e-6)
    np.testing.assert_allclose(d_hold, want_hold, atol=1e-6)
    assert report["exact_copy_rows"] == 25 and report["exact_copy_left_out"] == 4
    assert report["exact_copies"] == 6 and report["test_exact_copies"] == 2
    assert report["exact_copy_rate"] == pytest.approx(6 / 25)
    assert report["test_exact_copy_rate"] == pytest.approx(2 / 25)
    assert report["train_exact_copy_rate"] == pytest.approx(4 / 25)
    assert report["holdout_exact_copy_rate"] == pytest.approx(1 / 51)
    assert report["exact_tolerance"] == privacy.EXACT_TOLERANCE == 1e-5
    finite = want_syn[np.isfinite(want_syn)]
    assert report["dcr_synthetic"] == {
        "median": pytest.approx(np.median(finite)), "n": 25,
        "p05": pytest.approx(np.quantile(finite, 0.05)), "mean": pytest.approx(finite.mean())}
    assert report["dcr_holdout"]["n"] == 51
    assert report["dcr_holdout"]["mean"] == pytest.approx(want_hold.mean())
    y_syn, y_test = enc.encode(syn)["y"], enc.encode(test)["y"]
    per = report["per_class"]
    assert list(per) == ["a", "b", "c"]
    assert [per[c]["exact_copy_rate"] for c in "abc"] == pytest.approx([5 / 15, 1 / 10, 0.0])
    assert per["c"]["synthetic"]["n"] == 0 and per["c"]["holdout"]["median"] is None
    assert "share_closer_than_holdout_p05" not in per["c"]
    assert per["a"]["holdout"]["n"] == 26 and per["b"]["synthetic"]["n"] == 10
    closer = {}
    for k, c in enumerate("ab"):
        closer[c] = _share_below_p05(want_syn[y_syn == k], want_hold[y_test == k])
        assert per[c]["share_closer_than_holdout_p05"] == pytest.approx(
            closer[c] / (15, 10)[k])
    assert closer["a"] >= 3  # the real-train copies at least
    assert report["share_closer_than_holdout_p05"] == pytest.approx(
        (closer["a"] + closer["b"]) / 25)
    # whether the generator saw real-test: synthetic rows nearer a real-test row than 95 %
    # of real-train rows are (the two real-test copies at least)
    d_test = _class_distances(enc, test, syn)
    d_ref = _class_distances(enc, test, train)
    y_train = enc.encode(train)["y"]
    seen = {c: _share_below_p05(d_test[y_syn == k], d_ref[y_train == k])
            for k, c in enumerate("ab")}
    assert seen["a"] >= 2
    for k, c in enumerate("ab"):
        assert per[c]["share_closer_to_test_than_train_p05"] == pytest.approx(
            seen[c] / (15, 10)[k])
    assert report["share_closer_to_test_than_train_p05"] == pytest.approx(
        (seen["a"] + seen["b"]) / 25)


def test_the_privacy_figures_with_a_holdout(split):
    """A holdout given: REAL is real-train, copies of holdout rows are not exact copies."""
    enc, train, test, syn = split
    report, d_syn, _ = privacy._privacy(enc, train, train, test, syn, 0, 10_000)
    assert report["exact_copies"] == 4 and report["test_exact_copies"] == 0
    assert report["exact_copy_rate"] == pytest.approx(4 / 25)
    assert report["train_exact_copy_rate"] == pytest.approx(4 / 25)
    assert report["test_exact_copy_rate"] is None
    assert report["per_class"]["a"]["exact_copy_rate"] == pytest.approx(3 / 15)
    d_test = _class_distances(enc, test, syn)
    d_ref = _class_distances(enc, test, train)
    y_syn, y_train = enc.encode(syn)["y"], enc.encode(train)["y"]
    seen = sum(_share_below_p05(d_test[y_syn == k], d_ref[y_train == k]) for k in (0, 1))
    assert report["share_closer_to_test_than_train_p05"] == pytest.approx(seen / 25)


def test_the_real_train_rows_for_the_seen_test_figure_are_drawn_without_replacement(
        split, monkeypatch):
    """More real-train rows than `max_rows`: `max_rows` distinct ones, of the synthetic
    rows' classes only, are searched against real-test."""
    enc, train, test, syn = split
    queries = []
    real_search = privacy.distance_to_closest

    def spy(encoding, reference, query, **kwargs):
        queries.append(query)
        return real_search(encoding, reference, query, **kwargs)

    monkeypatch.setattr(privacy, "distance_to_closest", spy)
    only_a = syn.slice(0, 15)
    privacy._privacy(enc, pa.concat_tables([train, test]), train, test, only_a, 0, 12)
    ref = queries[-1]  # real-train rows to real-test: the last search
    assert ref.num_rows == 12 and set(ref.column("label").to_pylist()) == {"a"}
    xs = ref.column("x").to_pylist()
    assert len(set(xs)) == 12 and set(xs) <= set(train.column("x").to_pylist())
    assert xs == sorted(xs, key=train.column("x").to_pylist().index)  # in table order


def test_the_near_copy_shares_need_20_rows_of_a_class():
    """A class's share nearer real-train than the holdout's 5 % quantile needs 20 holdout
    rows of it; the share nearer real-test than real-train's needs 20 real-train rows."""
    rng = np.random.default_rng(3)
    train = pa.concat_tables([_rows(rng, 20, "a"), _rows(rng, 19, "b"), _rows(rng, 19, "c"),
                              _rows(rng, 20, "d")])
    test = pa.concat_tables([_rows(rng, 20, "a"), _rows(rng, 19, "b"), _rows(rng, 20, "c"),
                             _rows(rng, 19, "d")])
    syn = pa.concat_tables([_rows(rng, 5, c) for c in "abcd"])
    enc = fit_encoding(pa.concat_tables([train, test, syn]), "label", numeric=["x", "y"])
    report, _, _ = privacy._privacy(enc, train, train, test, syn, 0, 10_000)
    per = report["per_class"]
    holdout_share, test_share = "share_closer_than_holdout_p05", "share_closer_to_test_than_train_p05"
    assert [holdout_share in per[c] for c in "abcd"] == [True, False, True, False]
    assert [test_share in per[c] for c in "abcd"] == [True, False, False, True]


def test_closer_than_p05_takes_the_part_of_a_tie_that_completes_5_percent():
    """3 % of the holdout below its 5 % quantile, 57 % at it: the rows at the quantile count
    2 / 57 each (the part of the tie that puts exactly 5 % of the holdout below)."""
    holdout = np.r_[np.zeros(3), np.ones(57), np.full(40, 2.0)]
    assert privacy._closer_than_p05(np.ones(57), holdout) == pytest.approx(2.0)
    assert privacy._closer_than_p05(np.r_[0.5, np.ones(57)], holdout) == pytest.approx(3.0)
