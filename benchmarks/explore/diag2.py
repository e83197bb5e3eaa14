"""Churn, split seed 0: class-conditional marginals of synthetic churners vs real ones
(international_plan, service calls), from reconstructions and from `generate`.

    .venv/bin/python benchmarks/explore/diag2.py '{"beta": 0.3}'

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import json
import sys

import numpy as np
import pyarrow as pa
import tensorflow as tf
from _common import split

from vae_augment import distributions as D
from vae_augment.api import fit

sp = split("churn", 0)
label = sp.label
art = fit(sp.train, label=label, seed=0, **json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))
m, enc = art.model, art.encoding
print(art.config["metrics"])
ci = enc.class_index("yes")
arrays = enc.encode(sp.train)
x = {k: v[arrays["y"] == ci] for k, v in arrays.items()}


def stats(t, name):
    df = t.to_pandas()
    df = df[df[label] == "yes"]
    svc = df.number_customer_service_calls
    print(f"{name:10s} n={len(df)} intl_yes={np.mean(df.international_plan == 'yes'):.3f} "
          f"svc={svc.mean():.3f} svc>=4={np.mean(svc >= 4):.3f} daymin={df.total_day_minutes.mean():.1f}")


def to_table(out):
    dec = {k: (v.numpy(), None if mm is None else mm.numpy()) for k, (v, mm) in enc.decode_tf(out).items()}
    return pa.Table.from_batches([enc.to_arrow(dec, ci)])


stats(sp.train, "real")
seed = tf.constant([0, 1], tf.int32)
mu, raw = m.encode_params(x)
noisy = mu + D.normal_scale(raw) * tf.random.stateless_normal(tf.shape(mu), seed=seed)
for name, z in [("recon_mu", mu), ("recon_z", noisy)]:
    stats(to_table(D.sample_features(m.layout, m.decode_params(z, tf.constant(x["y"])), seed)), name)
stats(to_table(m.generate(tf.fill([2 * len(x["y"])], ci), seed)), "generate")
