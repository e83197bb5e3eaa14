"""Reading cost of string views (session 48): `io.iter_batches`, which casts string_view
columns to large_string, over a 1M-row file of 2 string columns and 2 floats, written as
string_view and as large_string; alternated, median of 7 each.

    .venv/bin/python benchmarks/explore/read_views.py
"""
import os
import statistics
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment.io import iter_batches

d = tempfile.mkdtemp()
rng = np.random.default_rng(0)
n = 1_000_000
base = {"a": pa.array(rng.choice(["alpha", "beta", "gamma", "delta"], n)),
        "b": pa.array(rng.choice([f"v{i}" for i in range(300)], n)),
        "x": rng.normal(size=n), "y": rng.normal(size=n)}
for name, typ in (("view", pa.string_view()), ("large", pa.large_string())):
    pq.write_table(pa.table({k: (v.cast(typ) if k in "ab" else v) for k, v in base.items()}),
                   os.path.join(d, f"{name}.parquet"))
times = {"view": [], "large": []}
for _ in range(7):
    for name in times:
        t = time.perf_counter()
        rows = sum(b.num_rows for b in iter_batches([os.path.join(d, f"{name}.parquet")]))
        times[name].append(time.perf_counter() - t)
        assert rows == n
m = {k: statistics.median(v) for k, v in times.items()}
print({k: round(v, 3) for k, v in m.items()}, "ratio", round(m["view"] / m["large"], 2))
