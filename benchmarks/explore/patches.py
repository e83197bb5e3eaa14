"""Model and generation variants patched into the library, then SCRIPT (`../utility.py`,
`draw_noise.py`, ...) run with the remaining arguments:

    cd benchmarks/explore && ../../.venv/bin/python patches.py yenc ../utility.py --methods vae ...
    cd benchmarks/explore && ../../.venv/bin/python patches.py mix=1.0 ../utility.py --methods vae ...

Variants (comma-separated for several):
- ``ylayers`` (removed): the class one-hot at every decoder layer and likelihood head, as
  patched at 2443a46 before the library had it. The library's `condition_every_layer` (the
  default since 9f3df27) gives the same figures; the patch is in the history at e1ff2ac.
- ``yenc``: the class one-hot also concatenated to the input of every later encoder layer
  (the library feeds it to the encoder's first layer only).
- ``mix=W``: latent interpolation with the class guide on top: z is drawn around a point a
  share w ~ U(0, W) of the way from a row's stored posterior (stratified slot) to a random
  other stored posterior of its class. Session 3 measured it without the guide (credit LR
  +0.008; churn HGB -0.08 because interpolants decode into the other class's region, which is
  what the guide redraws).

- ``knn=W:K``: latent SMOTE under the guide: as ``mix``, but the partner is one of the K
  nearest stored posteriors of the row's class (session 29).
- ``dequant``: every `Encoding.encode` spreads tied numeric values over their quantile
  intervals with one fixed draw per row (session 13's first check of the idea the library's
  `dequantize` option now implements with fresh noise in each training step). Its C2ST
  figures are not comparable: the detector's features are encoded too, so it sees real and
  synthetic rows spread alike.

One-off exploration behind benchmarks/results/quality.md, sessions 12 and 13.
"""
import runpy
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import tensorflow as tf

from vae_augment import distributions as D
from vae_augment.encoding import Encoding, _knot_forward
from vae_augment.model import ConditionalVAE

_decode_params = ConditionalVAE.decode_params  # the class at every layer (9f3df27)


def decode_params_yconv(self, z, y, training=False):
    yh = self._onehot_y(y)
    saved, self.tensor_dec = self.tensor_dec, []
    try:
        params = _decode_params(self, z, y, training)
    finally:
        self.tensor_dec = saved
    h = tf.concat([tf.cast(z, self.compute_dtype), yh], axis=1)
    for layer in self.dec_hidden:
        h = tf.concat([self.dec_drop(layer(h), training=training), yh], axis=1)
    for i, dec in enumerate(self.tensor_dec):
        t = h
        for layer in dec:
            if type(layer).__name__ in ("Conv2D", "Conv2DTranspose"):
                shape = tf.shape(t)
                t = tf.concat([t, tf.broadcast_to(yh[:, None, None, :],
                                                  [shape[0], shape[1], shape[2], self.n_classes])],
                              axis=-1)
            t = layer(t)
        params[f"tensor_{i}"] = tf.cast(t, tf.float32)
    return params


_encode_params = ConditionalVAE.encode_params


def encode_params_yenc(self, x, training=False):
    layers = self.enc_hidden
    yh = self._onehot_y(x["y"])

    class WithClass:  # each encoder layer after the first sees [h, y]
        def __init__(self, layer, first):
            self.layer, self.first = layer, first

        def __call__(self, h):
            return self.layer(h if self.first else tf.concat([h, yh], axis=1))

    wrapped = [WithClass(layer, i == 0) for i, layer in enumerate(layers)]
    try:
        object.__setattr__(self, "enc_hidden", wrapped)
        return _encode_params(self, x, training)
    finally:
        object.__setattr__(self, "enc_hidden", layers)


def _between(self, y, y32, anchor, j, eps, seeds, mix, tensor_mean, with_latent):
    """The draw around a point w ~ U(0, mix) of the way from the stored posterior `anchor`
    to slot `j` of the same class (`mix` and `knn` below)."""
    partner = tf.stack([y32, j], axis=1)
    w = mix * tf.random.stateless_uniform(
        [tf.shape(y32)[0], 1], seed=tf.random.experimental.stateless_fold_in(seeds[0], 3))
    loc = (1 - w) * tf.gather_nd(self.bank_loc, anchor) + w * tf.gather_nd(
        self.bank_loc, partner)
    z = loc + self.temperature * D.normal_scale(tf.gather_nd(self.bank_scale, anchor)) * eps
    params = self.decode_params(z, y)
    out = D.sample_features(self.layout, params, seeds[1], tensor_mean=tensor_mean)
    return (out, z, params) if with_latent else out


