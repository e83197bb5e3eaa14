"""What a partitioned output costs: `AtomicParquetWriter` writing the same rows as one file,
partitioned by a 2-valued column (`is_synthetic`) and by a 51-valued one (`state`), the three
alternated in one process; then reading each back with `resolve_inputs` + `read_table`.

    .venv/bin/python benchmarks/explore/partitioned_write.py --rows 1000000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment.io import AtomicParquetWriter, read_table, resolve_inputs

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    churn = pq.read_table(os.path.join(HERE, "..", "..", "examples", "data", "churn.parquet"))
    reps = -(-args.rows // churn.num_rows)
    table = pa.concat_tables([churn] * reps).slice(0, args.rows)
    flag = np.random.default_rng(0).random(args.rows) < 0.4
    table = table.append_column(pa.field("is_synthetic", pa.bool_(), nullable=False),
                                pa.array(flag))
    batches = table.to_batches(max_chunksize=8192)  # as generation yields them
    cases = {"flat": None, "is_synthetic": ["is_synthetic"], "state (51)": ["state"]}
    times: dict[str, list[float]] = {k: [] for k in cases}
    reads: dict[str, list[float]] = {k: [] for k in cases}
    root = tempfile.mkdtemp(prefix="partwrite.")
    try:
        for _ in range(args.repeats):
            for name, keys in cases.items():
                out = os.path.join(root, "out")
                start = time.perf_counter()
                with AtomicParquetWriter(out, table.schema, partition_by=keys,
                                         overwrite=True) as w:
                    w.write(batches)
                times[name].append(time.perf_counter() - start)
                assert w.rows_written == args.rows
                start = time.perf_counter()
                back = read_table(resolve_inputs(out))
                reads[name].append(time.perf_counter() - start)
                assert back.num_rows == args.rows and back.schema.equals(table.schema)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = statistics.median(times["flat"])
    print(f"{args.rows} rows ({table.num_columns} columns, 8,192-row batches), "
          f"{args.repeats} alternated runs, medians:")
    print("| output | write s | rows/s | vs flat | read back s |")
    print("|---|---|---|---|---|")
    for name in cases:
        t = statistics.median(times[name])
        print(f"| {name} | {t:.3f} | {args.rows / t / 1e6:.2f}M | {t / base:.2f}x | "
              f"{statistics.median(reads[name]):.3f} |")


if __name__ == "__main__":
    main()
