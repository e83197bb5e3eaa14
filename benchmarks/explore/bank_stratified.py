"""Stratified bank assignment: row i of a batch draws its latent around stored posterior
(offset + i) mod filled of its class (offset drawn from the seed) instead of a uniformly drawn
one, so every stored posterior of a class gets the same number of synthetic rows (within one)
rather than a multinomial share. Patches `ConditionalVAE._draw`, then runs SCRIPT
(`draw_noise.py` or `../utility.py`) with the remaining arguments.

    cd benchmarks/explore && ../../.venv/bin/python bank_stratified.py draw_noise.py digits_longtail 0,1,2 5 '{"guide_iterations": 50, ...}'
    cd benchmarks/explore && ../../.venv/bin/python bank_stratified.py ../utility.py --methods vae ...

One-off exploration behind benchmarks/results/quality.md, session 11: does it steady (or
raise) the protocol figures of classes with a handful of rows?
"""
import runpy
import sys

import _common  # noqa: F401  (import paths)
import tensorflow as tf

from vae_augment import distributions as D
from vae_augment.model import ConditionalVAE


def _draw(self, y, seed, *, tensor_mean=None, with_latent=False):
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=2)
    p_mu, p_sd = self.prior_params(y)
    eps = tf.random.stateless_normal(tf.shape(p_mu), seed=seeds[0], dtype=tf.float32)
    z = p_mu + self.temperature * D.normal_scale(p_sd) * eps
    if self.latent_source == "posterior" and self.bank_size:
        y32 = tf.cast(y, tf.int32)
        filled = tf.gather(self.bank_filled, y32)
        offset = tf.random.stateless_uniform(
            [], seed=tf.random.experimental.stateless_fold_in(seeds[0], 1), maxval=2**30,
            dtype=tf.int32)
        j = tf.math.floormod(offset + tf.range(tf.shape(y32)[0], dtype=tf.int32),
                             tf.maximum(filled, 1))
        idx = tf.stack([y32, j], axis=1)
        b_loc = tf.gather_nd(self.bank_loc, idx)
        b_sd = D.normal_scale(tf.gather_nd(self.bank_scale, idx))
        z_post = b_loc + self.temperature * b_sd * eps
        z = tf.where((filled > 0)[:, None], z_post, z)
    params = self.decode_params(z, y)
    out = D.sample_features(self.layout, params, seeds[1], tensor_mean=tensor_mean)
    return (out, z, params) if with_latent else out


ConditionalVAE._draw = _draw
print("stratified bank assignment", file=sys.stderr)
script = sys.argv[1]
sys.argv = [script, *sys.argv[2:]]
runpy.run_path(script, run_name="__main__")
