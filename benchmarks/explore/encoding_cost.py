"""The encoding's statistics pass (`fit_encoding`) on credit x 100 (445,400 rows in 65,536-row
groups), median of 5; run it once per worktree to compare two commits:

    PYTHONPATH=/tmp/old .venv/bin/python benchmarks/explore/encoding_cost.py before
    .venv/bin/python benchmarks/explore/encoding_cost.py after

Session 32 (`benchmarks/results/class_nulls_s32.txt`).
"""
import os
import statistics
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "..", "shared", "data", "credit.parquet")


def main(tag: str) -> None:
    from vae_augment.preparation import fit_encoding

    big = pa.concat_tables([pq.read_table(SHARED)] * 100).combine_chunks()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "big.parquet")
        pq.write_table(big, path, row_group_size=65536)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            fit_encoding(path, label="Status")
            times.append(time.perf_counter() - t0)
    print(tag, big.num_rows, "rows, median", round(statistics.median(times), 3),
          [round(x, 3) for x in times])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
