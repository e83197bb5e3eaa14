"""How often the report's detection findings call REAL against REAL a problem (session 51).

REAL and SYNTHETIC are two disjoint random samples of n rows of hpc (one distribution), for
20 seeds at each n: any detection finding that says the rows are detectable or copies is a
false alarm. Before session 51 the findings used the fixed thresholds (0.75 / 0.4) alone;
now an AUC within `detection.chance_band(rows)` of 0.5 is said to be unreadable instead.

    PYTHONPATH=. .venv/bin/python benchmarks/explore/c2st_chance.py ../shared/data/hpc.parquet
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pyarrow.parquet as pq

from vae_augment.evaluation import evaluate
from vae_augment.findings import C2ST_HIGH, C2ST_LOW


def main(path: str, sizes=(10, 20, 40, 100), seeds: int = 20) -> None:
    table = pq.read_table(path)
    label = "class"
    for n in sizes:
        old = new = unreadable = 0
        aucs = []
        for seed in range(seeds):
            idx = np.random.default_rng(seed).permutation(table.num_rows)[:2 * n]
            real, synthetic = table.take(idx[:n]), table.take(idx[n:])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                report = evaluate(real, synthetic, label=label, seed=seed,
                                  sections=["detection"])
            auc = report["detection"]["c2st_auc"]
            if auc is None:
                continue
            aucs.append(auc)
            old += auc >= C2ST_HIGH or auc <= C2ST_LOW
            msgs = [f["message"] for f in report["findings"] if f["section"] == "detection"]
            new += any("tells the synthetic" in m or "as copies would" in m for m in msgs)
            unreadable += any("within chance's spread" in m for m in msgs)
        print(f"n={n:4d} a side: {len(aucs)} AUCs, median {np.median(aucs):.3f}, range "
              f"{min(aucs):.3f}-{max(aucs):.3f}; false alarms with the fixed thresholds "
              f"{old}/{len(aucs)}, now {new}/{len(aucs)} (said unreadable: {unreadable})")


if __name__ == "__main__":
    main(sys.argv[1])
