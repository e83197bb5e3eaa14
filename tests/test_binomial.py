"""Integer tensors (images) use a Binomial likelihood (or, opted in, a beta-binomial one);
legacy continuous-Bernoulli heads load."""

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from scipy import stats

from vae_augment import distributions as D
from vae_augment.schema import MAX_BINOMIAL_COUNT, tensor_likelihood


@pytest.mark.parametrize(
    ("is_int", "low", "high", "expected"),
    [
        (True, 0, 16, "binomial"),
        (True, 0, 255, "binomial"),
        (True, -8, 8, "binomial"),
        (True, 0, MAX_BINOMIAL_COUNT + 1, "normal"),
        (True, 3, 3, "normal"),  # constant: no trials
        (False, 0.0, 1.0, "normal"),
    ],
)
def test_tensor_likelihood_rule(is_int, low, high, expected):
    assert tensor_likelihood(is_int, low, high) == expected


def _layout(likelihood, n=16, shape=(2, 3)):
    return {
        "n_num": 0, "n_null": 0, "cat_sizes": [], "n_classes": 2,
        "tensors": [{"shape": list(shape), "likelihood": likelihood, "total_count": n}],
        "num_null_idx": [], "tensor_null_idx": [-1],
    }


def test_log_prob_is_binomial_pmf_of_counts():
    rng = np.random.default_rng(0)
    n = 16
    logits = rng.normal(size=(5, 2, 3)).astype(np.float32)
    counts = rng.integers(0, n + 1, size=(5, 2, 3))
    x = {"y": tf.zeros([5], tf.int32), "tensor_0": tf.constant(counts / n, tf.float32)}
    lp = D.feature_log_prob(_layout("binomial", n), {"tensor_0": tf.constant(logits)}, x)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    want = stats.binom.logpmf(counts, n, p).reshape(5, -1).sum(1)
    np.testing.assert_allclose(lp["tensor_0"].numpy(), want, rtol=1e-4)


@pytest.mark.parametrize("n", [16, 255])  # exact Bernoulli sum / Gaussian approximation
def test_binomial_sample_moments_and_support(n):
    logit = 0.4
    p = 1.0 / (1.0 + np.exp(-logit))
    draws = D.binomial_sample(tf.fill([40_000], logit), n, tf.constant([1, 2])).numpy()
    assert np.all(draws == np.round(draws)) and draws.min() >= 0 and draws.max() <= n
    se = np.sqrt(n * p * (1 - p) / draws.size)
    assert abs(draws.mean() - n * p) < 5 * se
    assert abs(draws.var() / (n * p * (1 - p)) - 1.0) < 0.05


def test_binomial_sample_reaches_range_ends():
    # saturated pixels: a draw lands on 0 and on n, the mean never does
    draws = D.binomial_sample(tf.constant([-9.0, 9.0] * 500), 16, tf.constant([3, 4])).numpy()
    assert np.mean(draws[0::2] == 0) > 0.99 and np.mean(draws[1::2] == 16) > 0.99


def test_sample_features_draws_binomial_and_keeps_legacy_means():
    logits = tf.constant(np.random.default_rng(1).normal(size=(64, 2, 3)), tf.float32)
    seed = tf.constant([5, 6])
    drawn = D.sample_features(_layout("binomial"), {"tensor_0": logits}, seed)["tensor_0"].numpy()
    np.testing.assert_allclose(drawn * 16, np.round(drawn * 16), atol=1e-5)  # whole counts
    again = D.sample_features(_layout("binomial"), {"tensor_0": logits}, seed)["tensor_0"]
    np.testing.assert_array_equal(drawn, again.numpy())  # stateless
    mean = D.sample_features(_layout("binomial"), {"tensor_0": logits}, seed,
                             tensor_mean=True)["tensor_0"].numpy()
    np.testing.assert_allclose(mean, tf.math.sigmoid(logits).numpy(), rtol=1e-5)
    legacy = _layout("continuous_bernoulli")
    del legacy["tensors"][0]["total_count"]  # layouts saved before the Binomial head
    cb = D.sample_features(legacy, {"tensor_0": logits}, seed)["tensor_0"].numpy()
    want = D.tfd.ContinuousBernoulli(logits=logits).mean().numpy()
    np.testing.assert_allclose(cb, want, rtol=1e-5)


def _pixels(table):
    return np.stack(table.column("img").to_numpy(zero_copy_only=False)).astype(np.float64)


