"""Fit time on a wide table of 0/1 flags (each a two-value category), and an epoch on
churn, for the categorical log-likelihood's cost (session 33: one Categorical per size of
category instead of one per column).

    python benchmarks/explore/wide_flags.py [--columns 300] [--rows 2000] [--epochs 2]

Prints the wall time of `vae_augment.api.fit` (import excluded) on the flag table, and the
seconds of training per epoch on the bundled churn data (20 epochs, patience off).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--columns", type=int, default=300)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()

    from vae_augment.api import fit

    rng = np.random.default_rng(0)
    flags = (rng.random((args.rows, args.columns)) < 0.05).astype(np.float64)
    table = pa.table({**{f"w{j}": flags[:, j] for j in range(args.columns)},
                      "y": rng.choice(["a", "b"], size=args.rows, p=[0.8, 0.2])})
    t0 = time.perf_counter()
    fit(table, label="y", seed=0, verbose=0, epochs=args.epochs)
    wide = time.perf_counter() - t0
    churn = pq.read_table(os.path.join(HERE, "..", "..", "examples", "data", "churn.parquet"))
    art = fit(churn, label="churn", seed=0, verbose=0, epochs=20, patience=100)
    m = art.config["metrics"]
    print(f"wide {args.rows}x{args.columns} flags, {args.epochs} epochs: fit {wide:.2f} s; "
          f"churn: {m['train_seconds'] / m['epochs_run']:.3f} s/epoch "
          f"({m['epochs_run']} epochs)", flush=True)


if __name__ == "__main__":
    main()
