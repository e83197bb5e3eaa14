"""The share of quantile-map draws that copy a training value (session 43).

For a column of N distinct normal values, `fit_encoding`'s quantile-normal map is evaluated
at 20,000 standard-normal points (what the decoder's draws go through) and the share of the
results equal to one of the N values is printed, for N = 300, 500, 1,000 and 3,000.

    python benchmarks/explore/knot_copies.py
"""

import numpy as np
import pyarrow as pa
import tensorflow as tf

from vae_augment.preparation import fit_encoding

for n in (300, 500, 1000, 3000):
    rng = np.random.default_rng(2)
    x = rng.normal(size=n)
    table = pa.table({"x": x, "label": np.where(rng.random(n) < 0.5, "a", "b")})
    enc = fit_encoding(table, label="label")
    draws = tf.random.stateless_normal([20000, 1], seed=[0, 1], dtype=tf.float32)
    values = enc._numeric_tf({"num": draws}, absent=False)[0].numpy()[:, 0]
    print(n, round(float(np.isin(values, x).mean()), 3))
