"""Realism floor on top of the guided setting, on one split: a second boosted-tree guide
tells real rows from synthetic ones (class as a feature); a synthetic row is kept only when
its p(real) is at least the q-quantile of the real rows' out-of-fold p(real)
(discriminator rejection sampling with the class guide's machinery).

    .venv/bin/python benchmarks/explore/realism.py hpc 0

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys

import numpy as np
import pyarrow as pa
from _common import generate, scores, split
from sklearn.metrics import roc_auc_score

from vae_augment import guide as G
from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

ds, seed = sys.argv[1], int(sys.argv[2])
over = 4
sp = split(ds, seed)
art = fit(sp.train, label=sp.label, seed=seed, verbose=0, guide_iterations=100, candidates=8,
          bank_keep=1.0)
m, enc = art.model, art.encoding


def feats(table):
    arrays = enc.encode(table)
    f = G.guide_features(m.layout, arrays).numpy()
    y = np.asarray(arrays["y"])
    return np.concatenate([f, np.eye(m.n_classes, dtype=np.float32)[y]], 1), y


real_f, real_y = feats(sp.train)
counts = {c: int(np.sum(np.asarray(sp.train.column(sp.label).to_pylist()) == c)) for c in sp.need}
# discriminator: real rows of the generated classes vs as many synthetic rows of each class
train_syn = generate(m, enc, counts, seed + 1000)
syn_f, _ = feats(train_syn)
cls_rows = np.isin(real_y, [enc.class_index(c) for c in sp.need])
xr = real_f[cls_rows]
x = np.concatenate([xr, syn_f])
lab = np.concatenate([np.ones(len(xr), int), np.zeros(len(syn_f), int)])
rng = np.random.default_rng(seed)
fold = rng.permutation(len(x)) % 5
oof = np.zeros(len(x))
for k in range(5):
    t = G.fit_guide(x[fold != k], lab[fold != k], 2, iterations=100, depth=6, seed=seed)
    oof[fold == k] = G.class_proba(t, x[fold == k], np.ones(np.sum(fold == k), int))
disc = G.fit_guide(x, lab, 2, iterations=100, depth=6, seed=seed)
print(f"{ds} s{seed} discriminator out-of-fold AUC {roc_auc_score(lab, oof):.3f}", flush=True)

pool = generate(m, enc, {c: n * over for c, n in sp.need.items()}, seed)
pf, py = feats(pool)
p_real = G.class_proba(disc, pf, np.ones(len(pf), int))
ys = np.asarray(pool.column(sp.label).to_pylist())


def pick(q):
    idx = []
    for c, n in sp.need.items():
        ci = enc.class_index(c)
        rows = np.flatnonzero(ys == c)
        if q is None:
            idx.extend(rows[:n].tolist())
            continue
        real_c = oof[:len(xr)][real_y[cls_rows] == ci]
        floor = np.quantile(real_c, q)
        ok = rows[p_real[rows] >= floor]
        sel = ok[:n] if len(ok) >= n else rows[np.argsort(-p_real[rows], kind="stable")[:n]]
        idx.extend(sel.tolist())
    return pool.take(pa.array(sorted(idx)))


for q in (None, 0.1, 0.25, 0.5):
    synth = pick(q)
    if q is not None:
        rate = np.mean([np.mean(p_real[ys == c] >= np.quantile(
            oof[:len(xr)][real_y[cls_rows] == enc.class_index(c)], q)) for c in sp.need])
    else:
        rate = 1.0
    print(f"{ds} s{seed} realism q={q} pass {rate:.2f} {scores(sp, synth)} "
          f"C2ST {c2st_auc(enc, sp.train, synth, seed=seed):.3f}", flush=True)
