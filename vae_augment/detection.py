"""Detection: the classifier two-sample test (C2ST), alone and per class for the report.

`c2st_auc` is also importable from `vae_augment.evaluation` (and `vae_augment`); `_detection`
builds the ``detection`` section of `vae_augment.evaluation.evaluate`'s report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vae_augment.errors import VAEAugmentError
from vae_augment.tablerows import _rng, _single_thread, _subsample, _take

__all__ = ["c2st_auc"]


# ---------------------------------------------------------------------------- helpers
def _label_onehot(encoding, table: pa.Table) -> np.ndarray:
    if encoding.label not in table.column_names:
        return np.zeros((table.num_rows, 0), np.float32)
    y = encoding.encode(table)["y"]
    return np.eye(len(encoding.classes), dtype=np.float32)[y]


def _drop_null_labels(encoding, table: pa.Table) -> pa.Table:
    if encoding.label in table.column_names and table.column(encoding.label).null_count:
        return table.filter(pc.is_valid(table.column(encoding.label)))
    return table


# ---------------------------------------------------------------------------- detection
def c2st_auc(
    encoding, real: pa.Table, synthetic: pa.Table, *, seed: int = 0, max_rows: int = 5000
) -> float:
    """Classifier two-sample test: how well a classifier tells real rows from synthetic ones.

    When both tables carry the label column, rows are matched per class: each class present
    on both sides contributes the same number of real and synthetic rows (so the class mix
    cannot give the synthetic rows away) and the class is a one-hot feature (so a synthetic
    row that looks like another class is caught). At most `max_rows` rows per side are used.
    Features are `privacy.feature_matrix` (quantile-normal numerics, one-hot categories,
    scaled tensors; a column of more than `privacy.FEATURE_MAX_CATEGORIES` categories keeps a
    feature for each of its most frequent ones in the compared rows and one for the rest);
    a gradient-boosting classifier is scored with 5-fold stratified
    cross-validated ROC AUC. 0.5 means indistinguishable (ideal), 1.0 means every synthetic
    row is recognisable. Values well below 0.5 are a warning too: they appear when synthetic
    rows are copies of real rows (a copy in the training folds votes against its twin).

    Args:
        encoding: the `Encoding` defining the feature space (e.g. `artifact.encoding`).
        real: real rows.
        synthetic: synthetic rows with the same columns.
        seed: seed for the subsampling, the folds and the classifier.
        max_rows: at most this many rows from each side.

    Returns:
        The cross-validated ROC AUC (float in [0, 1]).

    Raises:
        VAEAugmentError: fewer than 5 comparable rows on a side.

    Example:
        >>> auc = c2st_auc(artifact.encoding, real_table, synthetic_table)  # doctest: +SKIP
        >>> auc < 0.75                                                          # doctest: +SKIP
        True
    """
    return _c2st(encoding, real, synthetic, seed=seed, max_rows=max_rows)[0]


def _c2st(encoding, real: pa.Table, synthetic: pa.Table, *, seed: int,
          max_rows: int) -> tuple[float, int]:
    """`c2st_auc`, and the rows a side it compared."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from vae_augment.privacy import category_buckets, feature_matrix

    if max_rows < 10:
        raise VAEAugmentError(f"`max_rows` must be at least 10, got {max_rows}")
    real = _drop_null_labels(encoding, real)
    synthetic = _drop_null_labels(encoding, synthetic)
    rng = _rng(seed, 1)
    use_label = encoding.label in real.column_names and encoding.label in synthetic.column_names
    if use_label:
        y_r, y_s = encoding.encode(real)["y"], encoding.encode(synthetic)["y"]
        per_class = {
            c: min(int((y_r == c).sum()), int((y_s == c).sum())) for c in np.unique(y_s)
        }
        total = sum(per_class.values())
        scale = min(1.0, max_rows / total) if total else 0.0
        idx_r, idx_s = [], []
        for c, m in per_class.items():
            k = int(np.floor(m * scale)) if scale < 1.0 else m
            if k == 0:
                continue
            idx_r.append(rng.choice(np.flatnonzero(y_r == c), k, replace=False))
            idx_s.append(rng.choice(np.flatnonzero(y_s == c), k, replace=False))
        if idx_r:
            real = _take(real, np.concatenate(idx_r))
            synthetic = _take(synthetic, np.concatenate(idx_s))
        else:
            real, synthetic = real.slice(0, 0), synthetic.slice(0, 0)
    else:
        n = min(real.num_rows, synthetic.num_rows, max_rows)
        real, synthetic = _subsample(real, n, rng), _subsample(synthetic, n, rng)
    n_r, n_s = real.num_rows, synthetic.num_rows
    if min(n_r, n_s) < 5:
        raise VAEAugmentError(
            f"C2ST needs at least 5 comparable rows on each side (same classes), got "
            f"real={n_r}, synthetic={n_s}"
        )
    # a column of more than FEATURE_MAX_CATEGORIES categories: its most frequent ones in
    # these rows (both sides) a feature each, the rest one (thousands of features took minutes)
    buckets = category_buckets(encoding, (real, synthetic))
    parts = []
    for t in (real, synthetic):
        x = feature_matrix(encoding, t, buckets=buckets)
        if use_label:
            x = np.concatenate([x, _label_onehot(encoding, t)], axis=1)
        parts.append(x)
    x = np.concatenate(parts, axis=0)
    target = np.r_[np.zeros(n_r, np.int8), np.ones(n_s, np.int8)]
    clf = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=15, early_stopping=False,
        min_samples_leaf=c2st_min_leaf(len(target)), random_state=seed,
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    with _single_thread():
        proba = cross_val_predict(clf, x, target, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(target, proba)), min(n_r, n_s)


