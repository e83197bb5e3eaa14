"""Class null rules (`Encoding.class_null_rules`): synthetic rows of a class whose real rows
are all null in a column (or none are), library-default models fitted with the rules
(``constraints="auto"``) and without (``"none"``), per split seed; then what the rules cost
at sampling (one model, its `Sampler` with and without the logit offsets, alternated).

    .venv/bin/python benchmarks/explore/class_nulls.py --seeds 0,1,2

Session 32 (`benchmarks/results/class_nulls_s32.txt`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow as pa

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def table(n: int, seed: int) -> pa.Table:
    """``bonus`` null in every row of class b and 10 % of class a's; ``kind`` never null in
    class a and null in 30 % of class b's; a third of the rows are b."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.67, "a", "b")
    a = label == "a"
    x = rng.normal(size=n)
    return pa.table({
        "x": x,
        "bonus": pa.array(np.exp(x + rng.normal(0, 0.5, n)), mask=~a | (rng.random(n) < 0.1)),
        "kind": pa.array(np.where(x + rng.normal(0, 1, n) > 0, "p", "q"),
                         mask=~a & (rng.random(n) < 0.3)),
        "label": label,
    })


def shares(artifact, cls: str, rows: int) -> dict[str, float]:
    from vae_augment.sampler import Sampler

    out = pa.Table.from_batches(
        list(Sampler(artifact).iter_counts({cls: rows}, seed=7, progress=False)))
    return {c: out[c].null_count / out.num_rows for c in ("bonus", "kind")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--rows", type=int, default=4000)
    p.add_argument("--sample", type=int, default=50_000)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args(argv)
    from vae_augment.api import fit

    print("null share of synthetic rows; real: bonus null in all b rows, ~10 % of a rows; "
          "kind never null in a rows, ~30 % of b rows")
    print("seed constraints  a:bonus  b:bonus  a:kind  b:kind  epochs")
    kept = None
    for seed in [int(s) for s in args.seeds.split(",")]:
        data = table(args.rows, seed)
        for constraints in ("auto", "none"):
            art = fit(data, label="label", seed=seed, constraints=constraints, verbose=0)
            a, b = shares(art, "a", args.sample), shares(art, "b", args.sample)
            print(f"{seed:4d} {constraints:11s} {a['bonus']:8.4f} {b['bonus']:8.4f} "
                  f"{a['kind']:7.4f} {b['kind']:7.4f}  {art.config.get('metrics', {}).get('epochs_run')}",
                  flush=True)
            if constraints == "auto":
                kept = kept or art

    from vae_augment.sampler import Sampler

    with_rules = Sampler(kept)
    saved = kept.model._null_offsets, kept.model._cat_offsets
    kept.model._null_offsets = kept.model._cat_offsets = None
    without = Sampler(kept)
    kept.model._null_offsets, kept.model._cat_offsets = saved
    times = {"with": [], "without": []}
    for k in range(args.repeats):
        for name, s in (("with", with_rules), ("without", without)):
            t0 = time.perf_counter()
            s.generate_block(1, 0, k)
            times[name].append(time.perf_counter() - t0)
    w, wo = statistics.median(times["with"]), statistics.median(times["without"])
    print(f"one {with_rules.block_rows}-row block of class b, median of {args.repeats} "
          f"alternated: with the rules {w * 1e3:.2f} ms, without {wo * 1e3:.2f} ms "
          f"({w / wo:.3f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
