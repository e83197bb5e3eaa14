"""Evaluation of synthetic rows against real rows: fidelity, detection, utility, privacy.

`c2st_auc` is the classifier two-sample test; `evaluate` (below) builds the whole report.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["c2st_auc"]


def _label_onehot(encoding, table: pa.Table) -> np.ndarray:
    if encoding.label not in table.column_names:
        return np.zeros((table.num_rows, 0), np.float32)
    y = encoding.encode(table)["y"]
    return np.eye(len(encoding.classes), dtype=np.float32)[y]


def _drop_null_labels(encoding, table: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    if encoding.label in table.column_names and table.column(encoding.label).null_count:
        return table.filter(pc.is_valid(table.column(encoding.label)))
    return table


def _subsample(table: pa.Table, n: int, rng: np.random.Generator) -> pa.Table:
    if table.num_rows <= n:
        return table
    return table.take(pa.array(np.sort(rng.choice(table.num_rows, n, replace=False))))


def c2st_auc(
    encoding, real: pa.Table, synthetic: pa.Table, *, seed: int = 0, max_rows: int = 5000
) -> float:
    """Classifier two-sample test: how well a classifier tells real rows from synthetic ones.

    Both tables are subsampled to the same number of rows (at most `max_rows` each), turned
    into `privacy.feature_matrix` features plus a one-hot of the class (so a synthetic row
    that looks like another class is caught), and a gradient-boosting classifier is scored
    with 5-fold stratified cross-validated ROC AUC. 0.5 means indistinguishable (ideal), 1.0
    means every synthetic row is recognisable.

    Args:
        encoding: the `Encoding` defining the feature space (e.g. `artifact.encoding`).
        real: real rows (label column optional; used when present in both tables).
        synthetic: synthetic rows with the same columns.
        seed: seed for the subsampling, the folds and the classifier.
        max_rows: at most this many rows from each side.

    Returns:
        The cross-validated ROC AUC (float in [0, 1]).

    Example:
        >>> auc = c2st_auc(artifact.encoding, real_table, synthetic_table)  # doctest: +SKIP
        >>> auc < 0.75                                                          # doctest: +SKIP
        True
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from vae_augment.errors import VAEAugmentError
    from vae_augment.privacy import feature_matrix

    if max_rows < 10:
        raise VAEAugmentError(f"`max_rows` must be at least 10, got {max_rows}")
    real = _drop_null_labels(encoding, real)
    synthetic = _drop_null_labels(encoding, synthetic)
    n = min(real.num_rows, synthetic.num_rows, max_rows)
    if n < 5:
        raise VAEAugmentError(
            f"C2ST needs at least 5 rows on each side, got real={real.num_rows}, "
            f"synthetic={synthetic.num_rows}"
        )
    rng = np.random.default_rng(seed)
    real = _subsample(real, n, rng)
    synthetic = _subsample(synthetic, n, rng)
    use_label = encoding.label in real.column_names and encoding.label in synthetic.column_names
    parts = []
    for t in (real, synthetic):
        x = feature_matrix(encoding, t)
        if use_label:
            x = np.concatenate([x, _label_onehot(encoding, t)], axis=1)
        parts.append(x)
    x = np.concatenate(parts, axis=0)
    target = np.r_[np.zeros(n, np.int8), np.ones(n, np.int8)]
    clf = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, max_leaf_nodes=15, early_stopping=False,
        random_state=seed,
    )
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    proba = cross_val_predict(clf, x, target, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(target, proba))
