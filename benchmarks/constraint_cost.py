"""Benchmark: what `constraints="auto"` costs: `sample` to Parquet from the same data fitted
with and without it (same seed; runs interleaved in one process, medians), and its parts:
building a `Sampler` (the trace), one 8,192-row block once traced, and the discovery pass.

    .venv/bin/python benchmarks/constraint_cost.py --rows 500000 --repeats 5

Datasets: the bundled churn file (its one relation, total_night_charge <= total_night_calls,
breaks in under 1 % of first draws) and ../shared/data/credit.parquet when present
(Amount <= Price breaks in 12-16 % of first draws).
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

DATA = {
    "churn": (os.path.join(HERE, "..", "examples", "data", "churn.parquet"), "churn", "yes"),
    "credit": (os.path.join(HERE, "..", "..", "shared", "data", "credit.parquet"), "Status",
               "bad"),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=500_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    args = p.parse_args(argv)

    import pyarrow.parquet as pq

    from vae_augment.api import fit, sample
    from vae_augment.constraints import discover_relations
    from vae_augment.sampler import BLOCK_ROWS, Sampler

    tmp = tempfile.mkdtemp(prefix="vae_constraints_")
    for name, (path, label, cls) in DATA.items():
        if not os.path.exists(path):
            print(f"{name}: {path} not found, skipped")
            continue
        table = pq.read_table(path)
        arts = {c: fit(table, label=label, seed=0, epochs=args.epochs, constraints=c)
                for c in (None, "auto")}
        rels = [str(r) for r in arts["auto"].encoding.relations]
        times: dict = {None: [], "auto": []}
        for art in arts.values():
            sample(art, {cls: 8192}, seed=99)  # trace once
        for r in range(args.repeats):
            for c, art in arts.items():
                t = time.perf_counter()
                sample(art, {cls: args.rows}, os.path.join(tmp, f"{name}.parquet"), seed=r,
                       overwrite=True)
                times[c].append(time.perf_counter() - t)
        plain, con = (statistics.median(times[c]) for c in (None, "auto"))
        build: dict = {None: [], "auto": []}
        block: dict = {None: [], "auto": []}
        samplers = {}
        for _ in range(args.repeats):
            for c, art in arts.items():
                t = time.perf_counter()
                samplers[c] = Sampler(art)
                build[c].append(time.perf_counter() - t)
        ci = arts["auto"].encoding.class_index(cls)
        for r in range(20 * args.repeats):
            for c, smp in samplers.items():
                t = time.perf_counter()
                smp.generate_block(ci, r, 0)
                block[c].append(time.perf_counter() - t)
        b_plain, b_con = (statistics.median(block[c]) for c in (None, "auto"))
        disc = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            discover_relations(table, arts["auto"].encoding)
            disc.append(time.perf_counter() - t)
        n_num = len(arts["auto"].encoding.numeric)
        print(f"{name}: relations {rels}")
        print(f"  sample {args.rows} rows of '{cls}': without {args.rows / plain / 1e3:.1f}k rows/s, "
              f"with {args.rows / con / 1e3:.1f}k rows/s (time ratio {con / plain:.3f}; "
              f"medians of {args.repeats}, interleaved)")
        print(f"  Sampler(): without {statistics.median(build[None]):.3f} s, with "
              f"{statistics.median(build['auto']):.3f} s; one {BLOCK_ROWS}-row block: without "
              f"{b_plain * 1e3:.1f} ms, with {b_con * 1e3:.1f} ms (time ratio {b_con / b_plain:.3f}; "
              f"medians of {20 * args.repeats}, interleaved)")
        print(f"  discovery pass: {statistics.median(disc) * 1e3:.1f} ms for {table.num_rows} rows "
              f"x {n_num} numeric columns ({statistics.median(disc) / table.num_rows * 1e6:.2f} "
              f"us a row)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
