"""The per-feature likelihoods and draws of `vae_augment.distributions`, on small hand-made
parameters (no model, no training), against values computed independently with NumPy/SciPy.

Each test here kills mutants of `distributions.py` that every other fast test let through
(benchmarks/explore/mutants_dist.py): a wrong log-likelihood term or draw still trains and
writes rows."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats
from scipy.special import expit, log_expit, ndtr, ndtri, softmax

from vae_augment import distributions as D

MIN_SCALE = 0.01  # the Gaussian heads' scale floor, which trained artifacts were fitted with


def _sd(raw):
    return np.logaddexp(0.0, np.asarray(raw, np.float64)) + MIN_SCALE


def _f32(a):
    return tf.constant(np.asarray(a), tf.float32)


def _layout(**kw):
    base = {"n_num": 0, "n_null": 0, "cat_sizes": [], "tensors": [], "num_null_idx": [],
            "tensor_null_idx": []}
    return {**base, **kw}


def test_kl_gaussian_is_kl_of_q_from_p():
    """KL(q || p), not KL(p || q): the two differ when the scales differ."""
    rng = np.random.default_rng(0)
    mq, mp, rq, rp = (rng.normal(size=(4, 3)) for _ in range(4))
    got = D.kl_gaussian(D.gaussian(_f32(mq), _f32(rq)), D.gaussian(_f32(mp), _f32(rp))).numpy()
    sq, sp = _sd(rq), _sd(rp)
    want = np.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_gaussian_scale_has_its_floor():
    assert D.MIN_SCALE == MIN_SCALE
    np.testing.assert_allclose(D.gaussian(_f32([0.0]), _f32([-80.0])).scale.numpy(), [0.01])


def test_numeric_nulls_and_categories_log_prob_match_scipy():
    """One Gaussian per numeric column (no mixture), Bernoulli null flags and categoricals,
    each a sum over its columns; no column nullable (idx -1)."""
    rng = np.random.default_rng(1)
    b = 7
    loc, raw, x = rng.normal(size=(3, b, 3))
    x = x * 2
    null_logits = rng.normal(size=(b, 2)) * 2
    nulls = (rng.random((b, 2)) < 0.4).astype(np.float32)
    sizes = [3, 2, 4]
    cat_logits = rng.normal(size=(b, sum(sizes))) * 2
    cat = np.stack([rng.integers(0, n, b) for n in sizes], 1)
    layout = _layout(n_num=3, n_null=2, cat_sizes=sizes, num_null_idx=[-1, -1, -1])
    params = {"num_loc": _f32(loc), "num_scale": _f32(raw), "null_logits": _f32(null_logits),
              "cat_logits": _f32(cat_logits)}
    x_ = {"y": tf.zeros([b], tf.int32), "num": _f32(x), "nulls": _f32(nulls),
          "cat": tf.constant(cat, tf.int32)}
    got = D.feature_log_prob(layout, params, x_)
    np.testing.assert_allclose(got["num"].numpy(),
                               stats.norm.logpdf(x, loc, _sd(raw)).sum(1), rtol=1e-5)
    want_null = (nulls * log_expit(null_logits) + (1 - nulls) * log_expit(-null_logits)).sum(1)
    np.testing.assert_allclose(got["nulls"].numpy(), want_null, rtol=1e-5)
    starts = np.cumsum([0, *sizes])
    want_cat = sum(np.log(softmax(cat_logits[:, starts[j]:starts[j + 1]], axis=1))[
        np.arange(b), cat[:, j]] for j in range(len(sizes)))
    np.testing.assert_allclose(got["cat"].numpy(), want_cat, rtol=1e-5)
    # without null columns at all (no `nulls` in x) the numeric term is the same
    no_nulls = D.feature_log_prob(_layout(n_num=3, num_null_idx=[-1, -1, -1]), params,
                                  {"y": x_["y"], "num": x_["num"]})
    np.testing.assert_allclose(no_nulls["num"].numpy(), got["num"].numpy(), rtol=1e-6)


def test_every_numeric_column_nullable_skips_each_null_value():
    rng = np.random.default_rng(2)
    b = 8
    loc, raw, x = rng.normal(size=(3, b, 2))
    nulls = np.array([[0, 0], [1, 0], [0, 1], [1, 1]] * 2, np.float32)
    layout = _layout(n_num=2, n_null=2, num_null_idx=[0, 1])
    params = {"num_loc": _f32(loc), "num_scale": _f32(raw), "null_logits": tf.zeros([b, 2])}
    got = D.feature_log_prob(layout, params, {"y": tf.zeros([b], tf.int32), "num": _f32(x),
                                              "nulls": _f32(nulls)})
    want = (stats.norm.logpdf(x, loc, _sd(raw)) * (1 - nulls)).sum(1)
    np.testing.assert_allclose(got["num"].numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["nulls"].numpy(), np.full(b, 2 * np.log(0.5)), rtol=1e-6)


def test_normal_tensor_head_log_prob_and_its_null_column():
    """A float tensor's Normal head: location and raw scale split on the last axis; a null
    tensor (null slot 0 here) adds nothing."""
    rng = np.random.default_rng(3)
    b, shape = 6, (2, 3, 1)  # [H, W, C]: the model's targets (a 2-d image gets C = 1)
    raw = rng.normal(size=(b, 2, 3, 2))
    target = rng.normal(size=(b, *shape))
    nulls = np.array([[1], [0], [0], [1], [0], [0]], np.float32)
    layout = _layout(n_null=1, tensors=[{"shape": list(shape), "likelihood": "normal"}],
                     tensor_null_idx=[0])
    params = {"tensor_0": _f32(raw), "null_logits": tf.zeros([b, 1])}
    got = D.feature_log_prob(layout, params, {"y": tf.zeros([b], tf.int32),
                                              "tensor_0": _f32(target), "nulls": _f32(nulls)})
    full = stats.norm.logpdf(target, raw[..., :1], _sd(raw[..., 1:])).reshape(b, -1).sum(1)
    np.testing.assert_allclose(got["tensor_0"].numpy(), full * (1 - nulls[:, 0]), rtol=1e-5)
    assert (got["tensor_0"].numpy()[nulls[:, 0] > 0] == 0).all()


def _continuous_bernoulli_log_prob(x, logits):
    """log of the continuous Bernoulli density, in float64."""
    lam = expit(logits)
    near = np.abs(logits) < 1e-3
    safe = np.where(near, 0.1, lam)
    log_c = np.where(near, np.log(2.0),
                     np.log(2 * np.arctanh(1 - 2 * safe) / (1 - 2 * safe)))
    return log_c + x * np.log(lam) + (1 - x) * np.log1p(-lam)


def test_legacy_continuous_bernoulli_head_scores_targets_clipped_off_0_and_1():
    rng = np.random.default_rng(4)
    b = 5
    logits = rng.normal(size=(b, 2, 3)) * 3
    target = rng.random((b, 2, 3))
    target[:, 0, 0], target[:, 1, 2] = 0.0, 1.0  # blank and saturated pixels
    layout = _layout(tensors=[{"shape": [2, 3], "likelihood": "continuous_bernoulli"}],
                     tensor_null_idx=[-1])
    got = D.feature_log_prob(layout, {"tensor_0": _f32(logits)},
                             {"y": tf.zeros([b], tf.int32), "tensor_0": _f32(target)})
    x = np.clip(target.astype(np.float32).astype(np.float64), 1e-4, 1 - 1e-4)
    want = _continuous_bernoulli_log_prob(x, logits).reshape(b, -1).sum(1)
    np.testing.assert_allclose(got["tensor_0"].numpy(), want, rtol=1e-5, atol=1e-5)


def test_count_head_scores_the_nearest_count_inside_the_range():
    """A target off the count grid scores as its nearest count; one outside [0, 1] as the
    end it passed (new data scored by an artifact can hold either)."""
    n = 16
    logits = np.array([[0.3, -1.0, 2.0, 0.5, -0.2]])
    target = np.array([[-0.2, 1.3, 5.3 / n, 7.7 / n, 3.0 / n]])
    layout = _layout(tensors=[{"shape": [5], "likelihood": "binomial", "total_count": n}],
                     tensor_null_idx=[-1])
    got = D.feature_log_prob(layout, {"tensor_0": _f32(logits)},
                             {"y": tf.zeros([1], tf.int32), "tensor_0": _f32(target)})
    counts = np.array([[0, 16, 5, 8, 3]])
    want = stats.binom.logpmf(counts, n, expit(logits)).sum(1)
    np.testing.assert_allclose(got["tensor_0"].numpy(), want, rtol=1e-5)


def test_dequantization_moves_only_tie_midpoints_of_present_values():
    """A hand-made table, one column of K = 5 knots: a tie whose midpoint is the median
    (g = 4, the encoded value 0, also a null's placeholder) with half-width 0.1. Present
    values at the midpoint spread uniformly over p in [0.4, 0.6]; the null placeholder and
    values 0.4 from the midpoint in g (not a tie's midpoint) keep their values."""
    from vae_augment.encoding import PROBIT_EPS

    k, eps = 5, PROBIT_EPS
    table = np.zeros((1, 2 * k - 1), np.float32)
    table[0, 4] = 0.1

    def v_of(g):
        return ndtri(eps + (1 - 2 * eps) * g / (2 * (k - 1)))

    n = 4000
    v = np.concatenate([np.zeros(n), np.zeros(4), [v_of(4.4), v_of(3.6)]]).astype(np.float32)
    nulls = np.zeros((len(v), 1), np.float32)
    nulls[n:n + 4] = 1.0
    layout = _layout(n_num=1, n_null=1, num_null_idx=[0])
    out = D.dequantize_numeric(layout, {"num": _f32(v[:, None]), "nulls": _f32(nulls)}, table,
                               tf.constant([1, 2])).numpy()[:, 0]
    np.testing.assert_array_equal(out[n:], v[n:])  # the nulls and the two untied values
    p = (ndtr(out[:n].astype(np.float64)) - eps) / (1 - 2 * eps)
    assert p.min() >= 0.4 - 1e-4 and p.max() <= 0.6 + 1e-4
    assert stats.kstest(p, stats.uniform(0.4, 0.2).cdf).pvalue > 1e-3


def test_categorical_sample_follows_the_softmax_of_three_or_more_categories():
    """Gumbel-max: argmax(logits + Gumbel). With two categories the sign of the Gumbel noise
    does not matter (its difference is symmetric); with three it does."""
    n = 60_000
    probs = np.array([0.6, 0.3, 0.1])
    logits = tf.constant(np.tile(np.log(probs), (n, 1)), tf.float32)
    draws = D.categorical_sample(logits, tf.constant([3, 7])).numpy()
    freq = np.bincount(draws, minlength=3) / n
    np.testing.assert_allclose(freq, probs, atol=5 * np.sqrt(0.25 / n))


def test_sample_features_draws_each_group_from_its_own_head():
    n = 30_000
    sizes = [3, 2, 4]
    col_probs = [np.array([0.6, 0.3, 0.1]), np.array([0.2, 0.8]),
                 np.array([0.1, 0.2, 0.3, 0.4])]
    cat_logits = np.tile(np.concatenate([np.log(p) for p in col_probs]), (n, 1))
    loc, sd = np.array([1.5, -2.0]), np.array([0.5, 2.0])
    raw = np.log(np.expm1(sd - MIN_SCALE))
    null_p = np.array([0.2, 0.7])
    layout = _layout(n_num=2, n_null=2, cat_sizes=sizes, num_null_idx=[-1, -1])
    params = {"num_loc": _f32(np.tile(loc, (n, 1))), "num_scale": _f32(np.tile(raw, (n, 1))),
              "null_logits": _f32(np.tile(np.log(null_p / (1 - null_p)), (n, 1))),
              "cat_logits": _f32(cat_logits)}
    out = D.sample_features(layout, params, tf.constant([5, 6]))
    num, nulls, cat = out["num"].numpy(), out["nulls"].numpy(), out["cat"].numpy()
    assert num.shape == (n, 2) and nulls.shape == (n, 2) and cat.shape == (n, 3)
    np.testing.assert_allclose(num.mean(0), loc, atol=5 * sd.max() / np.sqrt(n))
    np.testing.assert_allclose(num.std(0) / sd, 1.0, atol=0.03)
    np.testing.assert_allclose(nulls.mean(0), null_p, atol=5 * np.sqrt(0.25 / n))
    assert set(np.unique(nulls)) <= {0.0, 1.0}
    for j, p in enumerate(col_probs):
        freq = np.bincount(cat[:, j], minlength=len(p)) / n
        np.testing.assert_allclose(freq, p, atol=5 * np.sqrt(0.25 / n), err_msg=f"column {j}")


def test_sample_features_groups_are_drawn_independently():
    """Every group (numerics, null flags, categories, each of five drawn tensors) has its own
    seed: the same seed in two groups gives draws correlated ~0.8 (numerics and null flags)
    or equal (numerics and a tensor of their shape), not independent given z."""
    n = 20_000
    tensors = [{"shape": [1 + (i == 4)], "likelihood": "normal", "draw": True}
               for i in range(5)]
    layout = _layout(n_num=2, n_null=2, cat_sizes=[2], num_null_idx=[-1, -1], tensors=tensors,
                     tensor_null_idx=[-1] * 5)
    params = {"num_loc": tf.zeros([n, 2]), "num_scale": tf.zeros([n, 2]),
              "null_logits": tf.zeros([n, 2]), "cat_logits": tf.zeros([n, 2]),
              **{f"tensor_{i}": tf.zeros([n, 2 + 2 * (i == 4)]) for i in range(5)}}
    out = D.sample_features(layout, params, tf.constant([8, 9]))
    cols = np.concatenate([out["num"].numpy(), out["nulls"].numpy(), out["cat"].numpy(),
                           *(out[f"tensor_{i}"].numpy() for i in range(5))], axis=1)
    corr = np.corrcoef(cols.T.astype(np.float64))
    off = np.abs(corr[~np.eye(len(corr), dtype=bool)])
    assert off.max() < 0.04  # 0.007 is one standard error


def test_sample_features_normal_image_head_mean_and_draw():
    """A multi-dimensional Normal tensor (an image): the mean is the location part of the
    last axis, a draw spreads by the scale part."""
    n = 4000
    loc = np.random.default_rng(5).normal(size=(2, 3, 1))  # [H, W, C]
    raw = np.full((2, 3, 1), np.log(np.expm1(0.5 - MIN_SCALE)))
    params = {"tensor_0": _f32(np.tile(np.concatenate([loc, raw], -1), (n, 1, 1, 1)))}
    mean_layout = _layout(tensors=[{"shape": [2, 3, 1], "likelihood": "normal"}])
    mean = D.sample_features(mean_layout, params, tf.constant([1, 2]))["tensor_0"].numpy()
    assert mean.shape == (n, 2, 3, 1)
    np.testing.assert_allclose(mean, np.broadcast_to(loc, mean.shape), rtol=1e-6, atol=1e-6)
    draw_layout = _layout(tensors=[{"shape": [2, 3, 1], "likelihood": "normal", "draw": True}])
    drawn = D.sample_features(draw_layout, params, tf.constant([1, 2]))["tensor_0"].numpy()
    assert drawn.shape == (n, 2, 3, 1)
    np.testing.assert_allclose(drawn.mean(0), loc, atol=5 * 0.5 / np.sqrt(n))
    np.testing.assert_allclose(drawn.std(0), 0.5, atol=0.03)


@pytest.mark.parametrize("n", [16, 32])
def test_binomial_sample_is_exact_at_small_counts(n):
    """Up to 32 trials (inclusive) a draw is the sum of Bernoulli draws: its whole
    distribution, not just its mean and variance, is Binomial (the Gaussian approximation puts
    ~0.37, not 0.44, on 0 at n = 16, p = 0.05; ~0.28, not 0.33, on 1 at n = 32)."""
    p, size = 0.05, 60_000
    logit = float(np.log(p / (1 - p)))
    draws = D.binomial_sample(tf.fill([size], logit), n, tf.constant([2, 3])).numpy()
    freq = np.bincount(draws.astype(int), minlength=n + 1) / size
    np.testing.assert_allclose(freq, stats.binom.pmf(np.arange(n + 1), n, p), atol=0.01)


def test_binomial_sample_approximation_reaches_both_ends():
    """Above 32 trials (the Gaussian approximation, clipped) a draw can still be 0 or n."""
    draws = D.binomial_sample(tf.constant([-9.0, 9.0] * 500), 255, tf.constant([3, 4])).numpy()
    assert np.mean(draws[0::2] == 0) > 0.95 and np.mean(draws[1::2] == 255) > 0.95
    assert draws.min() >= 0 and draws.max() <= 255


@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_log_gamma_sample_rejects_what_marsaglia_tsang_rejects(alpha):
    """400 000 draws: enough to see the ~5 % of proposals the acceptance test turns away.
    Accepting them all (or pairing the normal and the uniform of a proposal on one seed)
    moves the variance by 3-6 % and the KS statistic to ~0.008 (p < 1e-8)."""
    draws = np.exp(D._log_gamma_sample(tf.fill([400_000], alpha), tf.constant([3, 4])).numpy()
                   .astype(np.float64))
    assert stats.kstest(draws, stats.gamma(alpha).cdf).pvalue > 1e-4
    assert abs(draws.var() / alpha - 1.0) < 0.015  # se ~0.005