def test_sampled_images_are_drawn_counts(mixed_artifact):
    from vae_augment import api
    from vae_augment.artifact import load_artifact

    img = _pixels(api.sample(str(mixed_artifact), {"a": 200, "c": 200}, seed=3))
    assert np.all(img == np.round(img)) and img.min() >= 0 and img.max() <= 16
    # same latents (same seed): the default draws whole counts around the likelihood mean
    model = load_artifact(str(mixed_artifact)).model
    y, seed = tf.constant([0, 2] * 500), tf.constant([7, 8])
    mean = model.generate(y, seed, tensor_mean=True)["tensor_0"].numpy() * 16
    drawn = model.generate(y, seed)["tensor_0"].numpy() * 16
    np.testing.assert_allclose(drawn, np.round(drawn), atol=1e-4)
    assert np.abs(drawn - mean).mean() > 1.0  # Binomial(16, ~0.5): mean |dev| ~ 1.6
    assert abs(drawn.mean() - mean.mean()) < 0.1  # unbiased


def test_continuous_bernoulli_artifact_still_trains_saves_and_samples(mixed_table, tmp_path):
    from vae_augment import api
    from vae_augment.artifact import load_artifact
    from vae_augment.encoding import Encoding
    from vae_augment.training import fit_encoding

    from .conftest import FAST

    enc = fit_encoding(mixed_table, "label")
    data = enc.to_json()
    for spec in data["features"]:
        if spec["name"] == "img":
            spec["likelihood"] = "continuous_bernoulli"  # what older versions inferred
    legacy = Encoding.from_json(data)
    assert legacy.layout()["tensors"] == [{"shape": [8, 8], "likelihood": "continuous_bernoulli"}]
    api.fit(mixed_table, label="label", model_dir=str(tmp_path / "m"), encoding=legacy, seed=0,
            **FAST)
    art = load_artifact(str(tmp_path / "m"))
    assert art.model.layout["tensors"][0]["likelihood"] == "continuous_bernoulli"
    img = _pixels(api.sample(art, {"b": 50}, seed=1))
    assert np.all(img == np.round(img)) and img.min() >= 0 and img.max() <= 16


# ---------------------------------------------------------------- the beta-binomial head
def _bb_params(raw):
    """(mean, concentration) of a beta-binomial head's raw output, in NumPy."""
    logit, conc = np.split(raw.astype(np.float64), 2, axis=-1)
    return 1.0 / (1.0 + np.exp(-logit)), D.BETA_CONCENTRATION * np.logaddexp(0.0, conc) + 1e-3


def test_beta_binomial_log_prob_is_the_pmf_of_counts():
    rng = np.random.default_rng(0)
    n = 16
    raw = rng.normal(size=(5, 2, 3, 2)).astype(np.float32)  # [B, H, W, 2]: mean, concentration
    counts = rng.integers(0, n + 1, size=(5, 2, 3, 1))
    layout = _layout("beta_binomial", n, shape=(2, 3, 1))
    x = {"y": tf.zeros([5], tf.int32), "tensor_0": tf.constant(counts / n, tf.float32)}
    lp = D.feature_log_prob(layout, {"tensor_0": tf.constant(raw)}, x)
    m, k = _bb_params(raw)
    want = stats.betabinom.logpmf(counts, n, m * k, (1 - m) * k).reshape(5, -1).sum(1)
    np.testing.assert_allclose(lp["tensor_0"].numpy(), want, rtol=1e-4)


@pytest.mark.parametrize("n", [16, 255])  # exact Bernoulli sum / Gaussian approximation
@pytest.mark.parametrize("conc", [-1.0, 2.0])  # a U shape (kappa ~ 2.6) / near-Binomial
def test_beta_binomial_sample_moments(n, conc):
    raw = tf.constant([[0.4, conc]] * 40_000, tf.float32)
    draws = D.beta_binomial_sample(raw, n, tf.constant([1, 2])).numpy()
    assert np.all(draws == np.round(draws)) and draws.min() >= 0 and draws.max() <= n
    m, k = _bb_params(np.array([0.4, conc]))
    m, k = float(m[0]), float(k[0])
    var = n * m * (1 - m) * (k + n) / (k + 1)
    assert abs(draws.mean() - n * m) < 5 * np.sqrt(var / draws.size)
    assert abs(draws.var() / var - 1.0) < 0.05
    # overdispersed: far more variance than a Binomial of the same mean
    assert draws.var() > 1.5 * n * m * (1 - m)


def test_beta_binomial_sample_tiny_concentrations_give_both_ends_and_no_nan():
    # kappa ~ 1e-3: each draw's p sits at 0 or 1 (a Gamma drawn directly would underflow)
    raw = tf.constant([[0.0, -40.0]] * 20_000, tf.float32)
    draws = D.beta_binomial_sample(raw, 16, tf.constant([3, 4])).numpy()
    assert not np.isnan(draws).any()
    assert np.mean((draws == 0) | (draws == 16)) > 0.99
    assert 0.45 < np.mean(draws == 16) < 0.55


