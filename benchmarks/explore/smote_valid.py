"""A SMOTE whose rows are valid rows of the input schema: is SMOTE's lead on credit's LR its
fractional one-hots (session 6's reading)? Two schema-keeping variants beside SMOTE and random
oversampling, LR only, split seeds 0..N-1, paired with SMOTE on the same split:

* ``smote_rounded``: SMOTE's own rows with each one-hot block made whole again, the category
  drawn with SMOTE's interpolation share as its probability (its numbers unchanged).
* ``smote_valid``: SMOTE built in the raw table. Neighbours are SMOTE's (the 5 nearest of the
  class in the protocol's preprocessed space); a row is a + u (b - a) for numbers (integer
  columns rounded; where a parent is null, the value, null or not, of the parent drawn with
  probability u for b), and each category (or null) is b's with probability u, else a's.

    ../../.venv/bin/python smote_valid.py credit [N]

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys

import numpy as np
import pandas as pd
from _common import U, f1, paired_table, split
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.neighbors import NearestNeighbors

ds = sys.argv[1] if len(sys.argv) > 1 else "credit"
nseeds = int(sys.argv[2]) if len(sys.argv) > 2 else 10


def lr_f1(sp, X, y) -> float:
    return f1(sp, U.classifier("LR").fit(X, y).predict(sp.Xte))


def rounded(sp, X, n_real, rng):
    """SMOTE's rows with every one-hot block drawn whole from its fractions."""
    ct = sp.pre
    start = len(ct.transformers_[0][2]) if ct.transformers_[0][0] == "num" else 0
    X = X.copy()
    S = X[n_real:]
    for cats in ct.named_transformers_["cat"].named_steps["oh"].categories_:
        g = slice(start, start + len(cats))
        start += len(cats)
        p = np.clip(S[:, g], 0, None)
        p = p / np.where(p.sum(1, keepdims=True) > 0, p.sum(1, keepdims=True), 1)
        k = (p.cumsum(1) < rng.random((len(p), 1))).sum(1).clip(0, p.shape[1] - 1)
        S[:, g] = np.eye(p.shape[1])[k]
    return X


def valid(sp, rng):
    """(X, y) of the real rows plus raw-table SMOTE rows, preprocessed."""
    x = sp.x_tr.reset_index(drop=True)
    num = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and x[c].dtype != bool]
    ints = {c for c in num if np.all(np.isclose(x[c].dropna() % 1, 0))}
    counts = dict(zip(*np.unique(sp.y_tr, return_counts=True)))
    top = max(counts.values())
    parts, ys = [], []
    for c, n in counts.items():
        need = top - n
        if need <= 0:
            continue
        idx = np.flatnonzero(sp.y_tr == c)
        nn = NearestNeighbors(n_neighbors=6).fit(sp.Xtr[idx]).kneighbors(
            sp.Xtr[idx], return_distance=False)[:, 1:]
        a = rng.integers(0, len(idx), need)
        b = nn[a, rng.integers(0, 5, need)]
        u = rng.random(need)
        pick_b = rng.random(need) < u
        A, B = x.iloc[idx[a]].reset_index(drop=True), x.iloc[idx[b]].reset_index(drop=True)
        S = A.copy()
        for col in x.columns:
            if col in num:
                va, vb = A[col].to_numpy(float), B[col].to_numpy(float)
                v = va + u * (vb - va)
                hole = np.isnan(va) | np.isnan(vb)
                v[hole] = np.where(pick_b, vb, va)[hole]
                S[col] = np.round(v) if col in ints else v
            else:
                S[col] = np.where(pick_b, B[col].to_numpy(object), A[col].to_numpy(object))
        parts.append(S)
        ys += [c] * need
    X = np.vstack([sp.Xtr, sp.pre.transform(pd.concat(parts, ignore_index=True))])
    return X, np.concatenate([sp.y_tr, np.array(ys, dtype=sp.y_tr.dtype)])


res: dict[str, list[float]] = {}
for seed in range(nseeds):
    sp = split(ds, seed)
    rng = np.random.default_rng(seed)
    Xs, ys = SMOTE(random_state=seed).fit_resample(sp.Xtr, sp.y_tr)
    res.setdefault("smote", []).append(lr_f1(sp, Xs, ys))
    res.setdefault("smote_rounded", []).append(lr_f1(sp, rounded(sp, Xs, len(sp.y_tr), rng), ys))
    res.setdefault("smote_valid", []).append(lr_f1(sp, *valid(sp, rng)))
    res.setdefault("ros", []).append(lr_f1(sp, *RandomOverSampler(random_state=seed)
                                           .fit_resample(sp.Xtr, sp.y_tr)))
paired_table(f"{ds}, LR", res, "smote")
