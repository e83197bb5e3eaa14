"""What link counting adds to the constraint discovery pass (`RelationStats.update` with and
without `LinkStats`), per row, alternated in one process; every numeric column has a spike
and every categorical column 30 codes (the worst case: each pair is counted):

    .venv/bin/python benchmarks/explore/link_discovery_cost.py

Session 28: `benchmarks/results/link_discovery_cost_s28.txt`.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import time  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from vae_augment import constraints as C  # noqa: E402

rng = np.random.default_rng(0)
for n_num, n_cat in ((14, 5), (64, 20)):
    cols = {f"n{i}": np.where(rng.random(65536) < 0.3, 0.0, rng.normal(size=65536).round(2)) for i in range(n_num)}
    t = pa.table(cols)
    codes = rng.integers(0, 30, (65536, n_cat))
    cls = rng.integers(0, 2, 65536)
    names = list(cols)
    links = C.LinkStats(names, [0.0] * n_num, [f"c{k}" for k in range(n_cat)], [30] * n_cat)
    res = {}
    for name, lk in (("without", None), ("links", links), ("without", None), ("links", links)):
        st = C.RelationStats(names, 2, lk)
        t0 = time.perf_counter()
        for _ in range(2):
            st.update(t, cls, codes)
        res.setdefault(name, []).append(round((time.perf_counter() - t0) / (2 * 65536) * 1e6, 2))
    print(n_num, "numeric (all with a spike) x", n_cat, "categorical (30 codes), us per row:", res)
