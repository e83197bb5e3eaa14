"""Guided bank: select latent samples once after training (the z of draws that pass the class
guide), store them as the bank, then generate with one draw per row.

    .venv/bin/python benchmarks/explore/zbank.py hpc 0
"""
import sys
import time

import numpy as np
import tensorflow as tf
from _common import generate, scores, split

from vae_augment import distributions as D
from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

ds, seed = sys.argv[1], int(sys.argv[2])
draws = int(sys.argv[3]) if len(sys.argv) > 3 else 8192
sp = split(ds, seed)
start = time.perf_counter()
art = fit(sp.train, label=sp.label, seed=seed, verbose=0, guide_iterations=100, candidates=8,
          bank_keep=1.0)
print("fit s", round(time.perf_counter() - start, 1), flush=True)
m, enc = art.model, art.encoding


def report(tag):
    t = time.perf_counter()
    synth = generate(m, enc, sp.need, seed)
    g = time.perf_counter() - t
    # pass rate of generated rows
    rates = []
    for c, n in sp.need.items():
        ci = enc.class_index(c)
        y = tf.fill([min(n, 8192)], ci)
        out = m.generate(y, tf.constant([seed + 7, ci], tf.int32))
        p = m.guide_proba(out, y).numpy()
        rates.append(f"{c}:{np.mean(p >= m.guide_floor.numpy()[ci]):.2f}")
    print(ds, seed, tag, scores(sp, synth), f"C2ST {c2st_auc(enc, sp.train, synth, seed=seed):.3f}",
          "pass", " ".join(rates), f"gen {g:.2f}s", flush=True)


report("guided-K8")
m.candidates = 1
report("plain-K1")
loc0, raw0, filled0 = m.bank_loc.numpy(), m.bank_scale.numpy(), m.bank_filled.numpy()
floor = m.guide_floor.numpy()
sel = {}
for c in sp.need:
    ci = enc.class_index(c)
    f = int(filled0[ci])
    rng = np.random.default_rng(seed * 100 + ci)
    j = rng.integers(0, f, draws)
    sd = D.normal_scale(raw0[ci, j]).numpy()
    z = loc0[ci, j] + sd * rng.standard_normal(sd.shape).astype(np.float32)
    y = tf.fill([draws], ci)
    params = m.decode_params(tf.constant(z), y)
    out = D.sample_features(m.layout, params, tf.constant([seed, ci + 11], tf.int32))
    p = m.guide_proba(out, y).numpy()
    order = np.argsort(-(p >= floor[ci]).astype(float) - 1e-3 * p, kind="stable")
    passing = int(np.sum(p >= floor[ci]))
    # keep the passing draws (all of them, up to the bank's size), best-scored first if short
    keep = order[:min(m.bank_size, max(passing, min(f, m.bank_size) // 4))]
    sel[ci] = (z[keep], sd[keep], passing / draws, len(np.unique(j[keep])), f)
    print(f"class {c}: first-draw pass {passing / draws:.2f}, kept {len(keep)} z from "
          f"{sel[ci][3]} of {f} posteriors", flush=True)
for frac in (0.0, 0.5, 1.0):
    loc, raw, filled = loc0.copy(), raw0.copy(), filled0.copy()
    for ci, (z, sd, _, _, _) in sel.items():
        k = len(z)
        loc[ci, :k] = z
        s = np.maximum(sd * frac - D.MIN_SCALE, 1e-6)
        raw[ci, :k] = np.log(np.expm1(s))
        loc[ci, k:], raw[ci, k:] = 0, 0
        filled[ci] = k
    m.bank_loc.assign(loc), m.bank_scale.assign(raw), m.bank_filled.assign(filled)
    report(f"zbank-sd{frac}")
