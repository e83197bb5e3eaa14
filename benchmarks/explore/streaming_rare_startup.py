"""What keeping rare classes out of a streamed validation split costs at start-up and per
epoch (session 25). `ParquetSource` reads the label column of every row group at start-up
when some class has fewer than RARE_CLASS_ROWS rows (to count the split exactly), and splits
each read chunk by label; without a rare class it reads footers only.

Writes a 1M-row, 1,000-row-group file with 10 rows of a rare class and times
`ParquetSource(...)` and one pass over the training rows with the rule and without it (the
rare-class list emptied: the code before session 25), alternated in one process.

    .venv/bin/python benchmarks/explore/streaming_rare_startup.py [--repeats 5]
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment import streaming
from vae_augment.preparation import fit_encoding
from vae_augment.streaming import ParquetSource


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    tmp = Path(tempfile.mkdtemp())
    y = np.where(rng.random(a.rows) < 0.3, "minor", "major").astype(object)
    y[rng.choice(a.rows, 10, replace=False)] = "rare"
    t = pa.table({**{f"x{i}": rng.normal(size=a.rows) for i in range(8)},
                  "y": pa.array(y, pa.string())})
    path = str(tmp / "rare.parquet")
    pq.write_table(t, path, row_group_size=a.rows // a.groups)
    enc = fit_encoding(path, label="y")
    modes = ("rule", "no rule")
    start = {k: [] for k in modes}
    epoch = {k: [] for k in modes}
    for _ in range(a.repeats):
        for k in modes:
            t0 = time.perf_counter()
            if k == "rule":
                src = ParquetSource(path, enc, validation_split=0.1, seed=0)
            else:  # as before: footers only, the rare class split as any other
                saved = streaming.RARE_CLASS_ROWS
                streaming.RARE_CLASS_ROWS = 0
                try:
                    src = ParquetSource(path, enc, validation_split=0.1, seed=0)
                finally:
                    streaming.RARE_CLASS_ROWS = saved
            t1 = time.perf_counter()
            n = sum(len(b["y"]) for b in src.iter_train(8192, 0, 1))
            t2 = time.perf_counter()
            assert n == src.n_train
            start[k].append(t1 - t0)
            epoch[k].append(t2 - t1)
    print(f"{a.rows:,} rows, {a.groups} row groups, 8 numeric columns, 10 rows of a rare "
          f"class, medians of {a.repeats}")
    for k in modes:
        print(f"{k:>7}: start-up {statistics.median(start[k]):.3f} s "
              f"(runs {', '.join(f'{v:.3f}' for v in start[k])}); one training pass "
              f"{statistics.median(epoch[k]):.2f} s (runs {', '.join(f'{v:.2f}' for v in epoch[k])})")
    print(f"ratio rule / no rule: start-up "
          f"{statistics.median(start['rule']) / statistics.median(start['no rule']):.2f}x, "
          f"pass {statistics.median(epoch['rule']) / statistics.median(epoch['no rule']):.3f}x")


if __name__ == "__main__":
    main()
