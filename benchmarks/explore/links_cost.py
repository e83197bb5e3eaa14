"""What linked columns cost at sampling: `sample` to Parquet from one churn model with its
links (`constraints="auto"`) and from the same model with them removed from the encoding
(the same draws, the category left as drawn), alternated in one process; medians.

    .venv/bin/python benchmarks/explore/links_cost.py --rows 1000000 --repeats 4

Session 28 (`benchmarks/results/links_cost_s28.txt`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import _common  # noqa: F401  (import paths)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "..", "examples", "data",
                                                  "churn.parquet"))
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--epochs", type=int, default=20)
    args = p.parse_args(argv)

    from vae_augment.api import fit, sample
    from vae_augment.artifact import Artifact

    tmp = tempfile.mkdtemp(prefix="vae_links_")
    art = fit(args.data, label="churn", seed=0, epochs=args.epochs, verbose=0)
    enc = art.encoding
    assert enc.links, "the churn model should have a link"
    bare = Artifact(art.model, enc.with_relations(enc.relations, enc.constraints, enc.derived),
                    art.config)
    print("links:", [str(k) for k in enc.links])
    times = {"links": [], "without": []}
    for a in (art, bare):
        sample(a, {"yes": 8192}, seed=123)  # warm-up: trace once
    for r in range(args.repeats):
        for name, a in ((("links", art), ("without", bare)) if r % 2 == 0
                        else (("without", bare), ("links", art))):
            out = os.path.join(tmp, f"{name}{r}.parquet")
            t = time.perf_counter()
            sample(a, {"yes": args.rows // 2, "no": args.rows // 2}, out, seed=r)
            times[name].append(time.perf_counter() - t)
            os.remove(out)
    for name, ts in times.items():
        print(f"{name}: " + ", ".join(f"{args.rows / t / 1e3:.1f}k" for t in ts)
              + f" rows/s; median {args.rows / statistics.median(ts) / 1e3:.1f}k")
    ratio = statistics.median(times["links"]) / statistics.median(times["without"])
    print(f"time with links / without: {ratio:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
