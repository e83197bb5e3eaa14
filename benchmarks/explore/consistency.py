"""A class-consistency term in the training loss (session 21 exploration), patched into the
library, then SCRIPT (`../utility.py`, ...) run with the remaining arguments:

    cd benchmarks/explore && ../../.venv/bin/python consistency.py MODE LAM ../utility.py --methods vae ...

The guide (guided setting) redraws synthetic rows that a classifier of the real rows would put
in another class; that costs about 2 draws per row plus the trees at generation. Here the
decoder is instead trained so that its own draws stay in their class: an auxiliary MLP
classifier is trained on the real rows of each batch (its own cross-entropy), and the decoder
is penalised when a relaxed draw from p(x | z, y), z ~ q(z | x, y) (what generation draws
around a stored posterior), is placed by that classifier (weights held fixed for this term) in
another class. Generation is unchanged, so it costs nothing there.

MODE:
- ``ce``: LAM * cross-entropy of the classifier on the relaxed draw (pushes towards the
  class's core: a caricature risk).
- ``sgan``: the classifier has a (K+1)-th output, "synthetic", trained on the relaxed draws
  (a semi-supervised GAN's discriminator); the decoder's term is the cross-entropy of the
  row's class over all K + 1 outputs, so a draw is pushed both into its class and towards
  looking real.
- ``floor``: LAM * relu(m_real - m_synth), where m is the classifier's log-odds margin of the
  row's class and m_real the batch's real rows' margin of the same row (z's source): the
  draw is pushed only as far as the real row it came from sits.
- ``quant``: LAM * relu(f_y - m_synth), f_y a moving average of the QUANT (environment,
  0.25) quantile of the real rows' margins of class y (the guide's floor, as a loss).
- a suffix ``st`` (``floorst``, ``quantst``, ...): straight-through Gumbel-softmax, one-hot
  categories and null indicators forward, the soft ones' gradient backward.
- PATH_ONLY=scale or loc in the environment: the numerics' gradient flows through their
  scale or their location only.

Every variant trades fidelity (C2ST) for utility; none was built
(benchmarks/results/quality.md, session 21).

Relaxed draws: numerics loc + scale * eps (one component); null indicators and categories by
the Gumbel-softmax (temperature 0.5); image counts by their mean plus a Normal approximation.
"""
import os
import runpy
import sys

import _common  # noqa: F401  (import paths)
import tensorflow as tf

from vae_augment import distributions as D
from vae_augment.model import ConditionalVAE

MODE, LAM = sys.argv[1], float(sys.argv[2])
PATH = os.environ.get("PATH_ONLY", "")  # "loc" / "scale": numerics' gradient through one only
QUANT = float(os.environ.get("QUANT", "0.25"))
STRAIGHT = MODE.endswith("st")  # "floorst", "cest": hard one-hot categories and nulls forward
MODE = MODE[:-2] if STRAIGHT else MODE
TAU = 0.5
WIDTH = 128

_init = ConditionalVAE.__init__
_compute_loss = ConditionalVAE.compute_loss


def _width(layout):
    w = layout["n_num"] + layout["n_null"] + sum(layout["cat_sizes"])
    for t in layout["tensors"]:
        n = 1
        for s in t["shape"]:
            n *= int(s)
        w += n
    return w


