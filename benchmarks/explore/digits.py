"""digits_longtail: image means vs sampled pixels, with and without candidates.

    .venv/bin/python benchmarks/explore/digits.py 0

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
ds="digits_longtail"; seed=int(sys.argv[1]) if len(sys.argv)>1 else 0
kw = json.loads(sys.argv[2]) if len(sys.argv)>2 else {}
label = U.DATASETS[ds]; table = U.load(ds)
y_all = np.asarray(table.column(label).to_pylist())
tr, te = train_test_split(np.arange(table.num_rows), test_size=0.3, stratify=y_all, random_state=seed)
train, test = table.take(pa.array(tr)), table.take(pa.array(te))
x_tr, y_tr = U.to_frame(train, label); x_te, y_te = U.to_frame(test, label)
from vae_augment.api import fit
art = fit(train, label=label, seed=seed, **kw)
m, enc = art.model, art.encoding
print(art.config["metrics"]["epochs_run"], "epochs")
need = U.auto_counts(y_tr)
pre = U.preprocessor(x_tr).fit(x_tr); Xte = pre.transform(x_te); Xtr = pre.transform(x_tr)
def run(name, tensor_mean=True, k=None, post=None):
    if k is not None: m.candidates = k
    tabs = []
    for c, n in need.items():
        ci = enc.class_index(c)
        out = m.generate(tf.fill([n], ci), tf.constant([seed, ci], tf.int32), tensor_mean=tensor_mean)
        if post: out = post(out)
        dec = enc.decode_tf(out); dec = {kk:(v.numpy(), None if mm is None else mm.numpy()) for kk,(v,mm) in dec.items()}
        tabs.append(pa.Table.from_batches([enc.to_arrow(dec, ci)]))
    synth = pa.concat_tables(tabs)
    x_s, y_s = U.to_frame(synth, label); x_s = x_s[list(x_tr.columns)]
    X = np.vstack([Xtr, pre.transform(x_s)]); Y = np.concatenate([y_tr, y_s.astype(y_tr.dtype)])
    res = []
    for kind in ("LR","HGB"):
        p = U.classifier(kind).fit(X, Y).predict(Xte)
        res.append(f"{kind} {f1_score(y_te, p, average='macro'):.3f}")
    print(f"s{seed} {name:12s}", " ".join(res), "pix mean", round(float(x_s.values.mean()),2), "real", round(float(x_tr.values.mean()),2), flush=True)
run("default")
run("k1", k=1)
run("sample", tensor_mean=False, k=4)
run("sample_k1", tensor_mean=False, k=1)