def chance_band(rows: int) -> float:
    """How far from 0.5 a C2ST AUC of `rows` rows a side strays by chance: 3 standard
    deviations of the AUC of two samples from one distribution (Mann-Whitney's,
    sqrt((2n + 1) / (12 n^2))). 10 rows a side: 0.40, 40: 0.20, 1,000: 0.04. Two disjoint
    samples of hpc scored under 0.4 or over 0.75 in 12 of 20 draws of 10 rows a table and 7
    of 20 of 20 rows, which the fixed thresholds called copies or detectable
    (benchmarks/explore/c2st_chance.py)."""
    n = max(int(rows), 1)
    return float(3.0 * np.sqrt((2 * n + 1) / (12.0 * n * n)))


def c2st_min_leaf(n_rows: int) -> int:
    """The C2ST classifier's smallest leaf for `n_rows` rows in all: scikit-learn's 20, less
    on small samples, where 20 rows a leaf would leave the training folds (4/5 of the rows)
    too few to split at all, so the classifier would predict a constant and the AUC read
    about 0.5, "indistinguishable", however different the rows (21 rows a side: 0.46 for
    a column shifted by 10 sd)."""
    return int(max(2, min(20, (n_rows * 4 // 5) // 10)))


def _detection(encoding, real, synthetic, y_real, y_syn, seed, max_rows=5000):
    from vae_augment.privacy import FEATURE_MAX_CATEGORIES, wide_categories

    out: dict[str, Any] = {
        "c2st_auc": None, "classifier": "HistGradientBoostingClassifier, 5-fold CV ROC AUC",
        "max_rows": max_rows, "per_class": {},
    }
    wide = wide_categories(encoding)
    if wide:  # each such column's most frequent categories a feature, the rest one
        out["bucketed_columns"] = {name: {"categories": n, "features": FEATURE_MAX_CATEGORIES}
                                   for name, n in wide.items()}
    try:
        out["c2st_auc"], rows = _c2st(encoding, real, synthetic, seed=seed, max_rows=max_rows)
        # the rows a side behind the figure, and chance's spread at that many: the findings
        # call an AUC a problem only outside it
        out["rows_per_side"], out["chance_band"] = rows, round(chance_band(rows), 4)
    except VAEAugmentError as exc:
        out["skipped"] = str(exc)
    for ci, cls in enumerate(encoding.classes):
        r_idx, s_idx = np.flatnonzero(y_real == ci), np.flatnonzero(y_syn == ci)
        if min(len(r_idx), len(s_idx)) < 20:
            out["per_class"][str(cls)] = None
            continue
        out["per_class"][str(cls)] = c2st_auc(
            encoding, _take(real, r_idx), _take(synthetic, s_idx), seed=seed,
            max_rows=min(max_rows, 2000))
    return out
