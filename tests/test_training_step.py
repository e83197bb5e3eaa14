"""The cheaper training path on one device (`ConditionalVAE.make_train_function`,
`callbacks.Validation`): the same weights and metrics as Keras' own functions, and Keras'
own validation pass whenever a callback hooks it."""

import keras
import numpy as np

from tests.conftest import FAST
from vae_augment import callbacks as cb
from vae_augment.api import fit

KW = {**FAST, "epochs": 4, "patience": 10, "dropout": 0.1}


class ValidationHook(keras.callbacks.Callback):
    """A callback that hooks Keras' validation pass (so `fit` keeps that pass)."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_test_batch_end(self, batch, logs=None):
        self.batches += 1


def _weights(art):
    return [np.asarray(w) for w in art.model.weights]


def test_held_batches_validation_and_one_level_step_match_keras_own(mixed_table, monkeypatch):
    from vae_augment.model import ConditionalVAE

    made = []
    init = cb.Validation.__init__

    def counting_init(self, batches):
        made.append(self)
        init(self, batches)

    monkeypatch.setattr(cb.Validation, "__init__", counting_init)
    fast = fit(mixed_table, label="label", seed=2, **KW)
    assert len(made) == 1  # the in-memory fit computed its validation metrics itself
    # and ran its steps through the one-level function, not Keras' tf.function
    assert fast.model.one_level_functions()
    assert "ConditionalVAE.make_train_function" in fast.model.train_function.__qualname__

    # many validation batches: a loop over the dataset in the function, not batches held
    # (no copy of however many rows an in-memory fit holds out)
    monkeypatch.setattr(cb.Validation, "HOLD_MAX_BATCHES", 0)
    looped = fit(mixed_table, label="label", seed=2, **KW)
    assert len(made) == 2 and made[0].batches and made[1].batches is None
    monkeypatch.undo()
    monkeypatch.setattr(cb.Validation, "__init__", counting_init)

    # a callback hooking Keras' validation pass gets it (and the same figures)
    hook = ValidationHook()
    hooked = fit(mixed_table, label="label", seed=2, callbacks=[hook], **KW)
    assert len(made) == 2 and hook.batches > 0

    # Keras' own train function and validation pass throughout: the same run, bit for bit
    monkeypatch.setattr(ConditionalVAE, "one_level_functions", lambda self: False)
    keras_path = fit(mixed_table, label="label", seed=2, **KW)
    assert len(made) == 2
    assert "ConditionalVAE" not in keras_path.model.train_function.__qualname__
    a = fast.config["metrics"]
    assert a["epochs_run"] == KW["epochs"]
    keys = [k for k in a if k.startswith("val_")]
    assert {"val_loss", "val_neg_elbo", "val_recon", "val_kl"} <= set(keys)
    want = keras_path.config["metrics"]  # Keras' own validation pass
    for other in (looped, hooked, fast):
        b = other.config["metrics"]
        assert b["epochs_run"] == a["epochs_run"]
        # bit for bit: one step function per held batch (session 55; the unrolled steps
        # before it, optimized as one graph, rounded an ulp or two from Keras' loop)
        assert {k: b[k] for k in keys} == {k: want[k] for k in keys}
    for wa, wb in zip(_weights(fast), _weights(keras_path), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_validation_hook_check_sees_only_overridden_hooks():
    assert cb.Validation.uses_keras_validation([ValidationHook()])
    import tensorflow as tf

    held = cb.Validation(tf.data.Dataset.from_tensor_slices({"y": [0, 1]}).batch(1))
    assert len(held.batches) == 2  # a few batches: held as a list, a step function on each
    assert not cb.Validation.uses_keras_validation([keras.callbacks.Callback(), held])
