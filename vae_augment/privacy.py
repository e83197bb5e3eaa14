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

from vae_augment.tablerows import _rng, _subsample, _take

__all__ = ["feature_matrix", "distance_to_closest", "filter_near_copies", "NearCopyIndex",
           "EXACT_TOLERANCE", "FEATURE_MAX_CATEGORIES", "category_buckets", "wide_categories"]

# float32 encoding noise: rows closer than this are treated as exact copies
EXACT_TOLERANCE = 1e-5


#: the most one-hot features a categorical column brings to the evaluation's classifiers
#: (C2ST, the utility classifiers): a column with more categories (one a model was fitted on
#: with a raised ``max_categories``) keeps a feature for each of its
#: ``FEATURE_MAX_CATEGORIES - 1`` most frequent categories and one shared by the rest, as
#: scikit-learn's ``OneHotEncoder(max_categories=...)`` buckets infrequent categories. The
#: default ``max_categories`` of a fit, so a table of ordinary columns is not bucketed; a
#: 5,000-value column one-hot made the classifiers' 5,000 features take minutes.
#: (Distances, `distance_to_closest`, keep every category: they use sparse features.)
FEATURE_MAX_CATEGORIES = 200


def wide_categories(encoding, max_categories: int = FEATURE_MAX_CATEGORIES) -> dict[str, int]:
    """{column: categories} of the categorical columns with more than `max_categories`
    values (the ones `category_buckets` buckets; null, when a column has it, is one of its
    categories)."""
    return {s.name: int(s.n_categories) for s in encoding.categorical
            if _is_wide(s, max_categories)}


def _is_wide(spec, max_categories: int) -> bool:
    """More values than `max_categories`, null not counted: a column a default fit models
    (200 values, and nulls) is never bucketed."""
    return len(spec.vocab or []) > max_categories


def category_buckets(encoding, tables, max_categories: int = FEATURE_MAX_CATEGORIES
                     ) -> dict[str, np.ndarray]:
    """For each categorical column with more than `max_categories` categories, the map
    category code -> one-hot feature: the ``max_categories - 1`` categories most frequent in
    `tables` (ties: the lower code) get a feature each, the others share the last. `{}`
    when no column is that wide. Pass it to `feature_matrix` (``buckets=``)."""
    wide = [(j, s) for j, s in enumerate(encoding.categorical) if _is_wide(s, max_categories)]
    if not wide:
        return {}
    counts = {s.name: np.zeros(s.n_categories, np.int64) for _, s in wide}
    for table in tables:
        if table.num_rows == 0:
            continue
        cat = encoding.encode(table, with_label=False)["cat"]
        for j, s in wide:
            counts[s.name] += np.bincount(cat[:, j], minlength=s.n_categories)
    out = {}
    for _, s in wide:
        order = np.argsort(-counts[s.name], kind="stable")
        m = np.full(s.n_categories, max_categories - 1, np.int64)
        m[order[: max_categories - 1]] = np.arange(max_categories - 1)
        out[s.name] = m
    return out


def feature_matrix(encoding, table: pa.Table | pa.RecordBatch, *, buckets=None,
                   sparse: bool = False):
    """Rows of `table` (label not needed) as float32 points in the comparison space.

    `buckets` (`category_buckets`) caps the one-hot width of the columns it names; `sparse`
    returns a `scipy.sparse` CSR matrix (the same values), for columns of many categories."""
    x = encoding.encode(table, with_label=False)
    n = len(x["num"])
    parts = [x["num"].astype(np.float32), x["nulls"].astype(np.float32)]
    onehots = []
    for j, s in enumerate(encoding.categorical):
        codes, width = x["cat"][:, j], s.n_categories
        if buckets and s.name in buckets:
            codes, width = buckets[s.name][codes], int(buckets[s.name].max()) + 1
        if sparse:
            onehots.append((codes, width))
            continue
        onehot = np.zeros((n, width), np.float32)
        onehot[np.arange(n), codes] = 1.0 / np.sqrt(2.0)
        parts.append(onehot)
    for i, _ in enumerate(encoding.tensors):
        t = x[f"tensor_{i}"].reshape(n, -1).astype(np.float32)
        parts.append(t / np.float32(np.sqrt(t.shape[1])))
    n_cols = max(1, len(encoding.numeric) + len(encoding.categorical) + len(encoding.tensors))
    # a float32 scale: a NumPy float64 one made the dense matrix float64 (twice the memory)
    # and its values other than the sparse path's by a rounding
    scale = np.float32(1.0 / np.sqrt(n_cols))
    if not sparse:
        return np.concatenate(parts, axis=1) * scale
    import scipy.sparse as sp

    blocks = [sp.csr_matrix(np.concatenate(parts[:2], axis=1) * scale)]
    for codes, width in onehots:
        value = np.full(n, np.float32(1.0 / np.sqrt(2.0)) * scale, np.float32)
        blocks.append(sp.csr_matrix((value, (np.arange(n), codes)), shape=(n, width)))
    blocks += [sp.csr_matrix(t * scale) for t in parts[2:]]
    return sp.hstack(blocks, format="csr", dtype=np.float32)


