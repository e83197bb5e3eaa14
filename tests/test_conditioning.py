"""`condition_every_layer`: the class one-hot fed to every decoder layer and likelihood head."""


import numpy as np
import pytest
import tensorflow as tf

from vae_augment.errors import VAEAugmentError
from vae_augment.training import TrainConfig

from .conftest import FAST, check_oversampler_option, cli_train_config


def _model(layout, every):
    from vae_augment.model import ConditionalVAE

    return ConditionalVAE(layout, latent_dim=4, hidden=(16, 8), seed=0,
                          condition_every_layer=every)


@pytest.fixture(scope="module")
def layout(mixed_artifact):
    from vae_augment.artifact import load_artifact

    return load_artifact(str(mixed_artifact)).model.layout


def test_every_decoder_layer_and_head_takes_the_class(layout):
    n = layout["n_classes"]
    every, first = _model(layout, True), _model(layout, False)
    # first decoder layer: z and the class either way
    assert every.dec_hidden[0].kernel.shape[0] == first.dec_hidden[0].kernel.shape[0] == 4 + n
    # the later layers and the heads see the class only with the option
    assert every.dec_hidden[1].kernel.shape[0] == 16 + n
    assert first.dec_hidden[1].kernel.shape[0] == 16
    for head in ("num_head", "null_head", "cat_head"):
        assert getattr(every, head).kernel.shape[0] == 8 + n, head
        assert getattr(first, head).kernel.shape[0] == 8, head
    assert every.tensor_dec[0][0].kernel.shape[0] == 8 + n  # the image decoder too


def test_the_class_reaches_the_heads_past_the_first_layer(layout):
    """With the class's weights into the first decoder layer zeroed, only the option's later
    inputs can carry the class: the likelihood parameters then still move with the class."""
    z = tf.random.stateless_normal([5, 4], seed=[1, 2])
    for every in (True, False):
        m = _model(layout, every)
        k = m.dec_hidden[0].kernel
        k.assign(tf.concat([k[:4], tf.zeros_like(k[4:])], axis=0))  # rows 4..: the class
        a = m.decode_params(z, tf.zeros([5], tf.int32))
        b = m.decode_params(z, tf.ones([5], tf.int32))
        moved = max(float(tf.reduce_max(tf.abs(a[key] - b[key]))) for key in a)
        assert (moved > 1e-4) == every, (every, moved)


def test_config_round_trip_and_legacy_models_load_as_trained(layout, mixed_artifact, tmp_path):
    from vae_augment.artifact import load_artifact
    from vae_augment.model import ConditionalVAE

    art = load_artifact(str(mixed_artifact))
    assert art.model.condition_every_layer is True  # the default for new models
    assert art.model.get_config()["condition_every_layer"] is True
    assert art.config["train_config"]["condition_every_layer"] is True
    config = _model(layout, False).get_config()
    assert ConditionalVAE.from_config(config).condition_every_layer is False
    del config["condition_every_layer"]  # a model saved before the option
    legacy = ConditionalVAE.from_config(config)
    assert legacy.condition_every_layer is False
    assert legacy.dec_hidden[1].kernel.shape[0] == 16  # the architecture it was trained with


def test_fit_without_it_trains_saves_and_samples(mixed_table, tmp_path):
    from vae_augment.api import fit, sample
    from vae_augment.artifact import load_artifact

    art = fit(mixed_table, label="label", seed=0, model_dir=str(tmp_path / "m"),
              condition_every_layer=False, **FAST)
    assert art.model.condition_every_layer is False
    loaded = load_artifact(str(tmp_path / "m"))
    assert loaded.model.condition_every_layer is False
    a, b = sample(art, {"b": 30}, seed=3), sample(loaded, {"b": 30}, seed=3)
    assert a.num_rows == 30 and a.equals(b)


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_condition_every_layer_is_validated(bad):
    with pytest.raises(VAEAugmentError, match="`condition_every_layer` must be True or False"):
        TrainConfig(condition_every_layer=bad)


def test_cli_flag_turns_it_off(mixed_parquet, tmp_path, capsys):
    config = cli_train_config(mixed_parquet, tmp_path / "m", capsys, "--no-condition-every-layer")
    assert config["condition_every_layer"] is False


def test_oversampler_takes_condition_every_layer():
    from vae_augment.imblearn import VAEOverSampler

    assert VAEOverSampler().get_params()["condition_every_layer"] is True
    check_oversampler_option("condition_every_layer", False,
                             np.random.default_rng(0).normal(size=(40, 2)))
