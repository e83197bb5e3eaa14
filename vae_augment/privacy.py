"""Distances between synthetic and real rows in the model's encoded space.

Used for the privacy metrics of the evaluation report (distance to closest record, exact-copy
rate) and for the near-copy filter (`--privacy-min-distance`).

The space: numeric columns on their quantile-normal scale (null -> 0 plus a null indicator),
categories one-hot scaled by 1/sqrt(2) (two different categories are distance 1 apart), and
tensor columns scaled and divided by sqrt(elements) so a whole image weighs like one column.
Distances are Euclidean divided by sqrt(number of columns), so they do not grow with width.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["feature_matrix", "distance_to_closest", "filter_near_copies", "EXACT_TOLERANCE"]

# float32 encoding noise: rows closer than this are treated as exact copies
EXACT_TOLERANCE = 1e-5


def feature_matrix(encoding, table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Rows of `table` (label not needed) as float32 points in the comparison space."""
    x = encoding.encode(table, with_label=False)
    n = len(x["num"])
    parts = [x["num"].astype(np.float32), x["nulls"].astype(np.float32)]
    for j, s in enumerate(encoding.categorical):
        onehot = np.zeros((n, s.n_categories), np.float32)
        onehot[np.arange(n), x["cat"][:, j]] = 1.0 / np.sqrt(2.0)
        parts.append(onehot)
    for i, _ in enumerate(encoding.tensors):
        t = x[f"tensor_{i}"].reshape(n, -1).astype(np.float32)
        parts.append(t / np.sqrt(t.shape[1]))
    n_cols = max(1, len(encoding.numeric) + len(encoding.categorical) + len(encoding.tensors))
    return np.concatenate(parts, axis=1) / np.sqrt(n_cols)


def distance_to_closest(
    encoding, reference: pa.Table, query: pa.Table, *, by_class: bool = True
) -> np.ndarray:
    """For each row of `query`, the distance to its nearest row of `reference`.

    With `by_class`, only reference rows of the same class count (the label column must be
    present in both).
    """
    from sklearn.neighbors import NearestNeighbors

    out = np.full(query.num_rows, np.inf, np.float64)
    if query.num_rows == 0 or reference.num_rows == 0:
        return out
    if not by_class:
        nn = NearestNeighbors(n_neighbors=1).fit(feature_matrix(encoding, reference))
        return nn.kneighbors(feature_matrix(encoding, query))[0][:, 0]
    ref_y = encoding.encode(reference)["y"]
    q_y = encoding.encode(query)["y"]
    ref_x = feature_matrix(encoding, reference)
    q_x = feature_matrix(encoding, query)
    for c in np.unique(q_y):
        ref_rows = ref_y == c
        if not ref_rows.any():
            continue
        nn = NearestNeighbors(n_neighbors=1).fit(ref_x[ref_rows])
        rows = q_y == c
        out[rows] = nn.kneighbors(q_x[rows])[0][:, 0]
    return out


def filter_near_copies(
    encoding, reference: pa.Table, synthetic: pa.Table, min_distance: float
) -> tuple[pa.Table, int]:
    """Drops synthetic rows closer than `min_distance` to a real row of their class.

    Returns the kept rows and how many were dropped. `min_distance` 0 drops exact copies only (within `EXACT_TOLERANCE`).
    """
    if min_distance < 0:
        from vae_augment.errors import VAEAugmentError

        raise VAEAugmentError(f"`min_distance` must be >= 0, got {min_distance}")
    cols = [c for c in synthetic.column_names if c in reference.column_names]
    d = distance_to_closest(encoding, reference, synthetic.select(cols))
    keep = d > max(min_distance, EXACT_TOLERANCE)
    return synthetic.filter(pa.array(keep)), int((~keep).sum())