def __init__(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    w = _width(self.layout)
    self._tracker.unlock()
    self.aux_w = [
        self.add_weight(shape=(w, WIDTH), initializer="glorot_uniform", name="aux_w0"),
        self.add_weight(shape=(WIDTH,), initializer="zeros", name="aux_b0"),
        self.add_weight(shape=(WIDTH, WIDTH), initializer="glorot_uniform", name="aux_w1"),
        self.add_weight(shape=(WIDTH,), initializer="zeros", name="aux_b1"),
        self.add_weight(shape=(WIDTH, self.n_classes + (MODE == "sgan")),
                        initializer="glorot_uniform", name="aux_w2"),
        self.add_weight(shape=(self.n_classes + (MODE == "sgan"),), initializer="zeros",
                        name="aux_b2"),
    ]
    self.aux_floor = self.add_weight(shape=(self.n_classes,), initializer="zeros",
                                     trainable=False, name="aux_floor")
    self._tracker.lock()


def _classify(weights, h):
    w0, b0, w1, b1, w2, b2 = weights
    h = tf.nn.relu(h @ w0 + b0)
    h = tf.nn.relu(h @ w1 + b1)
    return h @ w2 + b2


def _real_features(self, x):
    layout = self.layout
    parts = [tf.cast(x["num"], tf.float32), tf.cast(x["nulls"], tf.float32)]
    cat = tf.cast(x["cat"], tf.int32)
    for j, size in enumerate(layout["cat_sizes"]):
        parts.append(tf.one_hot(cat[:, j], size, dtype=tf.float32))
    b = tf.shape(x["y"])[0]
    for i, _ in enumerate(layout["tensors"]):
        parts.append(tf.reshape(tf.cast(x[f"tensor_{i}"], tf.float32), [b, -1]))
    return tf.concat(parts, axis=1)


def _gumbel_softmax(logits, seed):
    tiny = 1e-20
    u = tf.random.stateless_uniform(tf.shape(logits), seed=seed, minval=tiny, maxval=1.0)
    soft = tf.nn.softmax((logits - tf.math.log(-tf.math.log(u))) / TAU, axis=-1)
    if not STRAIGHT:
        return soft
    hard = tf.one_hot(tf.argmax(soft, axis=-1), tf.shape(soft)[-1], dtype=soft.dtype)
    return soft + tf.stop_gradient(hard - soft)  # straight-through: one-hot forward


def _relaxed_draw(self, params, seed):
    layout = self.layout
    seeds = tf.random.experimental.stateless_split(seed, num=4 + len(layout["tensors"]))
    b = tf.shape(params["q_loc"])[0]
    parts = []
    if layout["n_num"]:
        loc = tf.cast(params["num_loc"], tf.float32)
        raw = params["num_scale"]
        if PATH == "scale":
            loc = tf.stop_gradient(loc)
        elif PATH == "loc":
            raw = tf.stop_gradient(raw)
        eps = tf.random.stateless_normal(tf.shape(loc), seed=seeds[0])
        parts.append(loc + D.normal_scale(raw) * eps)
    else:
        parts.append(tf.zeros([b, 0]))
    if layout["n_null"]:
        lg = tf.cast(params["null_logits"], tf.float32)
        two = tf.stack([tf.zeros_like(lg), lg], axis=-1)  # [absent, null]
        parts.append(_gumbel_softmax(two, seeds[1])[..., 1])
    else:
        parts.append(tf.zeros([b, 0]))
    if layout["cat_sizes"]:
        cs = tf.random.experimental.stateless_split(seeds[2], num=len(layout["cat_sizes"]))
        for j, lg in enumerate(D._split_cat(params["cat_logits"], layout["cat_sizes"])):
            parts.append(_gumbel_softmax(lg, cs[j]))
    for i, t in enumerate(layout["tensors"]):
        raw = tf.cast(params[f"tensor_{i}"], tf.float32)
        p = tf.sigmoid(raw)
        n = float(t.get("total_count") or 1.0)
        eps = tf.random.stateless_normal(tf.shape(p), seed=seeds[4 + i])
        v = tf.clip_by_value(p + tf.sqrt(p * (1 - p) / n) * eps, 0.0, 1.0)
        parts.append(tf.reshape(v, [b, -1]))
    return tf.concat(parts, axis=1)


def _margin(logits, y):
    own = tf.gather(logits, y, batch_dims=1)
    others = logits + tf.one_hot(y, tf.shape(logits)[1], on_value=-1e9, off_value=0.0)
    return own - tf.reduce_logsumexp(others, axis=1)


def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    loss = _compute_loss(self, x, y, y_pred, sample_weight, training)
    if not training:
        return loss
    yy = tf.cast(x["y"], tf.int32)
    real = _real_features(self, x)
    real_logits = _classify(self.aux_w, real)
    cls = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yy, real_logits))
    frozen = [tf.stop_gradient(w) for w in self.aux_w]
    synth = _relaxed_draw(self, y_pred, self._noise_seed())
    s_logits = _classify(frozen, synth)
    if MODE == "sgan":  # K + 1 outputs: the classes, and "synthetic"
        fake = tf.fill(tf.shape(yy), self.n_classes)
        cls = cls + tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            fake, _classify(self.aux_w, tf.stop_gradient(synth))))
        cons = tf.nn.sparse_softmax_cross_entropy_with_logits(yy, s_logits)
    elif MODE == "ce":
        cons = tf.nn.sparse_softmax_cross_entropy_with_logits(yy, s_logits)
    elif MODE == "quant":  # the class's QUANT quantile of real margins (EMA over batches)
        m_real = tf.stop_gradient(_margin(_classify(frozen, real), yy))
        floors = []
        for c in range(self.n_classes):
            mc = tf.boolean_mask(m_real, tf.equal(yy, c))
            n = tf.shape(mc)[0]
            old = self.aux_floor[c]

            def updated(mc=mc, n=n, old=old):
                k = tf.cast(tf.floor(QUANT * tf.cast(n - 1, tf.float32)), tf.int32)
                return 0.95 * old + 0.05 * tf.gather(tf.sort(mc), k)

            floors.append(tf.cond(n > 0, updated, lambda old=old: old))
        self.aux_floor.assign(tf.stack(floors))
        cons = tf.nn.relu(tf.gather(self.aux_floor, yy) - _margin(s_logits, yy))
    elif MODE == "floor":
        m_real = tf.stop_gradient(_margin(_classify(frozen, real), yy))
        cons = tf.nn.relu(m_real - _margin(s_logits, yy))
    else:
        raise SystemExit(f"unknown mode {MODE}")
    return loss + cls + LAM * tf.reduce_mean(cons)


ConditionalVAE.__init__ = __init__
ConditionalVAE.compute_loss = compute_loss

sys.argv = sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
