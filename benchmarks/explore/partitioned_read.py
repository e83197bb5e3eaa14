"""Reading a hive-partitioned directory vs the same rows in one flat file (session 25).

1M rows, 8 float columns, partitioned by a 3-class string label and a 10-valued int key (30
files); times `vae_augment.io.iter_batches` over `resolve_inputs(dir)` (partition columns
added per batch) against the flat file, and pyarrow.dataset's own hive read as a reference,
alternated in one process.

    .venv/bin/python benchmarks/explore/partitioned_read.py [--repeats 5]
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from vae_augment.io import iter_batches, resolve_inputs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp())
    t = pa.table({**{f"x{i}": rng.normal(size=a.rows) for i in range(8)},
                  "label": pa.array(rng.choice(["a", "b", "c"], a.rows, p=[0.7, 0.2, 0.1])),
                  "k": pa.array(rng.integers(0, 10, a.rows), pa.int32())})
    ds.write_dataset(t, tmp / "hive", format="parquet", partitioning=["label", "k"],
                     partitioning_flavor="hive")
    flat = tmp / "flat.parquet"
    pq.write_table(ds.dataset(tmp / "hive", format="parquet", partitioning="hive").to_table(),
                   flat)

    def ours(src):
        return sum(b.num_rows for b in iter_batches(resolve_inputs(str(src))))

    def reference():
        return ds.dataset(tmp / "hive", format="parquet", partitioning="hive").to_table().num_rows

    runs = {"hive (iter_batches)": lambda: ours(tmp / "hive"),
            "flat (iter_batches)": lambda: ours(flat),
            "hive (pyarrow.dataset to_table)": reference}
    times = {k: [] for k in runs}
    for _ in range(a.repeats):
        for k, f in runs.items():
            t0 = time.perf_counter()
            assert f() == a.rows
            times[k].append(time.perf_counter() - t0)
    print(f"{a.rows:,} rows, 8 float columns, hive keys label (3) x k (10) = 30 files; "
          f"medians of {a.repeats}")
    for k, v in times.items():
        med = statistics.median(v)
        print(f"{k:>32}: {med:.3f} s, {a.rows / med / 1e6:.1f}M rows/s "
              f"(runs {', '.join(f'{x:.3f}' for x in v)})")
    h, f = (statistics.median(times[k]) for k in list(runs)[:2])
    print(f"ratio hive / flat: {h / f:.2f}x")


if __name__ == "__main__":
    main()
