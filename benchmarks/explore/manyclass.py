"""The guided setting's cost as the class count grows: a synthetic table (20,000 rows, 20
numerics shifted by class, 5 categories) with K classes, fit for 3 epochs with the defaults
and with `GUIDED`, then `sample` 20,000 rows of each of (up to) 4 classes (second run timed), and the share
of guided first draws that pass their class's floor.

    .venv/bin/python benchmarks/explore/manyclass.py 20

One-off exploration behind benchmarks/results/guided_cost.md (not part of the library).
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import tensorflow as tf  # noqa: E402

from vae_augment import GUIDED  # noqa: E402
from vae_augment.api import fit, sample  # noqa: E402

K = int(sys.argv[1])
rng = np.random.default_rng(0)
n = 20000
shares = np.r_[0.2, np.full(K - 1, 0.8 / (K - 1))]
y = rng.choice(K, n, p=shares)
cols = {f"x{j}": rng.normal(size=n) + (y % (j + 2)) * 0.5 for j in range(20)}
cols.update({f"c{j}": rng.choice(list("abcde"), n) for j in range(5)})
cols["y"] = [f"k{v}" for v in y]
table = pa.table(cols)
for kw in ({}, GUIDED):
    start = time.perf_counter()
    art = fit(table, label="y", seed=0, verbose=0, epochs=3, **kw)
    fit_s = time.perf_counter() - start
    counts = {c: 20000 for c in art.encoding.classes[:4]}
    sample(art, counts, seed=0)  # warm-up: traces the sampler
    start = time.perf_counter()
    sample(art, counts, seed=1)
    s = time.perf_counter() - start
    rows = sum(counts.values())
    line = (f"K={K} {'guided' if kw else 'defaults'}: fit {fit_s:.1f} s (guide "
            f"{art.config['metrics'].get('guide_seconds')} s), sample {rows:,} rows {s:.2f} s = "
            f"{rows / s:,.0f} rows/s")
    if kw:  # first draws that pass their class's floor (a row takes about 1/pass draws)
        m = art.model
        passed = []
        for c in counts:
            ci = art.encoding.class_index(c)
            yy = tf.fill([8192], ci)
            score = m.guide_proba(m._draw(yy, tf.constant([9, ci])), yy)
            passed.append(float(tf.reduce_mean(tf.cast(score >= m.guide_floor[ci], tf.float32))))
        line += f", first draws passing {np.mean(passed):.0%}"
    print(line, flush=True)
