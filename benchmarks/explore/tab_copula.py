"""Tables: do the numeric columns' draws lose utility or realism because they are drawn
independently given z? Fits the defaults on split SEED's 70 %, estimates the correlation of
the numeric residuals given z ((x - loc) / scale on the quantile-normal scale, z drawn from
the posterior, null cells left out pairwise), then generates the `auto` counts from the same
model with the residual noise drawn independently (the library) and through a Gaussian copula
with that correlation (shrunk towards the identity by LAMBDA); LR/HGB F1 and C2ST for each.

    .venv/bin/python benchmarks/explore/tab_copula.py DATASET SEED [LAMBDA ...]

One-off exploration behind benchmarks/results/quality.md, session 9 (not part of the library).
"""
import sys

import numpy as np
import tensorflow as tf
from _common import U, generate, scores, split

from vae_augment import distributions as D
from vae_augment.api import fit

ds = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
lams = [float(a) for a in sys.argv[3:]] or [0.0]
sp = split(ds, seed)
art = fit(sp.train, label=sp.label, seed=seed, verbose=0)
m, enc = art.model, art.encoding
x = enc.encode(sp.train)
names = [s.name for s in enc.numeric]
null_pos = {c: i for i, c in enumerate(enc.null_columns)}
nulls = np.asarray(x["nulls"])
observed = np.stack([1 - nulls[:, null_pos[c]] if c in null_pos else np.ones(len(nulls))
                     for c in names], 1).astype(bool)
es, ok = [], []
for rep in range(4):  # several posterior draws per row
    mu, raw = m.encode_params(x)
    q = D.gaussian(mu, raw)
    z = q.loc + q.scale * tf.random.normal(tf.shape(mu), seed=rep)
    p = m.decode_params(z, x["y"])
    e = (np.asarray(x["num"]) - p["num_loc"].numpy()) / D.normal_scale(p["num_scale"]).numpy()
    es.append(e)
    ok.append(observed)
e, ok = np.concatenate(es), np.concatenate(ok)
k = len(names)
corr = np.eye(k)
for i in range(k):
    for j in range(i + 1, k):
        both = ok[:, i] & ok[:, j]
        corr[i, j] = corr[j, i] = np.corrcoef(e[both, i], e[both, j])[0, 1]
off = corr[~np.eye(k, dtype=bool)]
print(f"{ds} seed {seed}: residual sd {np.round(e.std(0), 2).tolist()}")
print(f"residual corr: mean |r| {np.mean(np.abs(off)):.3f}, max |r| {np.abs(off).max():.3f}")
pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
for a, b in sorted(pairs, key=lambda ab: -abs(corr[ab]))[:6]:
    print(f"  {names[a]} ~ {names[b]}: {corr[a, b]:+.3f}")
sys.stdout.flush()

plain = D.numeric_sample


def copula(chol):
    L = tf.constant(chol.T, tf.float32)

    def sample(params, seed_):
        eps = tf.random.stateless_normal(tf.shape(params["num_loc"]), seed=seed_) @ L
        return tf.cast(params["num_loc"], tf.float32) + D.normal_scale(params["num_scale"]) * eps
    return sample


need = {c: n for c, n in sp.need.items() if n > 0}
for name, fn in [("independent", plain)] + [
        (f"copula lambda={lam}", copula(np.linalg.cholesky((1 - lam) * corr + lam * np.eye(k))))
        for lam in lams]:
    D.numeric_sample = fn
    synth = generate(m, enc, need, seed=100)
    auc = U.c2st_class_matched(enc, sp.train, synth, sp.label, seed)
    print(f"{name}: {scores(sp, synth)} C2ST {auc:.3f}", flush=True)
D.numeric_sample = plain
