"""Class-balanced training (`class_balance`): rows' loss terms weighted by class frequency."""

import json

import numpy as np
import pytest

from vae_augment.errors import VAEAugmentError
from vae_augment.training import TrainConfig, class_weights

from .conftest import FAST, FAST_ARGS, run_cli


def test_class_weights_interpolate_between_rows_alike_and_classes_alike():
    counts = np.array([700, 200, 100])
    assert class_weights(counts, 0.0) is None and class_weights([50], 1.0) is None
    for power in (0.25, 0.5, 1.0):
        w = np.array(class_weights(counts, power))
        assert np.isclose((w * counts).sum() / counts.sum(), 1.0)  # mean 1 over the rows
        assert np.all(np.diff(w) > 0)  # rarer classes weigh more
    totals = np.array(class_weights(counts, 1.0)) * counts
    np.testing.assert_allclose(totals, totals[0])  # power 1: every class the same total weight
    half = np.array(class_weights(counts, 0.5))
    np.testing.assert_allclose(half[2] / half[0], np.sqrt(7.0))  # (700 / 100) ** 0.5
    assert np.isfinite(class_weights([10, 0], 1.0)).all()  # an empty class does not divide by 0


def test_classes_under_the_floor_weigh_as_the_floor():
    from vae_augment.training import CLASS_BALANCE_MIN_ROWS

    assert CLASS_BALANCE_MIN_ROWS == 50
    counts = np.array([400, 50, 20, 5])
    w = np.array(class_weights(counts, 1.0))
    assert np.isclose((w * counts).sum() / counts.sum(), 1.0)  # mean 1 over the real rows
    np.testing.assert_allclose(w[1:], w[1])  # 20 and 5 rows weigh as a 50-row class
    np.testing.assert_allclose(w[1] / w[0], 8.0)  # 400 / 50
    # no floor: the plain formula, the 5-row class 10x the 50-row one
    plain = np.array(class_weights(counts, 1.0, min_rows=0))
    np.testing.assert_allclose(plain[3] / plain[1], 10.0)
    # classes above the floor get bit-identical weights (models trained before it unchanged)
    for counts in ([942, 181, 359, 1547], [3005, 494], [877, 2240]):
        assert class_weights(counts, 0.5) == class_weights(counts, 0.5, min_rows=0)
    # every class under the floor: all rows alike
    np.testing.assert_allclose(class_weights([40, 10], 0.5), [1.0, 1.0])


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, float("nan")])
def test_class_balance_is_validated(bad):
    with pytest.raises(VAEAugmentError, match="`class_balance` must be in"):
        TrainConfig(class_balance=bad)


def test_weighted_loss_is_the_class_weighted_mean_of_the_rows_terms(mixed_artifact,
                                                                     mixed_table):
    from vae_augment.artifact import load_artifact
    from vae_augment.model import ConditionalVAE

    art = load_artifact(str(mixed_artifact))
    # at KL weight 1 (the defaults' 0.5 weighs the loss's KL term, not the tracked -ELBO's)
    plain = ConditionalVAE.from_config({**art.model.get_config(), "beta": 1.0})
    plain.set_weights(art.model.get_weights())
    layout = plain.layout
    weights = [0.5, 1.0, 3.0]
    weighted = ConditionalVAE.from_config({**plain.get_config(), "class_weights": weights})
    weighted.set_weights(plain.get_weights())
    x = art.encoding.encode(mixed_table.slice(0, 12))
    assert len(set(np.asarray(x["y"]).tolist())) == 3
    params = plain(x, training=False)
    recon, kl = plain._elbo_terms(x, params)
    terms = (-recon + kl).numpy()  # beta 1, KL weight 1
    got_plain = plain.compute_loss(x=x, y_pred=params, training=False).numpy()
    got = weighted.compute_loss(x=x, y_pred=params, training=False).numpy()
    np.testing.assert_allclose(got_plain, terms.mean(), rtol=1e-5)
    w = np.array(weights)[np.asarray(x["y"])]
    np.testing.assert_allclose(got, (w * terms).mean(), rtol=1e-5)
    # the tracked ELBO, which early stopping watches, is the weighted mean too
    np.testing.assert_allclose(weighted.elbo_tracker.result().numpy(),
                               (w * terms).sum() / w.sum(), rtol=1e-5)
    with pytest.raises(ValueError, match="`class_weights` must be 3 positive numbers"):
        ConditionalVAE(layout, class_weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="`class_weights` must be 3 positive numbers"):
        ConditionalVAE(layout, class_weights=[1.0, 0.0, 2.0])


def test_fit_with_class_balance_stores_the_weights_and_round_trips(mixed_table, mixed_artifact,
                                                                    tmp_path):
    from vae_augment.api import fit, sample
    from vae_augment.artifact import load_artifact

    table = mixed_table.drop_columns(["img"])
    art = fit(table, label="label", seed=0, model_dir=str(tmp_path / "m"), class_balance=1.0,
              **FAST)
    counts = [art.encoding.class_counts[c] for c in art.encoding.classes]
    np.testing.assert_allclose(art.model.class_weights, class_weights(counts, 1.0))
    assert art.config["train_config"]["class_balance"] == 1.0
    loaded = load_artifact(str(tmp_path / "m"))
    assert loaded.model.class_weights == art.model.class_weights
    assert sample(loaded, {"b": 20, "c": 20}, seed=1).num_rows == 40
    # the default trains every row alike, and models saved before the option load so too
    assert load_artifact(str(mixed_artifact)).model.class_weights is None
    legacy = {k: v for k, v in art.model.get_config().items() if k != "class_weights"}
    assert type(art.model).from_config(legacy).class_weights is None


def test_class_balance_from_the_cli(mixed_parquet, tmp_path, capsys):
    code, out, err = run_cli(["fit", mixed_parquet, "--label", "label", "--model-dir",
                              tmp_path / "m", "--class-balance", "0.5", *FAST_ARGS], capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["train_config"]["class_balance"] == 0.5
    # its -ELBO figures are class-weighted means, and say so
    assert config["metrics"]["class_weighted_elbo"] is True
    assert json.loads(out.strip().splitlines()[-1])["class_weighted_elbo"] is True
    code, _, err = run_cli(["fit", mixed_parquet, "--label", "label", "--model-dir",
                            tmp_path / "x", "--class-balance", "2", *FAST_ARGS], capsys)
    assert code == 2 and "`--class-balance` must be in [0, 1]" in err


def test_oversampler_takes_class_balance():
    from vae_augment.imblearn import VAEOverSampler

    assert VAEOverSampler().get_params()["class_balance"] == TrainConfig.class_balance
    X = np.random.default_rng(0).normal(size=(40, 2))
    y = np.array([0] * 30 + [1] * 10)
    with pytest.raises(ValueError, match="class_balance"):
        VAEOverSampler(class_balance=1.5).fit_resample(X, y)
