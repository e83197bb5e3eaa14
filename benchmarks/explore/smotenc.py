"""Is credit's LR gap to SMOTE structural? SMOTE runs after one-hot encoding, so its rows carry
fractional categories; SMOTE-NC (imbalanced-learn) interpolates numerics and takes each
category from a neighbour, so its rows keep the schema as vae-augment's must. Scores SMOTE,
SMOTE-NC and random oversampling on the protocol's splits (LR and HGB).

    .venv/bin/python benchmarks/explore/smotenc.py credit 0,1,2

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys

import numpy as np
import pandas as pd
from _common import U, f1, split
from imblearn.over_sampling import SMOTE, SMOTENC, RandomOverSampler
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

ds = sys.argv[1]
seeds = [int(s) for s in sys.argv[2].split(",")] if len(sys.argv) > 2 else [0, 1, 2]
table = {}
for seed in seeds:
    sp = split(ds, seed)
    x = sp.x_tr
    num = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and x[c].dtype != bool]
    cat = [c for c in x.columns if c not in num]
    # impute and standardise the numerics (SMOTE-NC's distances), keep categories as values
    raw = ColumnTransformer([
        ("num", Pipeline([("imp", SimpleImputer(strategy="median")),
                          ("std", StandardScaler())]), num),
        ("cat", SimpleImputer(strategy="most_frequent"), cat)], sparse_threshold=0.0,
        verbose_feature_names_out=False).set_output(transform="pandas")
    xr = raw.fit_transform(x)[num + cat]
    for c in cat:
        xr[c] = xr[c].astype(str)
    sets = {
        "smote": SMOTE(random_state=seed).fit_resample(sp.Xtr, sp.y_tr),
        "ros": RandomOverSampler(random_state=seed).fit_resample(sp.Xtr, sp.y_tr),
    }
    if cat:
        xs, ys = SMOTENC(categorical_features=list(range(len(num), len(num) + len(cat))),
                         random_state=seed).fit_resample(xr, sp.y_tr)
        new = xs.iloc[len(xr):].copy()
        # back to the raw scale so the protocol's preprocessing (fitted on real rows) applies
        scaler = raw.named_transformers_["num"].named_steps["std"]
        new[num] = scaler.inverse_transform(new[num].to_numpy(float))
        for c in cat:
            new[c] = new[c].astype(object)
            if x[c].dropna().map(type).eq(bool).all():
                new[c] = new[c].map({"True": True, "False": False})
        sets["smotenc"] = (np.vstack([sp.Xtr, sp.pre.transform(new[list(x.columns)])]),
                           np.concatenate([sp.y_tr, ys[len(xr):]]))
    for name, (xa, ya) in sets.items():
        for kind in U.CLASSIFIERS:
            s = f1(sp, U.classifier(kind).fit(xa, ya).predict(sp.Xte))
            table.setdefault((name, kind), []).append(s)
            print(f"{ds} s{seed} {name:8s} {kind} {s:.3f}", flush=True)
for (name, kind), v in table.items():
    print(f"{ds} mean {name:8s} {kind} {np.mean(v):.3f} (sd {np.std(v, ddof=1) if len(v) > 1 else 0:.3f}) "
          + " ".join(f"{s:.3f}" for s in v))
