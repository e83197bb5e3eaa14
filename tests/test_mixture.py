"""Numeric columns can use a mixture of Gaussians (`num_components`)."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats
from scipy.special import logsumexp

from vae_augment import distributions as D

from .conftest import FAST, FAST_ARGS, run_cli


def _params(loc, raw_scale, logits=None):
    p = {"num_loc": tf.constant(loc, tf.float32), "num_scale": tf.constant(raw_scale, tf.float32)}
    if logits is not None:
        p["num_logits"] = tf.constant(logits, tf.float32)
    return p


def test_mixture_log_prob_matches_hand_computation():
    rng = np.random.default_rng(0)
    loc, raw, logits = (rng.normal(size=(6, 2, 3)) for _ in range(3))
    x = rng.normal(size=(6, 2))
    got = D.numeric_distribution(_params(loc, raw, logits)).log_prob(x.astype(np.float32))
    sd = np.log1p(np.exp(raw)) + D.MIN_SCALE
    log_w = logits - logsumexp(logits, axis=-1, keepdims=True)
    want = logsumexp(log_w + stats.norm.logpdf(x[..., None], loc, sd), axis=-1)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)


def test_one_component_draws_what_the_gaussian_drew():
    rng = np.random.default_rng(1)
    loc, raw = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    seed = tf.constant([4, 2])
    want = D.gaussian(tf.constant(loc, tf.float32), tf.constant(raw, tf.float32)).sample(seed=seed)
    np.testing.assert_array_equal(D.numeric_sample(_params(loc, raw), seed).numpy(), want.numpy())


def test_mixture_draws_follow_the_weights():
    n = 40_000
    loc = np.tile([[-4.0, 4.0]], (n, 1))[:, None, :]  # [n, 1 column, 2 components]
    raw = np.full_like(loc, -3.0)  # scale ~0.06
    logits = np.tile([[np.log(0.25), np.log(0.75)]], (n, 1))[:, None, :]
    draws = D.numeric_sample(_params(loc, raw, logits), tf.constant([9, 9])).numpy()[:, 0]
    assert np.all(np.abs(np.abs(draws) - 4.0) < 0.5)  # on a component, never in between
    assert abs((draws > 0).mean() - 0.75) < 0.01
    again = D.numeric_sample(_params(loc, raw, logits), tf.constant([9, 9])).numpy()[:, 0]
    np.testing.assert_array_equal(draws, again)


def test_mixture_model_trains_round_trips_and_margins(mixed_table):
    from vae_augment.api import fit, sample
    from vae_augment.model import ConditionalVAE

    table = mixed_table.drop_columns(["img"])
    art = fit(table, label="label", seed=0, num_components=3, **FAST)
    model = art.model
    assert model.num_components == 3 and model.get_config()["num_components"] == 3
    params = model.decode_params(tf.zeros([4, model.latent_dim]), tf.constant([0, 1, 2, 0]))
    n_num = model.layout["n_num"]
    assert params["num_logits"].shape == (4, n_num, 3) and params["num_loc"].shape == (4, n_num, 3)
    out, z, params = model._draw(tf.constant([1] * 64), tf.constant([1, 1]), with_latent=True)
    margin = model.class_margin(out, z, tf.constant([1] * 64), params)
    assert np.all(np.isfinite(margin.numpy()))
    assert sample(art, {"b": 30, "c": 30}, seed=2).num_rows == 60
    legacy = {k: v for k, v in model.get_config().items() if k != "num_components"}
    assert ConditionalVAE.from_config(legacy).num_components == 1


def test_num_components_reach_the_artifact_from_the_cli(mixed_parquet, tmp_path, capsys):
    from vae_augment.artifact import load_artifact
    from vae_augment.errors import VAEAugmentError
    from vae_augment.training import TrainConfig

    code, _, err = run_cli(["fit", mixed_parquet, "--label", "label", "--model-dir",
                            tmp_path / "m", "--num-components", "2", *FAST_ARGS], capsys)
    assert code == 0, err
    assert load_artifact(str(tmp_path / "m")).model.num_components == 2
    with pytest.raises(VAEAugmentError, match="`num_components` must be a positive integer"):
        TrainConfig(num_components=0)