def mixed_draw(mix):
    def _draw(self, y, seed, *, tensor_mean=None, with_latent=False):
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=2)
        y32 = tf.cast(y, tf.int32)
        filled = tf.gather(self.bank_filled, y32)
        eps = tf.random.stateless_normal([tf.shape(y32)[0], self.latent_dim], seed=seeds[0])
        anchor = tf.stack([y32, self._bank_slots(y32, filled, seeds[0])], axis=1)
        u = tf.random.stateless_uniform(
            tf.shape(y32), seed=tf.random.experimental.stateless_fold_in(seeds[0], 2))
        j = tf.minimum(tf.cast(u * tf.cast(filled, tf.float32), tf.int32),
                       tf.maximum(filled - 1, 0))
        return _between(self, y, y32, anchor, j, eps, seeds, mix, tensor_mean, with_latent)
    return _draw


def _knn(loc, filled, k):
    """[classes, slots, k] the k nearest stored posteriors (by mean) of each filled slot."""
    n_cls, slots, _ = loc.shape
    out = np.zeros((n_cls, slots, k), np.int32)
    for c in range(n_cls):
        n = int(filled[c])
        if n < 2:
            continue
        x = loc[c, :n]
        d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        nn = np.argsort(d, axis=1)[:, :min(k, n - 1)]
        out[c, :n] = nn[:, np.arange(k) % nn.shape[1]]
    return out


def knn_draw(mix, k):
    """Latent SMOTE: z is drawn around a point a share w ~ U(0, mix) of the way from a row's
    stored posterior to one of the `k` nearest stored posteriors of its class (by their
    means), as SMOTE picks a partner among a row's k nearest neighbours."""
    def table(self):
        if getattr(self, "_knn_table", None) is None:
            with tf.init_scope():  # the bank as it is after training (read once, eagerly)
                self._knn_table = tf.constant(_knn(self.bank_loc.numpy(),
                                                   self.bank_filled.numpy(), k))
        return self._knn_table

    def _draw(self, y, seed, *, tensor_mean=None, with_latent=False):
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=2)
        y32 = tf.cast(y, tf.int32)
        filled = tf.gather(self.bank_filled, y32)
        eps = tf.random.stateless_normal([tf.shape(y32)[0], self.latent_dim], seed=seeds[0])
        slot = self._bank_slots(y32, filled, seeds[0])
        anchor = tf.stack([y32, slot], axis=1)
        pick = tf.random.stateless_uniform(
            tf.shape(y32), seed=tf.random.experimental.stateless_fold_in(seeds[0], 2),
            maxval=k, dtype=tf.int32)
        j = tf.gather_nd(table(self), tf.stack([y32, slot, pick], axis=1))
        j = tf.where(filled > 1, j, slot)
        return _between(self, y, y32, anchor, j, eps, seeds, mix, tensor_mean, with_latent)
    return _draw


def dequantized_forward(self, j, x):
    """Tied values spread uniformly over their quantile interval instead of its midpoint."""
    from scipy.special import ndtri

    from vae_augment.encoding import PROBIT_EPS
    values, p_first, p_last = self._knot_tables[j]
    p = _knot_forward(self._knot_tables[j], x)
    if len(values) > 1:
        xc = np.clip(x, values[0], values[-1])
        i = np.clip(np.searchsorted(values, xc, side="right") - 1, 0, len(values) - 1)
        exact = values[i] == xc
        u = np.random.default_rng(1000 + j).uniform(size=len(x))
        p = np.where(exact, p_first[i] + u * (p_last[i] - p_first[i]), p)
    return ndtri(PROBIT_EPS + (1.0 - 2.0 * PROBIT_EPS) * p)


for variant in sys.argv[1].split(","):
    name, _, value = variant.partition("=")
    if name == "yenc":
        ConditionalVAE.encode_params = encode_params_yenc
    elif name == "yconv":
        ConditionalVAE.decode_params = decode_params_yconv
    elif name == "dequant":
        Encoding._forward = dequantized_forward
    elif name == "mix":
        ConditionalVAE._draw = mixed_draw(float(value))
    elif name == "knn":
        w, _, k = value.partition(":")
        ConditionalVAE._draw = knn_draw(float(w), int(k or 5))
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    print(f"patched: {variant}", file=sys.stderr)
script = sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
