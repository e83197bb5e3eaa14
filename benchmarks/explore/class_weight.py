"""Class-weighted training: each row's term of the training loss (and of the tracked ELBO
that early stopping watches) is weighted by (n / (k * n_class)) ** ALPHA, normalised over
the training rows to mean 1, so the decoder spends its capacity on the classes that are
generated. Patches `ConditionalVAE.compute_loss`, then runs `benchmarks/utility.py` with the
remaining arguments.

    .venv/bin/python benchmarks/explore/class_weight.py ALPHA --methods vae --datasets hpc ...

One-off exploration behind benchmarks/results/quality.md, session 9, run before the library had
`class_balance` (same weighting; PLAIN_TRACK=1 is the variant the library does not offer).
"""
import os
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import tensorflow as tf
import utility as U

from vae_augment import model as M

alpha = float(sys.argv[1])
PLAIN_TRACK = os.environ.get("PLAIN_TRACK") == "1"


def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    recon, kl = self._elbo_terms(x, y_pred)
    if training and self.bank_size:
        self._update_bank(x["y"], y_pred["q_loc"], y_pred["q_scale"])
    w = tf.gather(self._class_w, tf.cast(x["y"], tf.int32))
    loss = tf.reduce_mean(w * (-recon + self.beta * self.kl_weight * kl))
    tw = None if PLAIN_TRACK else w  # PLAIN_TRACK: early stopping watches the plain ELBO
    self.recon_tracker.update_state(-recon, sample_weight=tw)
    self.kl_tracker.update_state(kl, sample_weight=tw)
    self.elbo_tracker.update_state(-recon + kl, sample_weight=tw)
    return loss


M.ConditionalVAE.compute_loss = compute_loss

from vae_augment import api as A  # noqa: E402

COUNTS = []
plain_train = A.train_model


def train_model(encoding, *args, **kwargs):
    COUNTS[:] = [encoding.class_counts[c] for c in encoding.classes]
    return plain_train(encoding, *args, **kwargs)


A.train_model = train_model
plain_init = M.ConditionalVAE.__init__


def init(self, *args, **kwargs):
    plain_init(self, *args, **kwargs)
    n = np.asarray(COUNTS, float)
    w = (n.sum() / (len(n) * n)) ** alpha
    w = w / (w * n).sum() * n.sum()  # mean 1 over the training rows
    self._class_w = tf.constant(w, tf.float32)


M.ConditionalVAE.__init__ = init
print("alpha", alpha, "weights set per fit", file=sys.stderr)
sys.exit(U.main(sys.argv[2:]))
