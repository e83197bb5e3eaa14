"""The class guide's fit time, one fit after another against concurrent fits (threads).

`ConditionalVAE.fit_guide` fits the final guide and 5 cross-fitting guides (for the
floors). They are independent, so they run on up to `guide.guide_workers` threads. This
times `fit_guide` on a synthetic table (20,000 rows, 20 numerics shifted by class, 5
categories, as `explore/manyclass.py`) with K classes, both ways alternated in one process
(median of `--repeats`), and checks that the trees and floors are the same bit for bit.

    .venv/bin/python benchmarks/guide_fit.py --classes 2,4,20 --repeats 3
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from vae_augment import guide as G  # noqa: E402
from vae_augment.api import fit  # noqa: E402

NAMES = ("feature", "threshold", "value", "tree_class", "baseline", "floor")


def table(k: int, n: int = 20000) -> pa.Table:
    rng = np.random.default_rng(0)
    shares = np.r_[0.2, np.full(k - 1, 0.8 / (k - 1))]
    y = rng.choice(k, n, p=shares)
    cols = {f"x{j}": rng.normal(size=n) + (y % (j + 2)) * 0.5 for j in range(20)}
    cols.update({f"c{j}": rng.choice(list("abcde"), n) for j in range(5)})
    cols["y"] = [f"k{v}" for v in y]
    return pa.table(cols)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--classes", default="2,4,20")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=50)
    args = ap.parse_args()
    threaded = G.guide_workers
    for k in (int(v) for v in args.classes.split(",")):
        t = table(k)
        art = fit(t, label="y", seed=0, verbose=0, epochs=1, guide_iterations=args.iterations)
        arrays = art.encoding.encode(t)
        m = art.model
        times: dict[str, list[float]] = {"one after another": [], "concurrent": []}
        trees = {}
        for _ in range(args.repeats):
            for way, workers in (("one after another", lambda *a: 1), ("concurrent", threaded)):
                G.guide_workers = workers
                start = time.perf_counter()
                m.fit_guide(arrays, seed=0, progress=False)
                times[way].append(time.perf_counter() - start)
                trees[way] = [getattr(m, f"guide_{n}").numpy().copy() for n in NAMES]
        G.guide_workers = threaded
        same = all(np.array_equal(a, b) for a, b in zip(*trees.values()))
        med = {w: float(np.median(v)) for w, v in times.items()}
        feats = G.guide_width(m.layout)
        print(f"K={k:<3} features {feats}, threads {threaded(min(len(t), G.GUIDE_MAX_ROWS), feats, 6)}: "
              + ", ".join(f"{w} {med[w]:.2f} s ({' / '.join(f'{v:.2f}' for v in times[w])})"
                          for w in times)
              + f"; {med['one after another'] / med['concurrent']:.2f}x; same trees: {same}",
              flush=True)


if __name__ == "__main__":
    main()
