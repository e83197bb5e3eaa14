"""Bank pruning by how much a stored posterior's draws lose against its own likelihood mode
(relative), not by their class margin alone (absolute), then `utility.py` with the remaining
arguments:

    cd benchmarks/explore && ../../.venv/bin/python relprune.py --methods vae --seeds 0,1,2 ...

Session 27: the defaults' pruning (keep the 25 % most class-consistent posteriors) dropped
churners with a voice-mail plan (0.2 % of synthetic churners against 15 % of real ones):
such a churner is a hard real row, its margin is poor even without noise. Scoring each
posterior by mean margin of its draws minus the margin of its mode row (z at the posterior
mean, every head at its mode) keeps the hard rows and drops the posteriors whose draws the
heads' noise carries out of the class.
"""
import sys

import _common  # noqa: F401  (import paths)
import tensorflow as tf
import utility  # noqa: E402

from vae_augment import distributions as D
from vae_augment.selection import RowSelection

_plain = RowSelection._bank_scores


def mode_features(layout, params):
    out = {}
    if layout["n_num"]:
        if "num_logits" in params:
            k = tf.argmax(params["num_logits"], axis=-1)
            out["num"] = tf.gather(params["num_loc"], k, batch_dims=2)
        else:
            out["num"] = tf.cast(params["num_loc"], tf.float32)
    if layout["n_null"]:
        out["nulls"] = tf.cast(params["null_logits"] > 0, tf.float32)
    if layout["cat_sizes"]:
        out["cat"] = tf.stack([tf.argmax(g, axis=-1, output_type=tf.int32) for g in
                               D._split_cat(params["cat_logits"], layout["cat_sizes"])], axis=1)
    draws = D.sample_features(layout, params, tf.constant([0, 0]), tensor_mean=True)
    for key, value in draws.items():
        if key.startswith("tensor_"):
            out[key] = value
    return out


def _bank_scores(self, classes, *, seed=0, draws=8, on_class=None, max_rows=16384):
    scores = _plain(self, classes, seed=seed, draws=draws, on_class=on_class, max_rows=max_rows)
    filled = self.bank_filled.numpy()
    for c in classes:
        f = int(filled[c])
        z = tf.constant(self.bank_loc.numpy()[c, :f])
        y = tf.fill([f], c)
        params = self.decode_params(z, y)
        x = mode_features(self.layout, params)
        mode = self.class_margin(x, z, y, params).numpy()
        scores[c] = scores[c] - mode
    return scores


RowSelection._bank_scores = _bank_scores
if __name__ == "__main__":
    sys.exit(utility.main(sys.argv[1:]))
