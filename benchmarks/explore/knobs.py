"""Generation-time knobs on one split: fit once with the full bank, then for each variant
restore the bank, prune it (keep, min_rows), set the latent temperature, a numeric noise
scale and a temperature of the category draws given z (`cat_temp`), generate the `auto` counts and report LR/HGB F1 and C2ST.

    .venv/bin/python benchmarks/explore/knobs.py hpc 0 [fit kwargs as JSON]

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import json
import sys

import numpy as np
import tensorflow as tf
from _common import generate, scores, split

from vae_augment import distributions as D
from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

ds = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
variants = json.loads(sys.argv[4]) if len(sys.argv) > 4 else [
    {"keep": 1.0}, {"keep": 0.25}, {"keep": 0.25, "min_rows": 128},
    {"keep": 0.5, "min_rows": 128}, {"keep": 1.0, "noise": 0.5},
    {"keep": 0.25, "min_rows": 128, "noise": 0.7}, {"keep": 1.0, "temp": 0.5},
]
sp = split(ds, seed)
art = fit(sp.train, label=sp.label, seed=seed, bank_keep=1.0, **kwargs)
m, enc = art.model, art.encoding
saved = [w.numpy().copy() for w in (m.bank_loc, m.bank_scale, m.bank_filled, m.bank_pos)]
rows = [enc.class_counts[c] for c in enc.classes]
plain_sample = D.sample_features
plain_draw = type(m)._draw


def knn_table(k):
    """[n_classes, bank_size, k] indices of each stored posterior's k nearest stored
    posterior means of its class in the current bank (itself excluded)."""
    locs, filled = m.bank_loc.numpy(), m.bank_filled.numpy()  # the bank as pruned now
    table = np.zeros(locs.shape[:2] + (k,), np.int32)
    for c in range(m.n_classes):
        f = int(filled[c])
        if f < 2:
            continue
        mu = locs[c, :f]
        d = ((mu[:, None, :] - mu[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        kk = min(k, f - 1)
        nn = np.argsort(d, axis=1)[:, :kk]
        table[c, :f] = np.take(nn, np.arange(k) % kk, axis=1)
    return tf.constant(table)


def mixed_draw(mix, knn=None):
    """`_draw` with latent interpolation: z is drawn around a point a share w ~ U(0, mix) of
    the way from one stored posterior of the class to another (latent-space SMOTE with a
    random partner, or with one of its `knn` nearest neighbours)."""
    table = None if knn is None else knn_table(knn)

    def draw(self, y, seed, *, tensor_mean=None, with_latent=False):
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=2)
        y32 = tf.cast(y, tf.int32)
        filled = tf.gather(self.bank_filled, y32)
        eps = tf.random.stateless_normal([tf.shape(y32)[0], self.latent_dim], seed=seeds[0])
        picks = []
        for f in (1, 2):
            u = tf.random.stateless_uniform(
                tf.shape(y32), seed=tf.random.experimental.stateless_fold_in(seeds[0], f))
            j = tf.minimum(tf.cast(u * tf.cast(filled, tf.float32), tf.int32),
                           tf.maximum(filled - 1, 0))
            if f == 2 and table is not None:  # the partner: one of the anchor's neighbours
                slot = tf.minimum(tf.cast(u * knn, tf.int32), knn - 1)
                j = tf.gather_nd(table, tf.stack([y32, picks[0][:, 1], slot], axis=1))
            picks.append(tf.stack([y32, j], axis=1))
        w = mix * tf.random.stateless_uniform(
            [tf.shape(y32)[0], 1], seed=tf.random.experimental.stateless_fold_in(seeds[0], 3))
        loc = (1 - w) * tf.gather_nd(self.bank_loc, picks[0]) + w * tf.gather_nd(
            self.bank_loc, picks[1])
        sd = D.normal_scale(tf.gather_nd(self.bank_scale, picks[0]))
        z = loc + self.temperature * sd * eps
        params = self.decode_params(z, y)
        out = D.sample_features(self.layout, params, seeds[1], tensor_mean=tensor_mean)
        return (out, z, params) if with_latent else out
    return draw


def elbo_scores(c, draws=8):
    """Like `bank_scores`, with the ELBO margin: -ELBO(x | c) minus the lowest -ELBO(x | c')
    over the other classes (each row re-encoded under every class)."""
    f = int(saved[2][c])
    loc = np.repeat(saved[0][c, :f], draws, axis=0)
    raw = np.repeat(saved[1][c, :f], draws, axis=0)
    seeds = tf.random.experimental.stateless_split(tf.constant([seed, c], tf.int32), 2)
    z = loc + D.normal_scale(raw) * tf.random.stateless_normal(loc.shape, seed=seeds[0])
    y = tf.fill([f * draws], c)
    x = m._complete(D.sample_features(m.layout, m.decode_params(z, y), seeds[1]), f * draws)
    own = m.neg_elbo({**x, "y": y})
    best = None
    for other in range(m.n_classes):
        if other != c:
            score = m.neg_elbo({**x, "y": tf.fill([f * draws], other)})
            best = score if best is None else tf.minimum(best, score)
    return (own - best).numpy().reshape(f, draws).mean(1)


elbo_cache = {}


def prune_by_elbo(keep):
    locs, scales, filled = saved[0].copy(), saved[1].copy(), saved[2].copy()
    for c in range(m.n_classes):
        f = int(filled[c])
        n_keep = max(1, min(f, int(np.ceil(max(keep, min(1.0, 16 / max(1, min(f, rows[c])))) * f))))
        if n_keep == f:
            continue
        if c not in elbo_cache:
            elbo_cache[c] = elbo_scores(c)
        order = np.argsort(elbo_cache[c], kind="stable")[:n_keep]
        locs[c, :n_keep], scales[c, :n_keep] = saved[0][c, order], saved[1][c, order]
        locs[c, n_keep:], scales[c, n_keep:] = 0.0, 0.0
        filled[c] = n_keep
    m.bank_loc.assign(locs)
    m.bank_scale.assign(scales)
    m.bank_filled.assign(filled)
    return [int(f) for f in filled]


def run(v):
    for w, value in zip((m.bank_loc, m.bank_scale, m.bank_filled, m.bank_pos), saved):
        w.assign(value)
    if v.get("elbo"):
        kept = prune_by_elbo(v.get("keep", 1.0))
    else:
        kept = m.prune_bank(v.get("keep", 1.0), rows, seed=seed, min_rows=v.get("min_rows", 16))
    m.temperature = v.get("temp", 1.0)
    m.candidates = v.get("k", 1)
    noise = v.get("noise", 1.0)
    cat_temp = v.get("cat_temp", 1.0)

    def sample(layout, params, s, **kw):
        params = dict(params)
        if cat_temp != 1.0 and "cat_logits" in params:  # sharper (< 1) category draws given z
            params["cat_logits"] = params["cat_logits"] / max(cat_temp, 1e-3)
        if noise != 1.0 and "num_scale" in params:
            want = noise * D.normal_scale(params["num_scale"]) - D.MIN_SCALE
            params["num_scale"] = tf.math.log(tf.math.expm1(tf.maximum(want, 1e-6)))
        return plain_sample(layout, params, s, **kw)

    D.sample_features = sample
    if v.get("mix"):
        type(m)._draw = mixed_draw(v["mix"], v.get("knn"))
    try:
        synth = generate(m, enc, sp.need, seed, tensor_mean=v.get("tensor_mean"))
    finally:
        D.sample_features = plain_sample
        type(m)._draw = plain_draw
    c2st = c2st_auc(enc, sp.train, synth, seed=seed)
    print(f"{ds} s{seed} {json.dumps(v):55s} kept {kept} {scores(sp, synth)} C2ST {c2st:.3f}",
          flush=True)


print(f"{ds} s{seed} fit {kwargs} epochs {art.config['metrics']['epochs_run']}", flush=True)
for v in variants:
    run(v)
