"""Streamed training from data partitioned by the label (one large row group per class)
against the same rows in a shuffled flat layout: the share of one-class batches and the
validation -ELBO after a few epochs, per seed; run once per worktree to compare commits:

    PYTHONPATH=/tmp/old .venv/bin/python benchmarks/explore/stream_interleave.py before
    .venv/bin/python benchmarks/explore/stream_interleave.py after

Session 32 (`benchmarks/results/stream_interleave_s32.txt`).
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
CHURN = os.path.join(HERE, "..", "..", "examples", "data", "churn.parquet")
COPIES, BUFFER, BATCH, EPOCHS = 16, 8192, 256, 5


def layouts(root: str) -> dict[str, str]:
    t = pq.read_table(CHURN)
    big = pa.concat_tables([t] * COPIES)
    big = big.take(np.random.default_rng(0).permutation(big.num_rows))
    flat, bylabel = os.path.join(root, "flat"), os.path.join(root, "bylabel")
    os.makedirs(flat)
    step = big.num_rows // 8
    for i in range(8):
        pq.write_table(big.slice(i * step, step), f"{flat}/part-{i}.parquet",
                       row_group_size=2000)
    ds.write_dataset(big, bylabel, format="parquet", partitioning=["churn"],
                     partitioning_flavor="hive", max_rows_per_group=1 << 20,
                     min_rows_per_group=1 << 20)
    return {"flat": flat, "bylabel": bylabel}


def main(tag: str, seeds=(0, 1, 2)) -> None:
    import vae_augment as va
    from vae_augment.streaming import ParquetSource

    root = tempfile.mkdtemp()
    try:
        paths = layouts(root)
        enc = None
        for name, path in paths.items():
            elbos, single, times = [], [], []
            for seed in seeds:
                t0 = time.perf_counter()
                art = va.fit(path, label="churn", seed=seed, epochs=EPOCHS, streaming=True,
                             shuffle_buffer=BUFFER, batch_size=BATCH, verbose=0,
                             kl_warmup_epochs=1)
                times.append(time.perf_counter() - t0)
                elbos.append(art.config["metrics"]["val_neg_elbo"])
                enc = art.encoding
                src = ParquetSource(path, enc, validation_split=0.1, seed=seed,
                                    shuffle_buffer=BUFFER)
                yes = enc.class_index("yes")
                shares = [np.mean(b["y"] == yes) for b in src.iter_train(BATCH, 0, 1)]
                single.append(sum(s in (0.0, 1.0) for s in shares) / len(shares))
            print(f"{tag} {name:8s} val -ELBO {[round(e, 2) for e in elbos]} "
                  f"median {statistics.median(elbos):.2f}; one-class batches "
                  f"{[round(s, 3) for s in single]}; fit seconds median "
                  f"{statistics.median(times):.1f}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