def _sparse_features(encoding) -> bool:
    """Distances use sparse features when a categorical column has more categories than
    `FEATURE_MAX_CATEGORIES`: the same distances, without a dense one-hot of thousands of
    columns (a dense 5,000-wide matrix made the nearest-neighbour search take minutes)."""
    return bool(wide_categories(encoding))


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
    sparse = _sparse_features(encoding)
    if not by_class:
        nn = NearestNeighbors(n_neighbors=1).fit(
            feature_matrix(encoding, reference, sparse=sparse))
        return nn.kneighbors(feature_matrix(encoding, query, sparse=sparse))[0][:, 0]
    ref_y = encoding.encode(reference)["y"]
    q_y = encoding.encode(query)["y"]
    ref_x = feature_matrix(encoding, reference, sparse=sparse)
    q_x = feature_matrix(encoding, query, sparse=sparse)
    for c in np.unique(q_y):
        ref_rows = ref_y == c
        if not ref_rows.any():
            continue
        nn = NearestNeighbors(n_neighbors=1).fit(ref_x[ref_rows])
        rows = q_y == c
        out[rows] = nn.kneighbors(q_x[rows])[0][:, 0]
    return out


class NearCopyIndex:
    """The real rows of one class, indexed once, to find synthetic rows of that class within
    `min_distance` of one (`iter_counts_private` checks every block against it; building the
    index per block re-encoded the whole class each time).

    Args:
        encoding: the model's encoding.
        reference: real rows of the class (other columns than the encoding's are ignored).
    """

    def __init__(self, encoding, reference: pa.Table):
        from sklearn.neighbors import NearestNeighbors

        self.encoding = encoding
        self.rows = reference.num_rows
        self._sparse = _sparse_features(encoding)
        self._nn = (NearestNeighbors(n_neighbors=1).fit(
            feature_matrix(encoding, reference, sparse=self._sparse)) if self.rows else None)

    def distances(self, query: pa.Table | pa.RecordBatch) -> np.ndarray:
        """For each row of `query`, the distance to its nearest indexed row (inf: none)."""
        if self._nn is None or query.num_rows == 0:
            return np.full(query.num_rows, np.inf)
        return self._nn.kneighbors(
            feature_matrix(self.encoding, query, sparse=self._sparse))[0][:, 0]

    def keep(self, query: pa.Table | pa.RecordBatch, min_distance: float) -> np.ndarray:
        """[n] bool: the rows of `query` farther than `min_distance` (at least
        `EXACT_TOLERANCE`) from every indexed row."""
        return self.distances(query) > max(min_distance, EXACT_TOLERANCE)


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


# ------------------------------------------------- the evaluation report's privacy section
def _summary(d: np.ndarray) -> dict[str, float | None]:
    d = d[np.isfinite(d)]
    if not len(d):
        return {"median": None, "p05": None, "mean": None, "n": 0}
    return {"median": float(np.median(d)), "p05": float(np.quantile(d, 0.05)),
            "mean": float(d.mean()), "n": int(len(d))}


def _closer_than_p05(ds: np.ndarray, dh: np.ndarray) -> float:
    """How many of the distances `ds` fall below the 5 % quantile of the holdout's `dh`,
    ties counted in part: distances equal to the quantile count the share of a tie that puts
    exactly 5 % of the holdout below it. On discrete data many holdout rows sit at distance
    0, the quantile is 0 and a plain "below" would count no row, copies included."""
    p05 = np.quantile(dh, 0.05)
    below, tied = float(np.mean(dh < p05)), float(np.mean(dh == p05))
    part = (0.05 - below) / tied if tied > 0 else 0.0
    return float(np.sum(ds < p05) + min(max(part, 0.0), 1.0) * np.sum(ds == p05))


def _seen_test(encoding, train, test, syn, y_syn, d_test, per_class, rng, max_rows):
    """Whether the generator has seen the real-test rows (or the holdout): the synthetic rows
    nearer a real-test row of their class than 95 % of real-train rows are. Real-train rows
    are as independent of real-test as the rows of a model that never saw it, so about 5 %
    of those are expected; a model trained on all of REAL (as `balance` does) draws rows
    around real-test rows as around real-train ones, and the share rises with its copying.
    Adds each class's share to `per_class`; returns (rows counted as nearer, rows counted)."""
    if d_test is None:  # a holdout: the distance to all of REAL did not need this search
        d_test = distance_to_closest(encoding, test, syn)
    y_train = encoding.encode(train)["y"]
    rows = np.flatnonzero(np.isin(y_train, np.unique(y_syn)))
    if len(rows) > max_rows:  # as `_subsample` draws, with the rows' classes kept
        rows = np.sort(rows[rng.choice(len(rows), max_rows, replace=False)])  # `_take`'s order
    ref, y_ref = _take(train, rows), y_train[rows]
    d_ref = distance_to_closest(encoding, test, ref)
    n, of = 0.0, 0
    for c in np.unique(y_syn):
        ds, dr = d_test[y_syn == c], d_ref[y_ref == c]
        ds, dr = ds[np.isfinite(ds)], dr[np.isfinite(dr)]
        if len(dr) >= 20 and len(ds):
            closer = _closer_than_p05(ds, dr)
            per_class[str(encoding.classes[c])]["share_closer_to_test_than_train_p05"] = \
                closer / len(ds)
            n += closer
            of += len(ds)
    return n, of


