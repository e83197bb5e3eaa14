"""Free bits (Kingma et al. 2016) in the training loss, patched into the library, then SCRIPT
(`../utility.py`, ...) run with the remaining arguments:

    cd benchmarks/explore && ../../.venv/bin/python freebits.py 0.5 ../utility.py --methods vae ...

The KL term of the loss becomes sum_d max(lambda, mean over the batch of KL_d): a latent
dimension whose batch-mean KL is under `lambda` nats costs the same as one at `lambda`, so
the encoder has no reason to close it. Motivation (session 22): the defaults' hpc model uses
4 of 16 latent dimensions (KL 2.9 nats in all), churn's 6. Metrics still track the true KL;
single device only (an exploration, not the library's multi-replica loss).

One-off exploration behind benchmarks/results/quality.md, session 22.
"""
import runpy
import sys

import _common  # noqa: F401  (import paths)
import tensorflow as tf

from vae_augment import distributions as D
from vae_augment.model import ConditionalVAE

LAMBDA = float(sys.argv[1])


def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    if "x_num" in y_pred:
        x = {**x, "num": y_pred["x_num"]}
    recon, kl = self._elbo_terms(x, y_pred)
    if training and self.bank_size:
        self._update_bank(x["y"], y_pred["q_loc"], y_pred["q_scale"])
    q = D.gaussian(y_pred["q_loc"], y_pred["q_scale"])
    p = D.gaussian(y_pred["p_loc"], y_pred["p_scale"])
    kl_dims = tf.reduce_mean(D.kl_gaussian(q, p), axis=0)  # [latent_dim], batch mean
    kl_loss = tf.reduce_sum(tf.maximum(kl_dims, LAMBDA))
    self.recon_tracker.update_state(-recon)
    self.kl_tracker.update_state(kl)
    self.elbo_tracker.update_state(-recon + kl)
    return tf.reduce_mean(-recon) + self.beta * self.kl_weight * kl_loss


ConditionalVAE.compute_loss = compute_loss
print(f"patched: free bits {LAMBDA}", file=sys.stderr)
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
