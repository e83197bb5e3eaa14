"""IWAE anomaly scores and `evaluate`'s model section on churn, timed (session 51).

Run from two checkouts (e.g. the commit before `iw_bound` stacked its samples, and after) with
the same model to compare; each prints medians of its own runs.

    .venv/bin/vae-augment fit examples/data/churn.parquet --label churn --model-dir /tmp/churn_model --epochs 20 --seed 0
    .venv/bin/vae-augment balance examples/data/churn.parquet /tmp/churn_bal.parquet --label churn --model-dir /tmp/churn_model --seed 0
    PYTHONPATH=. .venv/bin/python benchmarks/explore/score_speed.py /tmp/churn_model /tmp/churn_bal.parquet
"""

from __future__ import annotations

import statistics
import sys
import time

import pyarrow.parquet as pq

from vae_augment.artifact import load_artifact
from vae_augment.evaluation import evaluate
from vae_augment.scoring import anomaly_scores

DATA = "examples/data/churn.parquet"


def main(model_dir: str, balanced: str) -> None:
    art = load_artifact(model_dir)
    table = pq.read_table(DATA)
    anomaly_scores(art, table.slice(0, 100), method="iwae")  # warm: traces, imports
    score = []
    for _ in range(3):
        start = time.perf_counter()
        anomaly_scores(art, table, method="iwae", k=16)
        score.append(time.perf_counter() - start)
    model_section = []
    for _ in range(2):
        start = time.perf_counter()
        evaluate(DATA, balanced, label="churn", model=art, sections=["model"])
        model_section.append(time.perf_counter() - start)
    print(f"IWAE scores, k=16, {table.num_rows} rows: median {statistics.median(score):.2f} s "
          f"(runs {[round(x, 2) for x in score]}); evaluate, model section only: "
          f"{[round(x, 2) for x in model_section]} s")


if __name__ == "__main__":
    main(*sys.argv[1:3])
