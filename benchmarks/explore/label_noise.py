"""Mislabelled rows by the model's class posterior p(y | x) (session 34 exploration):

    cd benchmarks/explore && ../../.venv/bin/python label_noise.py DATASET [SEEDS]

A ../shared table is split 70/30 (stratified, the utility protocol's split); FLIP of the
*training* rows get another class (uniformly among the others) and a model with the library
defaults is fitted on them, as a user fits on data with label noise; then every training row
is scored. Prints the ROC AUC at finding the flipped rows of:
- the conditional score -log p(x | y) (the anomaly score, `anomaly_scores`),
- the label score -log p(y | x) = -log p(x | y) - log p(y) + log sum_c p(c) p(x | c)
  (`anomaly_scores(kind="label")`),
- a discriminative baseline: -log p(y | x) from 5-fold out-of-fold gradient boosting
  predicted probabilities (what cleanlab-style tools use), on one-hot features.
"""
import sys

import _common  # noqa: F401
import numpy as np
import pyarrow.parquet as pq
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

import vae_augment as va

DATASET = sys.argv[1]
SEEDS = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "0").split(",")]
FLIP = 0.05
LABELS = {"churn": "churn", "credit": "Status", "hpc": "class"}
label = LABELS[DATASET]
table = pq.read_table(f"../../../shared/data/{DATASET}.parquet")
for seed in SEEDS:
    rng = np.random.default_rng(seed)
    t, flipped, y, noisy = _common.flip_labels(table, label, FLIP, rng)
    n = t.num_rows
    art = va.fit(t, label=label, seed=seed, verbose=0)
    cond = va.anomaly_scores(art, t).astype(np.float64)
    label_score = va.anomaly_scores(art, t, kind="label").astype(np.float64)
    # discriminative baseline on the same noisy rows
    import pandas as pd

    frame = t.drop([label]).to_pandas()
    X = pd.get_dummies(frame, dummy_na=True).astype(float).fillna(-1).to_numpy()
    proba = cross_val_predict(HistGradientBoostingClassifier(random_state=seed), X, noisy,
                              cv=5, method="predict_proba")
    order = sorted(set(noisy))
    pos = {c: i for i, c in enumerate(order)}
    hgb = -np.log(np.clip(proba[np.arange(n), [pos[v] for v in noisy]], 1e-12, 1))
    print(f"{DATASET} seed {seed} ({flipped.sum()} of {n} flipped): "
          f"conditional {roc_auc_score(flipped, cond):.3f}  "
          f"label -log p(y|x) {roc_auc_score(flipped, label_score):.3f}  "
          f"HGB out-of-fold {roc_auc_score(flipped, hgb):.3f}", flush=True)
