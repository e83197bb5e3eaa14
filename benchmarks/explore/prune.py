"""Bank pruning vs candidates on one split: fit once (candidates=1, no pruning), score each
stored posterior by its mean class margin, keep the best fraction, report LR/HGB F1.

    .venv/bin/python benchmarks/explore/prune.py churn 0

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
import numpy as np, pyarrow as pa, tensorflow as tf
import utility as U
from sklearn.model_selection import train_test_split
from sklearn.metrics import f1_score
from vae_augment import distributions as D
ds=sys.argv[1]; seed=int(sys.argv[2]) if len(sys.argv)>2 else 0
label = U.DATASETS[ds]; table = U.load(ds)
y_all = np.asarray(table.column(label).to_pylist())
vals, cnts = np.unique(y_all, return_counts=True); minority = vals[np.argmin(cnts)]; binary = len(vals)==2
tr, te = train_test_split(np.arange(table.num_rows), test_size=0.3, stratify=y_all, random_state=seed)
train, test = table.take(pa.array(tr)), table.take(pa.array(te))
x_tr, y_tr = U.to_frame(train, label); x_te, y_te = U.to_frame(test, label)
x_tr, x_te = U._cat_to_object(x_tr), U._cat_to_object(x_te)
from vae_augment.api import fit
art = fit(train, label=label, seed=seed, candidates=1, bank_keep=1.0)
m, enc = art.model, art.encoding
need = U.auto_counts(y_tr)
pre = U.preprocessor(x_tr).fit(x_tr); Xte = pre.transform(x_te); Xtr = pre.transform(x_tr)
loc0, sc0, filled0 = m.bank_loc.numpy().copy(), m.bank_scale.numpy().copy(), m.bank_filled.numpy().copy()
# score every bank entry: mean margin of M draws around it
M = 8
scores = {}
for c in range(m.n_classes):
    f = int(filled0[c]); 
    if f == 0: continue
    loc = np.repeat(loc0[c, :f], M, 0); sd = D.normal_scale(np.repeat(sc0[c, :f], M, 0))
    s = tf.random.experimental.stateless_split(tf.constant([seed, c], tf.int32), 2)
    z = loc + sd * tf.random.stateless_normal(loc.shape, seed=s[0])
    y = tf.fill([f * M], c)
    params = m.decode_params(z, y)
    out = D.sample_features(m.layout, params, s[1])
    mg = m.class_margin(out, z, y, params).numpy().reshape(f, M)
    scores[c] = mg.mean(1)
def run(name, keep, k=1):
    lo, sc, fi = loc0.copy(), sc0.copy(), filled0.copy()
    for c, sco in scores.items():
        order = np.argsort(sco, kind="stable")[: max(1, int(round(keep * len(sco))))]
        lo[c, :len(order)] = loc0[c, order]; sc[c, :len(order)] = sc0[c, order]; fi[c] = len(order)
    m.bank_loc.assign(lo); m.bank_scale.assign(sc); m.bank_filled.assign(fi); m.candidates = k
    tabs = []
    for c, n in need.items():
        ci = enc.class_index(c)
        out = m.generate(tf.fill([n], ci), tf.constant([seed, ci], tf.int32))
        dec = enc.decode_tf(out); dec = {kk:(v.numpy(), None if mm is None else mm.numpy()) for kk,(v,mm) in dec.items()}
        tabs.append(pa.Table.from_batches([enc.to_arrow(dec, ci)]))
    synth = pa.concat_tables(tabs)
    x_s, y_s = U.to_frame(synth, label); x_s = U._cat_to_object(x_s)[list(x_tr.columns)]
    X = np.vstack([Xtr, pre.transform(x_s)]); Y = np.concatenate([y_tr, y_s.astype(y_tr.dtype)])
    res = []
    for kind in ("LR","HGB"):
        p = U.classifier(kind).fit(X, Y).predict(Xte)
        f = f1_score(y_te==minority, p==minority) if binary else f1_score(y_te, p, average="macro")
        res.append(f"{kind} {f:.3f}")
    print(f"{ds} s{seed} {name:10s}", " ".join(res), flush=True)
run("k1", 1.0)
run("k4", 1.0, 4)
for keep in (0.5, 0.25, 0.1):
    run(f"keep{keep}", keep)
run("keep0.5k4", 0.5, 4)
