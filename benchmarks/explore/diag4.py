"""Threshold filter on the ELBO class margin (the experiment before `candidates`): generate
MULT x the `auto` counts, keep rows whose own-class negative ELBO is at most m nats above
the best other class, report LR/HGB F1.

    MULT=12 MARGINS=-2,-4,-6 .venv/bin/python benchmarks/explore/diag4.py churn '{"beta": 1.0}'

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
# ruff: noqa
import json
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
import numpy as np, pyarrow as pa, pandas as pd, tensorflow as tf
import utility as U
from sklearn.model_selection import train_test_split
from sklearn.metrics import f1_score
ds = sys.argv[1]; kw = json.loads(sys.argv[2]) if len(sys.argv)>2 else {}
seed = int(sys.argv[3]) if len(sys.argv)>3 else 0
label = U.DATASETS[ds]; table = U.load(ds)
y_all = np.asarray(table.column(label).to_pylist())
vals, cnts = np.unique(y_all, return_counts=True); minority = vals[np.argmin(cnts)]; binary = len(vals)==2
tr, te = train_test_split(np.arange(table.num_rows), test_size=0.3, stratify=y_all, random_state=seed)
train, test = table.take(pa.array(tr)), table.take(pa.array(te))
x_tr, y_tr = U.to_frame(train, label); x_te, y_te = U.to_frame(test, label)
x_tr, x_te = U._cat_to_object(x_tr), U._cat_to_object(x_te)
from vae_augment.api import fit, sample
art = fit(train, label=label, seed=seed, **kw)
m, enc = art.model, art.encoding
need = U.auto_counts(y_tr)
big = sample(art, {c: int(os.environ.get("MULT","4"))*n for c, n in need.items()}, seed=seed)
arr = enc.encode(big)
K = len(enc.classes)
scores = []
for k in range(K):
    x = dict(arr); x["y"] = np.full_like(arr["y"], k)
    s = []
    for i in range(0, len(x["y"]), 8192):
        s.append(m.neg_elbo({kk: v[i:i+8192] for kk, v in x.items()}).numpy())
    scores.append(np.concatenate(s))
S = np.stack(scores, 1)  # neg elbo per class
own = S[np.arange(len(S)), arr["y"]]
S2 = S.copy(); S2[np.arange(len(S)), arr["y"]] = np.inf
gap = own - S2.min(1)   # <0 : own class more likely
pre = U.preprocessor(x_tr).fit(x_tr); Xte = pre.transform(x_te); Xtr = pre.transform(x_tr)
yb = np.asarray(big.column(label).to_pylist())
def run(name, keep):
    idx = []
    for c, n in need.items():
        cand = np.flatnonzero((yb == c) & keep)[:n]
        idx.append(cand)
    idx = np.concatenate(idx)
    sub = big.take(pa.array(idx))
    x_s, y_s = U.to_frame(sub, label); x_s = U._cat_to_object(x_s)[list(x_tr.columns)]
    X = np.vstack([Xtr, pre.transform(x_s)]); Y = np.concatenate([y_tr, y_s.astype(y_tr.dtype)])
    out = []
    for kind in ("LR","HGB"):
        p = U.classifier(kind).fit(X, Y).predict(Xte)
        f = f1_score(y_te==minority, p==minority) if binary else f1_score(y_te, p, average="macro")
        out.append(f"{kind} {f:.3f}")
    print(f"{ds} s{seed} {name:10s} kept={keep.mean():.2f} n={len(idx)} " + " ".join(out), flush=True)
run("nofilter", np.ones(len(gap), bool))
for margin in [float(v) for v in os.environ.get("MARGINS","4,2,0,-2").split(",")]:
    run(f"m{margin}", gap <= margin)