@pytest.mark.parametrize("alpha", [0.01, 0.3, 1.0, 5.0, 50.0])
def test_log_gamma_sample_is_gamma_distributed(alpha):
    draws = np.exp(D._log_gamma_sample(tf.fill([50_000], alpha), tf.constant([3, 4])).numpy()
                   .astype(np.float64))
    assert np.isfinite(draws).all()
    assert stats.kstest(draws, stats.gamma(alpha).cdf).pvalue > 1e-3
    assert abs(draws.mean() / alpha - 1.0) < 5 / np.sqrt(alpha * draws.size)  # 5 s.e.


def test_beta_binomial_sample_compiles_with_xla():
    raw = tf.constant(np.random.default_rng(0).normal(size=(256, 8, 8, 2)), tf.float32)
    for n in (16.0, 255.0):
        fn = tf.function(lambda r, s, n=n: D.beta_binomial_sample(r, n, s), jit_compile=True,
                         autograph=False)
        draws = fn(raw, tf.constant([1, 2])).numpy()
        assert draws.shape == (256, 8, 8, 1) and draws.min() >= 0 and draws.max() <= n
        assert np.all(draws == np.round(draws))


def test_sample_features_beta_binomial_is_stateless_with_the_mean_on_request():
    raw = tf.constant(np.random.default_rng(1).normal(size=(64, 2, 3, 2)), tf.float32)
    layout, seed = _layout("beta_binomial", shape=(2, 3, 1)), tf.constant([5, 6])
    drawn = D.sample_features(layout, {"tensor_0": raw}, seed)["tensor_0"].numpy()
    assert drawn.shape == (64, 2, 3, 1)
    np.testing.assert_allclose(drawn * 16, np.round(drawn * 16), atol=1e-5)
    again = D.sample_features(layout, {"tensor_0": raw}, seed)["tensor_0"].numpy()
    np.testing.assert_array_equal(drawn, again)
    mean = D.sample_features(layout, {"tensor_0": raw}, seed, tensor_mean=True)["tensor_0"]
    np.testing.assert_allclose(mean.numpy(), _bb_params(raw.numpy())[0], rtol=1e-5)


def test_with_count_likelihood_copies_and_leaves_other_heads(mixed_table):
    from vae_augment.training import fit_encoding

    enc = fit_encoding(mixed_table, "label")
    assert enc.with_count_likelihood("binomial") is enc  # nothing to change
    bb = enc.with_count_likelihood("beta_binomial")
    assert bb.layout()["tensors"] == [{"shape": [8, 8], "likelihood": "beta_binomial",
                                       "total_count": 16}]
    assert enc.layout()["tensors"][0]["likelihood"] == "binomial"  # not mutated
    assert bb.with_count_likelihood("binomial").layout() == enc.layout()
    data = enc.to_json()
    for spec in data["features"]:
        if spec["name"] == "img":
            spec["likelihood"] = "normal"  # not a count head: left as it is
    from vae_augment.encoding import Encoding

    normal = Encoding.from_json(data)
    assert normal.with_count_likelihood("beta_binomial") is normal


def test_fit_with_beta_binomial_images_saves_loads_and_samples(mixed_table, tmp_path):
    from vae_augment import api
    from vae_augment.artifact import load_artifact
    from vae_augment.errors import VAEAugmentError

    from .conftest import FAST

    with pytest.raises(VAEAugmentError, match="image_likelihood"):
        api.fit(mixed_table, label="label", image_likelihood="beta", **FAST)
    api.fit(mixed_table, label="label", model_dir=str(tmp_path / "m"), seed=0,
            image_likelihood="beta_binomial", **FAST)
    art = load_artifact(str(tmp_path / "m"))
    assert art.encoding.layout()["tensors"][0]["likelihood"] == "beta_binomial"
    assert art.model.layout["tensors"][0]["likelihood"] == "beta_binomial"
    assert art.config["train_config"]["image_likelihood"] == "beta_binomial"
    img = _pixels(api.sample(art, {"a": 300, "b": 300}, seed=1))
    assert np.all(img == np.round(img)) and img.min() >= 0 and img.max() <= 16
    again = _pixels(api.sample(str(tmp_path / "m"), {"a": 300, "b": 300}, seed=1))
    np.testing.assert_array_equal(img, again)
    from vae_augment.sampler import Sampler

    # XLA has no stateless_gamma kernel: the Beta draws are built from normals and uniforms
    # (plain draws: the guided loop's own XLA compile is tests/test_guide.py's)
    batches = list(Sampler(art, jit_compile=True, guided=False).iter_counts({"a": 100},
                                                                            seed=0))
    compiled = _pixels(pa.Table.from_batches(batches))
    assert len(compiled) == 100 and compiled.min() >= 0 and compiled.max() <= 16
    # the ELBO scores the images with the same head
    import vae_augment as va

    scores = np.asarray(va.anomaly_scores(art, mixed_table))
    assert np.all(np.isfinite(scores))
