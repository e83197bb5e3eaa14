"""Benchmark: `fit` + `balance` wall time against SMOTE and SDV TVAE, same machine, same run.

    .venv/bin/python benchmarks/fit_balance.py --data ../shared/data/churn.parquet --label churn

- vae-augment: `vae_augment.api.balance` (fit with default settings + generate + write
  Parquet), in this process, median of --repeats runs.
- SMOTE: imbalanced-learn's SMOTE (defaults) after the BASELINES.md preprocessing (impute,
  standardise, one-hot), median of --repeats runs.
- TVAE: one SDV TVAESynthesizer per minority class (defaults: 300 epochs), run by the
  interpreter given with --sdv-python (a separate venv with sdv), when it exists.

SMOTE and TVAE get tensor (image) columns as one column per element, as in utility.py.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)  # utility.py's table helpers


def flat_copy(path: str, tmp: str) -> str:
    """`path` itself, or a copy with its tensor (fixed-size list) columns as one column per
    element (`utility._flatten_tensors`, what the quality benchmark gives SMOTE and SDV)."""
    import pyarrow.parquet as pq
    from utility import _flatten_tensors

    table = pq.read_table(path)
    flat, tensors = _flatten_tensors(table.replace_schema_metadata(None))
    if not tensors:
        return path
    out = os.path.join(tmp, "flat.parquet")
    pq.write_table(flat, out)
    return out


def smote_seconds(path: str, label: str, seed: int) -> float:
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    from imblearn.over_sampling import SMOTE
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    table = pq.read_table(path)  # column by column as utility.py (no pandas metadata: a
    # file's "string" dtype would give pd.NA, which the imputer cannot compare)
    df = pd.DataFrame({n: table.column(n).to_pandas() for n in table.column_names})
    start = time.perf_counter()
    y = df[label].to_numpy()
    X = df.drop(columns=[label])
    from utility import _cat_to_object

    X = _cat_to_object(X)  # as utility.py
    num = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and X[c].dtype != bool]
    cat = [c for c in X.columns if c not in num]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), cat),
    ])
    Xt = pre.fit_transform(X)
    SMOTE(random_state=seed).fit_resample(Xt, np.asarray(y))
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "examples", "data", "churn.parquet"))
    p.add_argument("--label", default="churn")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sdv-python", default="/work/sdv-venv/bin/python")
    p.add_argument("--fit-json", default="{}",
                   help='vae_augment.fit kwargs, e.g. the former defaults: '
                        '\'{"guide_iterations": 0, "candidates": 1, "bank_keep": 0.25, '
                        '"dequantize": false, "beta": 1.0, "guide_quantile": 0.25}\'')
    args = p.parse_args(argv)

    from vae_augment.api import balance

    tmp = tempfile.mkdtemp(prefix="vae_fitbal_")
    vae, epochs = [], []
    for r in range(args.repeats):
        t = time.perf_counter()
        summary = balance(args.data, os.path.join(tmp, f"out{r}.parquet"), label=args.label, seed=r,
                          model_dir=os.path.join(tmp, f"model{r}"),
                          fit_kwargs=json.loads(args.fit_json))
        vae.append(time.perf_counter() - t)
        with open(os.path.join(tmp, f"model{r}", "config.json")) as f:
            epochs.append(json.load(f)["metrics"]["epochs_run"])
    flat = flat_copy(args.data, tmp)  # images as pixel columns for SMOTE and SDV
    smote = [smote_seconds(flat, args.label, r) for r in range(args.repeats)]
    tvae, tvae_failed = None, False
    if os.path.exists(args.sdv_python):
        counts = summary["generated"]
        todo = json.dumps({str(c): n for c, n in counts.items() if n > 0})
        proc = subprocess.run([args.sdv_python, os.path.join(HERE, "_tvae_worker.py"), flat,
                               os.path.join(tmp, "tvae.parquet"), "--label", args.label, "--counts", todo],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            per_class = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
            tvae = {"seconds": sum(per_class.values()),
                    "per_class_seconds": {c: round(v, 2) for c, v in per_class.items()}}
        else:
            tvae_failed = True
            print("TVAE failed:", proc.stderr[-2000:], file=sys.stderr)
    print(f"data: {args.data}  generated rows: {summary['generated']}")
    print(f"vae-augment fit+balance (defaults): median {statistics.median(vae):.2f} s "
          f"(runs {', '.join(f'{v:.2f}' for v in vae)}; epochs run {epochs})")
    print(f"SMOTE (preprocess + fit_resample) : median {statistics.median(smote):.3f} s")
    if tvae:
        print(f"SDV TVAE per minority class       : {tvae['seconds']:.2f} s {tvae['per_class_seconds']}")
        print(f"vae-augment / TVAE time ratio     : {statistics.median(vae) / tvae['seconds']:.2f}")
    elif tvae_failed:  # its traceback is on stderr above
        print(f"SDV TVAE: failed under {args.sdv_python}")
    else:
        print(f"SDV TVAE: not run (no sdv interpreter at {args.sdv_python})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
