"""Exact values of `vae_augment.fidelity`'s figures on small hand-made tables (no model).

Written for the mutants of fidelity.py that survived tests/test_evaluation.py (session 58,
benchmarks/results/mutants_fidelity_s58.md): each expected value is worked out here
independently (by hand, with SciPy, or by replaying the same random permutation), not read
off the code's output."""

import math
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import chi2_contingency, ks_2samp, pearsonr

from vae_augment import fidelity
from vae_augment.fidelity import (
    _corr_ratio,
    _cramers_v,
    _element_ks_complement,
    _fidelity,
    _halves_score,
    _pearson,
)
from vae_augment.training import fit_encoding


def _img(rows) -> pa.Array:
    """A fixed-size-list (tensor) column of float rows."""
    rows = np.asarray(rows, dtype=np.float64)
    return pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), rows.shape[1])


def _classes(rng, n_per_class, related, extra=None):
    """Rows of classes a, b, ...: numerics x, y (y ~ x when `related`, a third of y null)
    and a category s (hi / lo by the sign of x when `related`)."""
    label = np.repeat(["a", "b", "c"][: len(n_per_class)], n_per_class)
    x = rng.normal(size=len(label))
    y = x + 0.1 * rng.normal(size=len(label)) if related else rng.normal(size=len(label))
    s = np.where(x > 0, "hi", "lo") if related else rng.choice(["hi", "lo"], len(label))
    cols = {"x": x, "y": pa.array(y, mask=(np.arange(len(label)) % 3 == 0) & related),
            "s": s, **(extra or {}), "label": label}
    return pa.table(cols)


def _run(real, syn, *args, **kwargs):
    enc = fit_encoding(pa.concat_tables([real, syn]), "label")
    y_real, y_syn = enc.encode(real)["y"], enc.encode(syn)["y"]
    return _fidelity(enc, real, syn, y_real, y_syn, *args, **kwargs)


