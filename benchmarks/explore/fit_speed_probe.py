"""Probe: `balance` wall time and epochs of several fit settings, alternated in one warm
process (a 2-epoch warm-up run first pays imports and tracing).

    .venv/bin/python benchmarks/explore/fit_speed_probe.py '{"default": {}, "h128": {"hidden": [128, 128]}}' 0,1 [DATA LABEL]

Prints each run (seconds, epochs run, seconds an epoch) and the medians per setting
(session 58: benchmarks/results/fit_balance_s58.md)."""

import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from vae_augment.api import balance  # noqa: E402


def main() -> None:
    configs = json.loads(sys.argv[1])
    seeds = [int(s) for s in sys.argv[2].split(",")]
    data = sys.argv[3] if len(sys.argv) > 3 else "../shared/data/churn.parquet"
    label = sys.argv[4] if len(sys.argv) > 4 else "churn"
    tmp = tempfile.mkdtemp()
    balance(data, os.path.join(tmp, "w.parquet"), label=label, seed=99, fit_kwargs={"epochs": 2})
    res = {n: [] for n in configs}
    for s in seeds:
        for n, kw in configs.items():
            md = os.path.join(tmp, f"{n}{s}")
            t = time.perf_counter()
            balance(data, os.path.join(tmp, f"{n}{s}.parquet"), label=label, seed=s,
                    model_dir=md, fit_kwargs=kw)
            dt = time.perf_counter() - t
            with open(os.path.join(md, "config.json")) as f:
                ep = json.load(f)["metrics"]["epochs_run"]
            res[n].append((round(dt, 2), ep, round(dt / ep, 4)))
            print(n, s, res[n][-1], flush=True)
    for n, r in res.items():
        print(n, "median s", statistics.median(x[0] for x in r),
              "median s/epoch", statistics.median(x[2] for x in r), r)


if __name__ == "__main__":
    main()
