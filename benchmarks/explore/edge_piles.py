"""Do synthetic numbers pile on a column's real extremes (session 45)?

The quantile-normal map sends a numeric column's training minimum and maximum to
z = -3.09 / +3.09 (`encoding.PROBIT_EPS`), and decoding clips a draw past them to the
extreme value. A Normal head's tail past those ends is mass no real row has, so it lands as
a spike on the extreme values. For each table (churn, credit, hpc) and split seed, the
protocol's training split (optionally subsampled to N rows, `utility.stratified_rows`), the
defaults' `balance` rows (`utility.run_vae`): per many-valued numeric column (at least 20
distinct values), the share of the synthetic rows' non-null cells at the training minimum or
maximum, beside real-test's share of the same classes (rows as far from the training rows
as unseen ones), and the C2ST of `utility.py`.

    .venv/bin/python benchmarks/explore/edge_piles.py out.json [N] [seeds]
"""

from __future__ import annotations

import json
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import utility as U
from sklearn.model_selection import train_test_split


def _values(table: pa.Table, name: str, mask: np.ndarray) -> np.ndarray:
    col = table.column(name).combine_chunks()
    valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False), bool)
    x = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), float)
    return x[valid & mask]


def main(path: str, rows: int | None, seeds: list[int]) -> None:
    out = []
    for ds in ("churn", "credit", "hpc"):
        label = U.DATASETS[ds]
        table = U.load(ds)
        y_all = np.asarray(table.column(label).to_pylist())
        for seed in seeds:
            tr, te = train_test_split(np.arange(table.num_rows), test_size=0.3,
                                      stratify=y_all, random_state=seed)
            if rows:
                tr = tr[U.stratified_rows(y_all[tr], rows, seed)]
            train, test = table.take(pa.array(tr)), table.take(pa.array(te))
            _, synth, _ = U.run_vae(train, label, seed, {})
            y_syn = np.asarray(synth.column(label).to_pylist())
            y_te = np.asarray(test.column(label).to_pylist())
            classes = np.isin(y_te, np.unique(y_syn))
            cols = {}
            for f in train.schema:
                if f.name == label or not (pa.types.is_integer(f.type)
                                           or pa.types.is_floating(f.type)):
                    continue
                x_tr = _values(train, f.name, np.ones(train.num_rows, bool))
                if len(np.unique(x_tr)) < 20:
                    continue
                lo, hi = x_tr.min(), x_tr.max()
                x_syn = _values(synth, f.name, np.ones(synth.num_rows, bool))
                x_te = _values(test, f.name, classes)
                cols[f.name] = {
                    "syn_max": float(np.mean(x_syn >= hi)), "syn_min": float(np.mean(x_syn <= lo)),
                    "test_max": float(np.mean(x_te >= hi)), "test_min": float(np.mean(x_te <= lo)),
                }
            syn = np.mean([c["syn_max"] + c["syn_min"] for c in cols.values()])
            real = np.mean([c["test_max"] + c["test_min"] for c in cols.values()])
            rec = {"ds": ds, "seed": seed, "rows": rows, "columns": len(cols),
                   "syn_at_extremes": float(syn), "test_at_extremes": float(real),
                   "worst": max(cols.items(), key=lambda kv: kv[1]["syn_max"] + kv[1]["syn_min"]),
                   "per_column": cols}
            out.append(rec)
            print(json.dumps({k: v for k, v in rec.items() if k != "per_column"}), flush=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "0" else None,
         [int(s) for s in sys.argv[3].split(",")] if len(sys.argv) > 3 else [0])
