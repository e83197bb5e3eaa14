"""How many training rows the model's class posterior doubts, with clean labels and with 5 %
of them flipped (session 35; picks the evaluation report's label check's threshold):

    cd benchmarks/explore && ../../.venv/bin/python label_doubt.py DATASET [SEEDS]

A ../shared table (whole, as `balance --report` fits on all of REAL) is fitted with the
library defaults twice: on its labels, and with FLIP of them moved to another class
(uniformly among the others). Every row is scored by p(y | x) (`anomaly_scores(kind=
"label")`). Printed per threshold t: the share of each class's rows with p(y | x) < t
(clean and noisy), and for the noisy fit the precision and recall of the rows under t at
finding the flipped rows, and the share flipped among the 10-100 rows of lowest p(y | x);
and the share of rows whose most probable class is their label.
"""
import sys

import _common  # noqa: F401
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import vae_augment as va

DATASET = sys.argv[1]
SEEDS = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "0").split(",")]
FLIP = 0.05
THRESHOLDS = (0.01, 0.02, 0.05, 0.1, 0.2)
LABELS = {"churn": "churn", "credit": "Status", "hpc": "class"}
label = LABELS[DATASET]
table = pq.read_table(f"../../../shared/data/{DATASET}.parquet")
table = table.filter(pa.array([v is not None for v in table.column(label).to_pylist()]))
for seed in SEEDS:
    rng = np.random.default_rng(seed)
    t_noisy, flipped, y, noisy = _common.flip_labels(table, label, FLIP, rng)
    classes = sorted(set(y))
    n = len(y)
    for name, t, yy in (("clean", table, y), ("noisy", t_noisy, noisy)):
        art = va.fit(t, label=label, seed=seed, verbose=0)
        p = np.exp(-va.anomaly_scores(art, t, kind="label").astype(np.float64))
        print(f"{DATASET} seed {seed} {name}: {n} rows", flush=True)
        for th in THRESHOLDS:
            low = p < th
            per_class = "  ".join(f"{c}: {low[yy == c].mean():.3f}" for c in classes)
            line = f"  p(y|x) < {th:<4}: {low.mean():.3f} of rows ({per_class})"
            if name == "noisy":
                prec = flipped[low].mean() if low.any() else float("nan")
                line += f"  precision {prec:.2f} recall {low[flipped].mean():.2f}"
            print(line, flush=True)
        if name == "noisy":
            order = np.argsort(p, kind="stable")
            print("  flipped among the rows of lowest p(y|x): " + "  ".join(
                f"top {k}: {flipped[order[:k]].mean():.2f}" for k in (10, 25, 50, 100)),
                flush=True)
        agree = (np.asarray(classes, dtype=object)[
            np.exp(-np.stack([va.anomaly_scores(art, t.set_column(
                t.schema.get_field_index(label), label,
                pa.array([c] * n, t.schema.field(label).type)), kind="label")
                for c in classes], axis=1)).argmax(axis=1)] == yy).mean()
        print(f"  most probable class is the label: {agree:.3f}", flush=True)
