"""The guide scores of guided rows made three ways from one fit (hpc split 0): one eager
`generate` call of n rows, an eager call of a sampler block (8192 rows, first n kept) and the
same block in a `tf.function`: mean score, pass share and 10 % quantile per class.

    cd benchmarks/explore && ../../.venv/bin/python guide_paths.py

One-off exploration behind benchmarks/results/quality.md, session 11.
"""
import _common
import numpy as np
import tensorflow as tf

from vae_augment import GUIDED
from vae_augment.api import fit
from vae_augment.sampler import block_seed

sp = _common.split("hpc", 0)
art = fit(sp.train, label=sp.label, seed=0, verbose=0, **GUIDED)
m, enc = art.model, art.encoding
generate = tf.function(lambda y, sd: m.generate(y, sd), autograph=False)
for c, n in sp.need.items():
    ci = enc.class_index(c)
    floor = float(m.guide_floor.numpy()[ci])
    res = {"eager_n": [], "eager_8192": [], "graph_8192": []}
    for g in range(4):
        out = m.generate(tf.fill([n], ci), tf.constant([g, ci], tf.int32))
        res["eager_n"].append(m.guide_proba(out, tf.fill([n], ci)).numpy())
        seed = block_seed(g, ci, 0)
        out = m.generate(tf.fill([8192], ci), tf.constant(seed))
        res["eager_8192"].append(m.guide_proba(out, tf.fill([8192], ci)).numpy()[:n])
        out = generate(tf.fill([8192], ci), tf.constant(seed))
        res["graph_8192"].append(m.guide_proba(out, tf.fill([8192], ci)).numpy()[:n])
    for k, v in res.items():
        v = np.concatenate(v)
        print(c, n, k, f"mean score {v.mean():.4f} pass {np.mean(v >= floor):.4f} q10 {np.quantile(v, .1):.4f}", flush=True)