# ---------------------------------------------------------------- association measures
def test_pearson_is_unmoved_by_shifting_and_scaling_the_columns():
    """Against SciPy on columns far from zero and on tiny ones: the centring is on both
    columns (centring one only is the same sum in exact arithmetic, but off by about
    mean x rounding far from zero), and a column's spread below 1 is not "constant"."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = x + rng.normal(size=50)
    want = pearsonr(x, y)[0]
    assert 0.5 < want < 0.9
    assert _pearson(x, y) == pytest.approx(want, rel=1e-12)
    assert _pearson(1e-3 * x, 1e-3 * y) == pytest.approx(want, rel=1e-12)
    far_x, far_y = x + 1e12, y - 1e12  # spread still well above float64's step there
    assert _pearson(far_x, far_y) == pytest.approx(pearsonr(far_x, far_y)[0], rel=1e-9)
    assert _pearson(far_y, far_x) == pytest.approx(pearsonr(far_x, far_y)[0], rel=1e-9)


def _eta(values, cats):
    """The bias-corrected correlation ratio by its definition, in plain Python."""
    n, mean = len(values), sum(values) / len(values)
    groups = {}
    for v, c in zip(values, cats):
        groups.setdefault(c, []).append(v)
    total = sum((v - mean) ** 2 for v in values)
    between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
    eta2 = 1 - (1 - between / total) * (n - 1) / (n - len(groups))
    return math.sqrt(min(1.0, max(0.0, eta2)))


def test_the_correlation_ratio_takes_its_correction_exactly():
    """eta against its definition (the bias-correction tests only bound it), on values of
    any scale: a spread below 1 is not taken for a constant column."""
    rng = np.random.default_rng(1)
    cats = rng.integers(0, 4, 40)
    values = cats * 0.5 + rng.normal(size=40)
    want = _eta(values.tolist(), cats.tolist())
    assert 0.2 < want < 0.9
    assert _corr_ratio(values, cats) == pytest.approx(want, rel=1e-12)
    assert _corr_ratio(1e-4 * values, cats) == pytest.approx(want, rel=1e-12)
    # by hand: 0, 1, 1, 1 has mean 0.75 and total 0.75; groups {0, 1} and {1, 1} (means 0.5
    # and 1): between 2 * 0.0625 + 2 * 0.0625 = 0.25, eta2 = 1 - (1 - 1/3) * 3/2 = 0
    v = np.array([0.0, 1.0, 1.0, 1.0])
    assert _corr_ratio(v, np.array([0, 0, 1, 1])) == 0.0
    # groups {0}, {1, 1, 1}: between = total, eta = 1
    assert _corr_ratio(v, np.array([0, 1, 1, 1])) == pytest.approx(1.0, abs=1e-15)


def test_a_perfect_association_reads_exactly_one_not_above():
    """Rounding can carry the corrected statistics just past 1 (V of 25 alternating rows
    against themselves, eta of 0.1, 0.2, 0.1 by 0, 1, 0); they are capped at exactly 1."""
    a = np.arange(25) % 2
    assert _cramers_v(a, a) == 1.0
    cats = np.arange(3) % 2
    assert _corr_ratio(cats * 0.1 + 0.1, cats) == 1.0


def test_cramers_v_of_a_sparse_table_is_bergsmas():
    """Expected counts below 1 (4 x 5 categories on 13 rows: the least 2 x 3 / 13), against
    SciPy's chi-squared: no cell's expected count is floored. Either side's correction is
    the smaller one in one order: (r - 1)² of 4 categories is 9 (of 3, (r - 1)² = 2 (r - 1))."""
    a = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1, 2, 3, 3])
    b = np.array([0, 0, 1, 1, 2, 2, 3, 3, 1, 2, 3, 4, 4])
    table = np.zeros((4, 5))
    np.add.at(table, (a, b), 1)
    chi2, _, _, expected = chi2_contingency(table, correction=False)
    assert expected.min() == pytest.approx(6 / 13)
    n, r, c = 13, 4, 5
    phi2 = max(0.0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
    r_c, c_c = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    assert r_c < c_c
    want = math.sqrt(phi2 / (r_c - 1))
    assert 0.4 < want < 0.7
    assert _cramers_v(a, b) == pytest.approx(want, rel=1e-12)
    assert _cramers_v(b, a) == pytest.approx(want, rel=1e-12)


# -------------------------------------------------------------------------- tensors
def test_a_tensor_of_more_rows_than_elements_takes_every_element():
    # 5 rows of 3 elements; element 2 moved past every real value: (1 + 1 + 0) / 3
    real = _img([[i, i, i] for i in range(5)])
    syn = _img([[i, i, i + 10] for i in range(5)])
    assert _element_ks_complement(real, syn) == pytest.approx(2 / 3)
    # 3 rows of 5 elements, element 4 moved: (1 + 1 + 1 + 1 + 0) / 5
    real = _img([[i] * 5 for i in range(3)])
    syn = _img([[i, i, i, i, i + 10] for i in range(3)])
    assert _element_ks_complement(real, syn) == pytest.approx(4 / 5)


def test_a_tensor_of_one_row_on_a_side_is_compared_too():
    """One tensor left on a side (the others null) is a sample of one, not "no value": one
    real value against two synthetic ones, half of which it matches, is 1 - KS = 1/2."""
    one, two = _img([[0.0, 0.0]]), _img([[0.0, 0.0], [1.0, 1.0]])
    assert 1 - ks_2samp([0.0], [0.0, 1.0]).statistic == 0.5
    assert _element_ks_complement(one, two) == 0.5
    assert _element_ks_complement(two, one) == 0.5
    with_nulls = pa.array([None, [0.0, 0.0], None], pa.list_(pa.float64(), 2))
    assert _element_ks_complement(with_nulls, two) == 0.5


def test_a_tensor_is_scored_on_256_evenly_spaced_elements():
    """512 elements, the last 256 of them moved: 256 elements evenly spaced from the first
    to the last are 128 from each half, so the mean is exactly 1/2 (255 would take 128 of
    the first half: 128 / 255)."""
    rows = np.arange(4.0)[:, None] * np.ones(512)
    syn = rows.copy()
    syn[:, 256:] += 100
    assert _element_ks_complement(_img(rows), _img(syn)) == 0.5


# ---------------------------------------------------------------------- real halves
def test_real_halves_compare_one_half_of_a_classs_rows_with_the_other():
    """The same permutation replayed: the first half of the class's rows against the rest,
    each column the worse of its KS complement and 1 - its null-rate gap."""
    x = [0.5, 3.0, None, 1.5, 7.0, None, 2.0, 9.0, 4.0, None, 6.0, 8.0, 5.0]
    table = pa.table({"x": pa.array(x, pa.float64())})
    r_idx = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12])  # row 10 is another class's
    spec = SimpleNamespace(kind="numeric", name="x")
    order = np.random.default_rng(7).permutation(r_idx)
    halves = [[x[i] for i in order[:6]], [x[i] for i in order[6:]]]
    assert sorted(order.tolist()) == r_idx.tolist()
    values = [[v for v in h if v is not None] for h in halves]
    nulls = [sum(v is None for v in h) / 6 for h in halves]
    want = min(1.0 - ks_2samp(*values).statistic, 1.0 - abs(nulls[0] - nulls[1]))
    got = _halves_score([spec], table, r_idx, np.random.default_rng(7))
    assert got == pytest.approx(want, abs=1e-12)
    # a class of 9 rows has no reference
    assert _halves_score([spec], table, r_idx[:9], np.random.default_rng(7)) is None


# ---------------------------------------------------------------------- _fidelity
def test_a_capped_class_is_a_sample_of_distinct_rows(monkeypatch):
    """Over `max_rows`, a class's real and synthetic rows are a sample without replacement:
    `max_rows` different rows of the class."""
    rng = np.random.default_rng(0)
    real, syn = _classes(rng, [10, 8], related=True), _classes(rng, [10, 9], related=False)
    taken = []
    real_take = fidelity._take

    def take(table, idx):
        taken.append((table, np.asarray(idx)))
        return real_take(table, idx)

    monkeypatch.setattr(fidelity, "_take", take)
    _run(real, syn, 6, 0)
    labels = {id(real): real.column("label").to_numpy(zero_copy_only=False),
              id(syn): syn.column("label").to_numpy(zero_copy_only=False)}
    main = [(t, idx) for t, idx in taken if len(idx) == 6]  # the halves take 3 + 3
    assert len(main) == 4  # real and synthetic of each class
    for table, idx in main:
        assert len(set(idx.tolist())) == 6
        assert len(set(labels[id(table)][idx])) == 1


def test_identical_associations_name_a_pair_of_two_columns():
    """Synthetic rows equal to the real ones: every association difference is 0, and the
    worst pair is still two different columns; the matrices' diagonals are 1, a constant
    column's too."""
    rng = np.random.default_rng(0)
    real = _classes(rng, [10, 6], related=True, extra={"k": np.full(16, 3.0)})
    fid, matrices = _run(real, real, 10**6, 0)
    for key in ("a", "b"):
        assoc = fid["per_class"][key]["association"]
        assert assoc["max_abs_diff"] == 0.0 and assoc["mean_abs_diff"] == 0.0
        i, j = assoc["worst_pair"]
        assert i != j
        for m in matrices[key]:
            assert np.diag(m).tolist() == [1.0] * 4


def test_associations_are_taken_over_the_first_30_columns():
    rng = np.random.default_rng(0)
    names = [f"c{j:02d}" for j in range(31)]

    def table(n):
        cols = {name: rng.normal(size=n + 2) for name in names}
        return pa.table({**cols, "label": np.repeat(["a", "b"], [n, 2])})

    fid, matrices = _run(table(6), table(6), 10**6, 0)
    assert fid["association_columns"] == names[:30]
    assert matrices["a"][0].shape == (30, 30)

