"""Categorical columns handled per size of category (one distribution, one one-hot per
size, not per column): the same values as column by column."""

import numpy as np
import tensorflow as tf
from tensorflow_probability import distributions as tfd

from vae_augment import distributions as D
from vae_augment.model import ConditionalVAE

SIZES = [3, 2, 5, 2, 3, 7, 2, 1]


def _codes(batch=40, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(np.stack([rng.integers(0, n, batch) for n in SIZES], 1), tf.int32)


def test_log_prob_per_size_equals_the_sum_over_columns():
    rng = np.random.default_rng(1)
    cat = _codes()
    logits = tf.constant(rng.normal(size=(40, sum(SIZES))) * 3, tf.float32)
    layout = {"n_num": 0, "n_null": 0, "cat_sizes": SIZES, "tensors": []}
    got = D.feature_log_prob(layout, {"cat_logits": logits}, {"y": tf.zeros(40), "cat": cat})
    want = sum(tfd.Categorical(logits=part).log_prob(cat[:, j])
               for j, part in enumerate(tf.split(logits, SIZES, axis=1)))
    np.testing.assert_allclose(got["cat"].numpy(), want.numpy(), rtol=1e-6, atol=1e-5)
    # a column's logits belong to it: a shifted column changes only its own term
    shifted = logits.numpy().copy()
    shifted[:, 5:10] += np.arange(5.0)  # column 2 (5 categories)
    again = D.feature_log_prob(layout, {"cat_logits": tf.constant(shifted)},
                               {"y": tf.zeros(40), "cat": cat})["cat"]
    part = tf.constant(shifted[:, 5:10])
    expected = want - tfd.Categorical(logits=logits[:, 5:10]).log_prob(cat[:, 2]) \
        + tfd.Categorical(logits=part).log_prob(cat[:, 2])
    np.testing.assert_allclose(again.numpy(), expected.numpy(), rtol=1e-6, atol=1e-5)


def test_encoder_one_hots_are_column_by_column_in_order():
    layout = {"n_num": 1, "n_null": 0, "cat_sizes": SIZES, "tensors": [], "n_classes": 2,
              "num_null_idx": [-1], "tensor_null_idx": []}
    model = ConditionalVAE(layout=layout, latent_dim=2, hidden=(8,))
    cat = _codes(seed=2)
    want = np.concatenate([tf.one_hot(cat[:, j], n).numpy() for j, n in enumerate(SIZES)], 1)
    np.testing.assert_array_equal(model._cat_one_hot(cat).numpy(), want)
