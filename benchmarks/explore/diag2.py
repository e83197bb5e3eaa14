"""Churn, split seed 0: class-conditional marginals of synthetic churners vs real ones
(international_plan, service calls), from reconstructions and from `generate`.

    .venv/bin/python benchmarks/explore/diag2.py '{"beta": 0.3}'

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
ds="churn"; kw = json.loads(sys.argv[1]) if len(sys.argv)>1 else {}
label = U.DATASETS[ds]; table = U.load(ds)
y_all = np.asarray(table.column(label).to_pylist())
tr, te = train_test_split(np.arange(table.num_rows), test_size=0.3, stratify=y_all, random_state=0)
train = table.take(pa.array(tr))
from vae_augment.api import fit
from vae_augment import distributions as D
art = fit(train, label=label, seed=0, **kw)
m, enc = art.model, art.encoding
print(art.config["metrics"])
ci = enc.class_index("yes")
arrays = enc.encode(train)
rows = np.flatnonzero(arrays["y"]==ci)
x = {k: v[rows] for k,v in arrays.items()}
def stats(t, name):
    df = t.to_pandas(); df = df[df[label]=="yes"]
    print(f"{name:10s} n={len(df)} intl_yes={np.mean(df.international_plan=='yes'):.3f} svc={df.number_customer_service_calls.mean():.3f} svc>=4={np.mean(df.number_customer_service_calls>=4):.3f} daymin={df.total_day_minutes.mean():.1f}")
stats(train, "real")
def to_table(out, ci):
    dec = enc.decode_tf(out); dec = {k:(v.numpy(), None if mm is None else mm.numpy()) for k,(v,mm) in dec.items()}
    return pa.Table.from_batches([enc.to_arrow(dec, ci)])
seed = tf.constant([0, 1], tf.int32)
mu, raw = m.encode_params(x)
for name, z in [("recon_mu", mu), ("recon_z", mu + D.normal_scale(raw)*tf.random.stateless_normal(tf.shape(mu), seed=seed))]:
    params = m.decode_params(z, tf.constant(x["y"]))
    out = D.sample_features(m.layout, params, seed)
    stats(to_table(out, ci), name)
out = m.generate(tf.fill([len(rows)*2], ci), seed); stats(to_table(out, ci), "generate")
# bank contents vs fresh posteriors
bl = m.bank_loc.numpy()[ci][: int(m.bank_filled.numpy()[ci])]
print("bank filled", m.bank_filled.numpy(), "bank mu mean", bl.mean(0)[:4], "fresh mu mean", mu.numpy().mean(0)[:4])
pm, ps = m.prior_params(tf.constant([ci]))
print("prior mu", pm.numpy()[0][:4])
