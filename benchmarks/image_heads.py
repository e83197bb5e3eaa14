"""Benchmark: `sample` throughput to Parquet for an image model, Binomial vs beta-binomial
pixel heads (`image_likelihood`), same process, same data (the bundled digits_longtail).

Each head gets its own fit (library defaults otherwise, --epochs); then each samples --rows
rows of the rarest class to Parquet --repeats times; medians and the ratio are printed.

    .venv/bin/python benchmarks/image_heads.py --rows 200000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "examples", "data",
                                                  "digits_longtail.parquet"))
    p.add_argument("--label", default="label")
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=20)
    args = p.parse_args(argv)

    from vae_augment.api import fit, sample

    tmp = tempfile.mkdtemp(prefix="vae_bench_")
    rates = {}
    for head in ("binomial", "beta_binomial"):
        art = fit(args.data, label=args.label, seed=0, epochs=args.epochs,
                  image_likelihood=head, verbose=0)
        counts = art.encoding.class_counts
        rare = min(counts, key=counts.get)
        sample(art, {rare: 8192}, seed=123)  # warm-up: trace the generator once
        runs = []
        for r in range(args.repeats):
            t = time.perf_counter()
            n = sample(art, {rare: args.rows}, os.path.join(tmp, f"{head}{r}.parquet"), seed=r)
            runs.append(n / (time.perf_counter() - t))
        rates[head] = runs
        print(f"{head:14s}: {statistics.median(runs):>10,.0f} rows/s (runs: "
              + ", ".join(f"{v:,.0f}" for v in runs) + ")", flush=True)
    ratio = statistics.median(rates["beta_binomial"]) / statistics.median(rates["binomial"])
    print(f"rows per run: {args.rows}, repeats: {args.repeats}, cpu cores: {os.cpu_count()}")
    print(f"beta_binomial / binomial: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