def _privacy(encoding, real, train, test, synthetic, seed, max_rows):
    """Distances to the closest real-train row of the same class, for synthetic rows and for
    real-test rows of the classes the synthetic rows have (so both sides have the same mix of
    classes to search); the exact-copy rate counts synthetic rows equal to any real row, of
    the rows whose class REAL has (the others are counted in ``exact_copy_left_out``), and
    says how many copy a real-test row.
    `real` is `train` (a holdout was given) or `train` and `test` together (a split of it):
    the distance to all of it is the nearer of the two searches, not a third one."""
    rng = _rng(seed, 4)
    syn = _subsample(synthetic, max_rows, rng)
    y_syn = encoding.encode(syn)["y"]
    y_test = encoding.encode(test)["y"]
    hold = _take(test, np.flatnonzero(np.isin(y_test, np.unique(y_syn))))
    hold = _subsample(hold, max_rows, rng)
    y_hold = encoding.encode(hold)["y"]
    d_syn = distance_to_closest(encoding, train, syn)
    d_hold = distance_to_closest(encoding, train, hold)
    if train is real or train.num_rows == real.num_rows:
        d_all, d_test = d_syn, None
    else:
        d_test = distance_to_closest(encoding, test, syn)
        d_all = np.minimum(d_syn, d_test)
    # the rates count the synthetic rows of classes REAL has: a row of another class has no
    # real row to copy (distance inf), and counting it would dilute the rate
    known = np.isfinite(d_syn)
    n_known = int(known.sum())
    copies = known & (d_all <= EXACT_TOLERANCE)
    test_copies = (known & (d_test <= EXACT_TOLERANCE)) if d_test is not None else \
        np.zeros(len(d_syn), bool)
    per_class, closer_n, closer_of = {}, 0, 0
    for c in np.unique(y_syn):
        ds, dh = d_syn[y_syn == c], d_hold[y_hold == c]
        entry = {"synthetic": _summary(ds), "holdout": _summary(dh),
                 "exact_copy_rate": float(np.mean(d_all[y_syn == c] <= EXACT_TOLERANCE))}
        if np.isfinite(dh).sum() >= 20 and np.isfinite(ds).any():
            ds = ds[np.isfinite(ds)]
            closer = _closer_than_p05(ds, dh[np.isfinite(dh)])
            entry["share_closer_than_holdout_p05"] = closer / len(ds)
            closer_n += closer
            closer_of += len(ds)
        per_class[str(encoding.classes[c])] = entry
    seen_n, seen_of = _seen_test(encoding, train, test, syn, y_syn, d_test, per_class, rng,
                                 max_rows)
    return {
        # synthetic rows equal to any real row (real-train or real-test: a model trained on
        # all of REAL, as `balance` does, has seen both), of the rows whose class REAL has
        "exact_copy_rate": float(copies.sum() / n_known) if n_known else None,
        "exact_copies": int(copies.sum()),
        # of those, the rows equal to a real-test row (some may equal a real-train row too)
        "test_exact_copies": int(test_copies.sum()),
        "test_exact_copy_rate": float(test_copies.sum() / n_known)
        if n_known and d_test is not None else None,
        "exact_copy_rows": n_known,
        # synthetic rows of classes REAL lacks, left out of the rates
        "exact_copy_left_out": int(len(d_syn) - n_known),
        # the data's own duplicate rate, the baseline: real-test rows equal to a real-train
        # row (discrete data repeats rows, and a fresh sample would too)
        "holdout_exact_copy_rate": float(np.mean(d_hold <= EXACT_TOLERANCE))
        if len(d_hold) else None,
        # like for like with the holdout's rate: copies of real-train rows only
        "train_exact_copy_rate": float(np.sum(known & (d_syn <= EXACT_TOLERANCE)) / n_known)
        if n_known else None,
        "dcr_synthetic": _summary(d_syn),
        "dcr_holdout": _summary(d_hold),
        # ~0.05 when synthetic rows are as far from real-train as unseen real rows are
        "share_closer_than_holdout_p05": closer_n / closer_of if closer_of else None,
        # ~0.05 when the generator has not seen real-test (or the holdout); near the figure
        # above when it has, e.g. trained on all of REAL: see `_seen_test`
        "share_closer_to_test_than_train_p05": seen_n / seen_of if seen_of else None,
        "per_class": per_class,
        "exact_tolerance": EXACT_TOLERANCE,
    }, d_syn, d_hold
