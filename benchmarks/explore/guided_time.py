"""Where a guided row's time goes: one draw, its decoder and likelihood parts, the guide, and
guided generate, per 8,192 churner rows (bundled churn, 20 epochs; tf.function, medians of 15).

    .venv/bin/python benchmarks/explore/guided_time.py

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import statistics
import time

import tensorflow as tf
from _common import bundled_churn_guided

from vae_augment import distributions as D

m, ci = bundled_churn_guided()
n = 8192
y = tf.fill([n], ci)
s = tf.constant([1, 2], tf.int32)


def timeit(f, reps=15):
    f()
    ts = []
    for _ in range(reps):
        a = time.perf_counter()
        r = f()
        [v.numpy() for v in (r.values() if isinstance(r, dict) else [r])]
        ts.append(time.perf_counter() - a)
    return statistics.median(ts) * 1e3


draw = tf.function(lambda: m._draw(y, s))
out = draw()
gp = tf.function(lambda: m.guide_proba(out, y))
gen = tf.function(lambda: m.generate(y, s))
small = tf.function(lambda yy: m._draw(yy, s), reduce_retracing=True)
print("ms per call: draw 8192", timeit(draw))
print("guide 8192", timeit(gp))
print("generate guided 8192", timeit(gen))
for k in (16, 256, 1024, 4096):
    yy = tf.fill([k], ci)
    print("draw", k, timeit(lambda yy=yy: small(yy)))
print("first pass", (gp().numpy() >= m.guide_floor.numpy()[ci]).mean())
z = tf.random.normal([n, m.latent_dim])
dec = tf.function(lambda: m.decode_params(z, y))
params = dec()
samp = tf.function(lambda: D.sample_features(m.layout, params, s))
print("decode_params", timeit(dec))
print("sample_features", timeit(samp))
