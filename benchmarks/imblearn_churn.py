"""SMOTE vs VAEOverSampler in the churn pipeline of examples/imblearn_pipeline.py, over seeds.

Each seed is a different stratified split (and sampler seed); every variant sees the same
split. Prints a Markdown table of minority-class F1 per seed, the medians and the ratio of
each median to SMOTE's, measured in the same run.

    .venv/bin/python benchmarks/imblearn_churn.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import pathlib
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = pathlib.Path(__file__).resolve().parents[1]


def _example():
    spec = importlib.util.spec_from_file_location(
        "imblearn_pipeline_example", REPO / "examples" / "imblearn_pipeline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    example = _example()
    rows, seconds = [], []
    for seed in args.seeds:
        argv_seed = ["--seed", str(seed)] + ([] if args.epochs is None else ["--epochs", str(args.epochs)])
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            rows.append(example.main(argv_seed))
        seconds.append(time.perf_counter() - start)
    variants = list(rows[0])
    smote = next(v for v in variants if v.startswith("SMOTE"))
    print("| variant | " + " | ".join(f"seed {s}" for s in args.seeds) + " | median | / SMOTE |")
    print("|---|" + "---|" * (len(args.seeds) + 2))
    med_smote = statistics.median(r[smote] for r in rows)
    for v in variants:
        med = statistics.median(r[v] for r in rows)
        cells = " | ".join(f"{r[v]:.3f}" for r in rows)
        print(f"| {v} | {cells} | {med:.3f} | {med / med_smote:.2f} |")
    print(f"\nwall seconds per seed (all four variants): {[round(s, 1) for s in seconds]}")


if __name__ == "__main__":
    main()
