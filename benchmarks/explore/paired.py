"""Paired comparison of two vae-augment settings over the same split seeds.

    python benchmarks/explore/paired.py A1.json,A2.json B1.json,B2.json

Each side is a comma-separated list of `utility.py --json` files (their vae rows are pooled;
a later file's row of a dataset, classifier and seed replaces an earlier one's). Prints, per
dataset, LR / HGB F1 and C2ST means over the seeds both sides have, the paired mean
difference B - A, the sd of the differences and on how many seeds B is higher.
"""
import json
import sys

import numpy as np


def load(paths):
    rows = {}
    for path in paths.split(","):
        for dataset, entries in json.load(open(path))["results"].items():
            for r in entries:
                if r["method"] == "vae":
                    rows[(dataset, r["clf"], r["seed"])] = r
    return rows


def main(a_paths, b_paths):
    a, b = load(a_paths), load(b_paths)
    datasets = sorted({k[0] for k in a} & {k[0] for k in b})
    print("| dataset | metric | seeds | A | B | B - A (sd) | B higher |")
    print("|---|---|---|---|---|---|---|")
    for d in datasets:
        for metric, clf, key in (("LR F1", "LR", "f1"), ("HGB F1", "HGB", "f1"),
                                 ("C2ST", "LR", "c2st")):
            seeds = sorted(s for (dd, c, s) in a if dd == d and c == clf and (d, clf, s) in b)
            if not seeds:
                continue
            va = np.array([a[(d, clf, s)][key] for s in seeds], float)
            vb = np.array([b[(d, clf, s)][key] for s in seeds], float)
            diff = vb - va
            print(f"| {d} | {metric} | {len(seeds)} | {va.mean():.3f} | {vb.mean():.3f} | "
                  f"{diff.mean():+.3f} ({diff.std(ddof=1) if len(diff) > 1 else 0:.3f}) | "
                  f"{int((diff > 0).sum())} of {len(seeds)} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
