"""Utility: downstream classifiers (logistic regression, gradient boosting) trained on
real-train alone, with the synthetic rows added, and with random oversampling and SMOTE
beside them, all scored on real-test; builds the ``utility`` section of
`vae_augment.evaluation.evaluate`'s report.

The classifiers' feature space (`FEATURES`):

* ``standard`` (the default): the protocol of the public baselines (`../shared/BASELINES.md`)
  and of most scikit-learn pipelines: numbers (integer and float columns, and each element
  of a tensor column) median-imputed and standardised, other columns (strings, dictionaries,
  booleans) most-frequent-imputed and one-hot, fitted on real-train (a column of more than
  `privacy.FEATURE_MAX_CATEGORIES` values keeps a feature for each of its most frequent ones
  and one for the rest: `OneHotEncoder(max_categories=...)`); SMOTE interpolates
  there, `LogisticRegression(max_iter=3000)`.
* ``encoding``: the model's encoding of the columns (numbers mapped to normal quantiles, null
  indicators, one-hot categories; `privacy.feature_matrix`), standardised for logistic
  regression. A linear model is stronger there on skewed numbers, and the methods can rank
  differently (session 30, benchmarks/results/quality.md).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from vae_augment.schema import as_numbers, numeric_storage
from vae_augment.tablerows import _rng, _single_thread, _take

__all__: list[str] = []

#: the utility classifiers' feature spaces (see the module docstring)
FEATURES = ("standard", "encoding")


def _classifiers(seed: int, features: str = "standard"):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if features == "standard":  # already standardised, as in the baselines' protocol
        def logistic():
            return LogisticRegression(max_iter=3000)
    else:
        def logistic():
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return {
        "logistic_regression": logistic,
        "gradient_boosting": lambda: HistGradientBoostingClassifier(random_state=seed),
    }


def _is_number(typ) -> bool:
    """Numbers, and the types modelled as numbers (times, dates, decimals)."""
    return (pa.types.is_integer(typ) or pa.types.is_floating(typ)
            or numeric_storage(typ) is not None)


class StandardFeatures:
    """The ``standard`` feature space: fitted on real-train rows, applied to any rows.

    Numbers (integer and float columns, and every element of a tensor column) are
    median-imputed and standardised; every other column (strings, dictionaries, booleans) is
    most-frequent-imputed and one-hot, a value real-train lacks all zeros. The same
    transformers as `sklearn.compose.ColumnTransformer` in the baselines' protocol, numbers
    first, each part in schema order.

    Args:
        encoding: the fitted `Encoding`; its columns (not the label, nor excluded ones) are
            the features.
    """

    def __init__(self, encoding):
        kinds = ("numeric", "categorical", "tensor")
        self.columns = [s.name for s in encoding.specs if s.kind in kinds]
        self._num: Any = None
        self._cat: Any = None
        # the number / other features with a value in some real-train row (the rest, all
        # null there, have nothing to impute from and are left out, as the imputers do)
        self._num_kept: np.ndarray | None = None
        self._cat_kept: np.ndarray | None = None
        self._num_div: np.ndarray | None = None
        self._is_number: dict[str, bool] = {}  # by column: a number part (else one-hot)

    @property
    def n_features_in(self) -> int:
        """Features with a value in some real-train row (after `fit`)."""
        return int(sum(k.sum() for k in (self._num_kept, self._cat_kept) if k is not None))

    def _parts(self, table) -> tuple[np.ndarray, np.ndarray]:
        n = table.num_rows
        nums, cats = [], []
        self._is_number = {}
        for name in self.columns:
            col = table.column(name).combine_chunks()
            if isinstance(col, pa.ExtensionArray):
                col = col.storage
            self._is_number[name] = pa.types.is_fixed_size_list(col.type) or _is_number(
                col.type)
            if pa.types.is_fixed_size_list(col.type):
                size = col.type.list_size
                flat = col.flatten() if not col.null_count else col.fill_null(
                    pa.scalar([None] * size, col.type)).flatten()
                # unsafe: an integer past 2**53 rounds to the nearest float, as numpy does
                values = flat.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
                values = values.reshape(n, size).copy()
                if col.null_count:
                    values[np.asarray(col.is_null())] = np.nan
                nums.append(values)
            elif _is_number(col.type):
                nums.append(as_numbers(col).cast(pa.float64(), safe=False).to_numpy(
                    zero_copy_only=False)[:, None])
            else:
                if pa.types.is_dictionary(col.type):
                    col = col.dictionary_decode()
                values = np.asarray(col.to_pylist(), dtype=object)
                values[np.asarray(col.is_null())] = np.nan
                cats.append(values[:, None])
        num = np.concatenate(nums, axis=1) if nums else np.zeros((n, 0))
        cat = np.concatenate(cats, axis=1) if cats else np.zeros((n, 0), object)
        return num, cat

    def fit(self, table) -> StandardFeatures:
        self._fit(*self._parts(table))
        return self

    def fit_transform(self, table) -> np.ndarray:
        """`fit`, then `transform` of the same rows, reading them once."""
        num, cat = self._parts(table)
        self._fit(num, cat)
        return self._transform(num, cat)

    def _fit(self, num: np.ndarray, cat: np.ndarray) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        self._num_kept = ~np.isnan(num).all(axis=0)
        self._cat_kept = ~(cat != cat).all(axis=0)  # NaN != NaN: the missing entries
        if self._num_kept.any():
            kept = num[:, self._num_kept]
            # standardising is scale-free, but the scaler's variance of values near 1e300
            # overflows to inf (NaN features): such a column is divided by its largest
            # value first; ordinary columns are left exactly as the baselines scale them
            with np.errstate(all="ignore"):
                peak = np.nanmax(np.abs(kept), axis=0) if len(kept) else np.ones(0)
            self._num_div = np.where(peak > 1e150, peak, 1.0)
            self._num = make_pipeline(SimpleImputer(strategy="median"),
                                      StandardScaler()).fit(kept / self._num_div)
        if self._cat_kept.any():
            from vae_augment.privacy import FEATURE_MAX_CATEGORIES

            # a column of more than FEATURE_MAX_CATEGORIES values keeps a feature for each of
            # its most frequent ones in real-train and one for the rest (and for a value
            # real-train lacks); an ordinary column is one-hot as with handle_unknown="ignore"
            self._cat = make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="infrequent_if_exist", sparse_output=False,
                              max_categories=FEATURE_MAX_CATEGORIES),
            ).fit(cat[:, self._cat_kept])

    def bucketed(self) -> dict[str, int]:
        """{column: its values in real-train} of the columns whose infrequent values share
        one feature (more than `privacy.FEATURE_MAX_CATEGORIES` values; after `fit`)."""
        if self._cat is None:
            return {}
        onehot = self._cat[-1]
        names = [n for n, kept in zip(self._cat_names(), self._cat_kept) if kept]
        return {name: len(values) for name, values, rare in zip(
            names, onehot.categories_, onehot.infrequent_categories_) if rare is not None}

    def _cat_names(self) -> list[str]:
        """The names of the columns `_parts` puts in its second (one-hot) part, in order."""
        return [name for name, is_num in self._is_number.items() if not is_num]

    def transform(self, table) -> np.ndarray:
        return self._transform(*self._parts(table))

    def _transform(self, num: np.ndarray, cat: np.ndarray) -> np.ndarray:
        parts = [np.zeros((len(num), 0))]
        if self._num is not None:
            parts.append(self._num.transform(num[:, self._num_kept] / self._num_div))
        if self._cat is not None:
            parts.append(self._cat.transform(cat[:, self._cat_kept]))
        return np.concatenate(parts, axis=1)


def _column_codes(col) -> np.ndarray:
    """[n] int64: equal values (nulls with nulls, -0.0 with 0.0) get equal codes."""
    if pa.types.is_dictionary(col.type):  # the chunks' dictionaries may differ
        col = col.cast(col.type.value_type)
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if isinstance(col, pa.ExtensionArray):
        col = col.storage
    if pa.types.is_fixed_size_list(col.type):  # a tensor: each row's bytes, null rows alike
        size = col.type.list_size
        flat = col.fill_null(pa.scalar([None] * size, col.type)).flatten() if col.null_count \
            else col.flatten()
        values = flat.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        values = np.ascontiguousarray(values.reshape(len(col), size) + 0.0)  # -0.0 -> 0.0
        values[np.isnan(values)] = np.nan  # one NaN bit pattern
        null = np.asarray(col.is_null(), np.float64)[:, None]
        rows = np.ascontiguousarray(np.concatenate([values, null], axis=1))
        keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
        return np.unique(keys, return_inverse=True)[1].astype(np.int64)
    if _is_number(col.type):
        values = as_numbers(col).cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        codes = np.unique(np.nan_to_num(values, nan=0.0), return_inverse=True)[1]
        return np.where(np.isnan(values), -1, codes).astype(np.int64)
    import pyarrow.compute as pc

    return pc.dictionary_encode(col, null_encoding="encode").indices.to_numpy(
        zero_copy_only=False).astype(np.int64)


def _copies_of(rows, synthetic, columns, label) -> np.ndarray:
    """[synthetic rows] bool: the synthetic rows equal to one of `rows` in every column of
    `columns` and the label (nulls equal to nulls). Each column's values become codes over
    both tables at once, and a row's codes one key: a sort, no row-by-row comparison."""
    if rows.num_rows == 0 or synthetic.num_rows == 0:
        return np.zeros(synthetic.num_rows, bool)
    both = pa.concat_tables([rows.select([*columns, label]),
                             synthetic.select([*columns, label])])
    codes = np.ascontiguousarray(np.stack([_column_codes(both.column(c))
                                           for c in [*columns, label]], axis=1))
    keys = codes.view(np.dtype((np.void, codes.dtype.itemsize * codes.shape[1]))).ravel()
    inverse = np.unique(keys, return_inverse=True)[1].ravel()
    return np.isin(inverse[rows.num_rows:], inverse[:rows.num_rows])


def _scores(clf, x_test, y_test, classes_idx, minority: int,
            reweight: np.ndarray | None = None, keep: dict | None = None) -> dict[str, Any]:
    """The classifier's figures on real-test. `reweight` (one factor per class of
    ``clf.classes_``: real-train's share over the training set's) adds the minority and macro
    F1 of the predictions at real-train's class shares (``*_at_real_prior``): the
    probabilities multiplied by it, the largest taken. Balancing moves a calibrated
    classifier's predictions toward the minority classes; at the real shares that move is
    undone, and what is left is the training rows' own effect. `keep`: a dict that gets the
    predictions (``pred``, and ``at_real_prior`` with `reweight`) for `_bootstrap_se`."""
    from sklearn.metrics import (
        average_precision_score,
        balanced_accuracy_score,
        f1_score,
    )

    pred = clf.predict(x_test)
    proba = clf.predict_proba(x_test)
    if keep is not None:
        keep["pred"] = pred
    col = list(clf.classes_).index(minority)
    f1s = f1_score(y_test, pred, labels=classes_idx, average=None, zero_division=0)
    # a class with no real-test row has no F1: left out of the macro mean, None per class
    tested = np.isin(classes_idx, y_test)
    with warnings.catch_warnings():  # predicted classes that real-test lacks: expected here
        warnings.simplefilter("ignore", UserWarning)
        balanced = float(balanced_accuracy_score(y_test, pred))
    at_prior = {}
    if reweight is not None:
        adjusted = np.asarray(clf.classes_)[np.argmax(proba * reweight, axis=1)]
        if keep is not None:
            keep["at_real_prior"] = adjusted
        f1r = f1_score(y_test, adjusted, labels=classes_idx, average=None, zero_division=0)
        at_prior = {
            "macro_f1_at_real_prior": float(np.mean(f1r[tested])) if tested.any() else None,
            "minority_f1_at_real_prior": float(f1r[classes_idx.index(minority)])
            if (y_test == minority).any() else None,
            "f1_per_class_at_real_prior": [float(v) if t else None
                                           for v, t in zip(f1r, tested)],
        }
    return {**at_prior,
        "balanced_accuracy": balanced,
        "macro_f1": float(np.mean(f1s[tested])) if tested.any() else None,
        "minority_f1": float(f1s[classes_idx.index(minority)])
        if (y_test == minority).any() else None,
        "minority_average_precision": float(
            average_precision_score(y_test == minority, proba[:, col]))
        if (y_test == minority).any() else None,
        "f1_per_class": [float(v) if t else None for v, t in zip(f1s, tested)],
    }


#: resamples of real-test behind a single split's standard errors (`_bootstrap_se`)
BOOTSTRAP_RESAMPLES = 200
#: above this many distinct (class, predictions) rows of real-test no resampling is done
#: (memory: resamples x rows; so many rows leave a figure little noise from the test rows,
#: and the findings fall back on their margin alone)
BOOTSTRAP_MAX_CELLS = 20_000
#: the gaps the findings weigh (`findings._gap`): (the method, the one it is compared with)
BOOTSTRAP_PAIRS = (("vae_augment", "none"), ("vae_augment", "smote"),
                   ("vae_augment", "random_oversampling"), ("random_oversampling", "none"))


def _bootstrap_se(y_test, preds, classes_idx, minority: int, seed: int):
    """The standard errors of the gaps between methods' F1 figures that come from which rows
    real-test holds: real-test resampled with replacement `BOOTSTRAP_RESAMPLES` times, every
    method's predictions scored on the same resample (a paired bootstrap), and the standard
    deviation of each gap over the resamples. A single split's findings weigh a gap against
    it: on a small real-test (a table of a few hundred rows leaves a handful of minority
    rows) an F1 moves by several hundredths with the rows alone.

    `preds`: {method: {"pred": ..., "at_real_prior": ...}} as `_scores` keeps them. Returns
    {"ours-ref": {metric: se}} for `BOOTSTRAP_PAIRS` (minority and macro F1, plain and at
    real-train's class shares; per class a list, None for a class real-test lacks), or None
    past `BOOTSTRAP_MAX_CELLS`.

    Example:
        >>> y = np.array([0] * 8 + [1] * 4)
        >>> preds = {m: {"pred": p} for m, p in (("vae_augment", y), ("none", np.r_[y[:-1], 0]))}
        >>> se = _bootstrap_se(y, preds, [0, 1], 1, seed=0)["vae_augment-none"]
        >>> 0.02 < se["minority_f1"] < 0.2 and se["macro_f1_at_real_prior"] is None
        True
    """
    resampled = _bootstrap(y_test, preds, classes_idx, minority, seed)
    return None if resampled is None else _gap_se(resampled)


def _bootstrap(y_test, preds, classes_idx, minority: int, seed: int):
    """Every method's figures on `BOOTSTRAP_RESAMPLES` resamples of real-test, the same
    resamples for all (see `_bootstrap_se`): ({(method, metric): array over resamples, or
    per class (resamples, classes)}, which classes real-test holds), or None when real-test
    is empty or has more than `BOOTSTRAP_MAX_CELLS` distinct (class, predictions) rows."""
    from scipy import sparse

    y_test = np.asarray(y_test)
    n = len(y_test)
    if n == 0:
        return None
    labels = np.asarray(classes_idx, np.int64)  # sorted
    k = len(labels)

    def positions(values):  # a class the classifiers never saw: k (no F1 of its own)
        values = np.asarray(values, np.int64)
        at = np.minimum(np.searchsorted(labels, values), k - 1)
        return np.where(labels[at] == values, at, k)

    tested = np.isin(labels, y_test)
    m = int(positions([minority])[0])
    # a resample needs only how many rows of each (class, every method's predictions) it
    # holds: the distinct such rows, drawn as a multinomial, are the resampled rows
    kinds = [(method, kind) for method, kept in preds.items()
             for kind in ("pred", "at_real_prior") if kept.get(kind) is not None]
    joint = np.stack([positions(y_test)] + [positions(preds[a][b]) for a, b in kinds], axis=1)
    rows, weight = np.unique(joint, axis=0, return_counts=True)
    if len(rows) > BOOTSTRAP_MAX_CELLS:
        return None
    draws = _rng(seed, 11).multinomial(n, weight / n, size=BOOTSTRAP_RESAMPLES).astype(float)

    def confusion(col):  # (resamples, classes + 1, classes + 1) of column `col` of `rows`
        cells = sparse.csr_matrix((np.ones(len(rows)), (
            rows[:, 0] * (k + 1) + rows[:, col], np.arange(len(rows)))),
            shape=((k + 1) ** 2, len(rows)))
        return np.asarray(cells @ draws.T).T.reshape(-1, k + 1, k + 1)

    figures = {}
    for col, (method, kind) in enumerate(kinds, start=1):
        cm = confusion(col)
        tp = cm[:, np.arange(k), np.arange(k)]
        denom = cm.sum(axis=2)[:, :k] + cm.sum(axis=1)[:, :k]
        f = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        suffix = "_at_real_prior" if kind == "at_real_prior" else ""
        figures[method, "minority_f1" + suffix] = f[:, m] if tested[m] else None
        figures[method, "macro_f1" + suffix] = f[:, tested].mean(axis=1) if tested.any() else None
        figures[method, "f1_per_class" + suffix] = f
        if not suffix and tested.any():  # the mean recall of the classes a resample holds
            held = cm.sum(axis=2)[:, :k]
            recall = np.where(held > 0, tp / np.maximum(held, 1), np.nan)
            figures[method, "balanced_accuracy"] = np.nanmean(recall[:, tested], axis=1)
    return figures, tested


def _gap_se(resampled):
    """{"ours-ref": {metric: se}} for `BOOTSTRAP_PAIRS` from `_bootstrap`'s resamples."""
    figures, tested = resampled

    def se(ours, ref, metric):  # a scalar, or per class a list (None for an untested class)
        a, b = figures.get((ours, metric)), figures.get((ref, metric))
        if a is None or b is None:
            return None
        sd = np.std(a - b, axis=0, ddof=1)
        if metric.startswith("f1_per_class"):
            return [round(float(v), 6) if t else None for v, t in zip(sd, tested)]
        return round(float(sd), 6)

    methods = {method for method, _ in figures}
    return {f"{ours}-{ref}": {metric: se(ours, ref, metric) for metric in (
                "minority_f1", "macro_f1", "minority_f1_at_real_prior",
                "macro_f1_at_real_prior", "f1_per_class", "f1_per_class_at_real_prior")}
            for ours, ref in BOOTSTRAP_PAIRS if ours in methods and ref in methods}


#: the figures `_figure_se` gives a standard error (average precision needs the scores,
#: which the resamples do not keep)
FIGURE_SE_METRICS = ("minority_f1", "macro_f1", "balanced_accuracy", "f1_per_class")


def _figure_se(resampled):
    """{method: {metric: se}}: each method's own figures' standard errors over `_bootstrap`'s
    resamples of real-test (`FIGURE_SE_METRICS`; per class a list, None for a class
    real-test lacks): a single split's error bars in the report's utility plots."""
    figures, tested = resampled
    out: dict[str, dict] = {}
    for (method, metric), values in figures.items():
        if metric not in FIGURE_SE_METRICS:
            continue
        if values is None:
            got = None
        elif metric == "f1_per_class":
            got = [round(float(v), 6) if t else None
                   for v, t in zip(np.std(values, axis=0, ddof=1), tested)]
        else:
            got = round(float(np.std(values, ddof=1)), 6)
        out.setdefault(method, {})[metric] = got
    return out


def _utility(encoding, train, test, synthetic, y_syn, seed, max_rows, minority=None,
             features="standard"):
    """One split's utility section. `minority`: the class (its index in `encoding.classes`)
    to score as the minority when real-train and real-test both have rows of it (later
    splits take the first split's). `features`: one of `FEATURES`."""
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    from vae_augment.balancing import samples_to_generate
    from vae_augment.privacy import FEATURE_MAX_CATEGORIES, category_buckets, feature_matrix

    rng = _rng(seed, 3)
    y_tr = encoding.encode(train)["y"]
    before = len(y_tr)
    if len(y_tr) > max_rows:
        from sklearn.model_selection import train_test_split

        # a stratified subsample; a class with a single row keeps it (stratifying needs 2)
        idx = np.arange(len(y_tr))
        single = np.isin(y_tr, np.flatnonzero(np.bincount(y_tr) == 1))
        keep, _ = train_test_split(idx[~single], train_size=max_rows - int(single.sum()),
                                   random_state=seed, stratify=y_tr[~single])
        keep = np.sort(np.r_[keep, idx[single]])
        train, y_tr = _take(train, keep), y_tr[keep]
    y_te = encoding.encode(test)["y"]
    present = sorted(int(c) for c in np.unique(y_tr))
    out: dict[str, Any] = {"features": features,
                           "train_rows": int(len(y_tr)), "test_rows": int(len(y_te)),
                           "real_train_rows": int(before), "max_rows": int(max_rows),
                           "test_counts": {str(c): int((y_te == i).sum())
                                           for i, c in enumerate(encoding.classes)}}
    if len(present) < 2 or len(y_te) == 0:
        out["skipped"] = "needs at least two classes in real-train and a non-empty real-test"
        return out
    if features == "standard":
        standard = StandardFeatures(encoding)
        x_tr = standard.fit_transform(train)
        if not standard.n_features_in:
            out["skipped"] = "no feature column has a value in any real-train row"
            return out
        featurize = standard.transform
        bucketed = standard.bucketed()
    else:
        # a column of more than FEATURE_MAX_CATEGORIES categories: a feature for each of its
        # most frequent ones in real-train, one for the rest
        buckets = category_buckets(encoding, (train,))
        bucketed = {name: len(m) for name, m in buckets.items()}

        def featurize(rows):
            return feature_matrix(encoding, rows, buckets=buckets)
        x_tr = featurize(train)
    x_te = featurize(test)
    if bucketed:  # each such column's most frequent values in real-train a feature, the rest one
        out["bucketed_columns"] = {name: {"categories": n, "features": FEATURE_MAX_CATEGORIES}
                                   for name, n in bucketed.items()}
    counts = {c: int((y_tr == c).sum()) for c in present}
    # the minority: the rarest real-train class that real-test has rows of to score (with
    # fewer than two such classes, the rarest of real-train, whose F1 is then None)
    tested = [c for c in present if (y_te == c).any()]
    if minority is None or minority not in tested:
        minority = min(tested if len(tested) >= 2 else present, key=lambda c: (counts[c], c))
    new = samples_to_generate(counts, "auto")
    # a synthetic row equal to a real-test row (a model trained on all of REAL has seen
    # real-test) would hand the classifier the answer it is scored on: left out
    copies = _copies_of(test, synthetic, StandardFeatures(encoding).columns, encoding.label)
    out["test_copies_dropped"] = int(copies.sum())
    # vae-augment: real-train plus up to `new[c]` synthetic rows of each class
    take, shortfall = [], {}
    for c, n in new.items():
        rows = np.flatnonzero((y_syn == c) & ~copies)
        if n and len(rows):
            take.append(rng.choice(rows, min(n, len(rows)), replace=False))
        if n > len(rows):
            shortfall[str(encoding.classes[c])] = int(n - len(rows))
    syn_idx = np.sort(np.concatenate(take)) if take else np.zeros(0, np.int64)
    x_syn = featurize(_take(synthetic, syn_idx)) if len(syn_idx) else x_tr[:0]
    sets = {
        "none": (x_tr, y_tr),
        "random_oversampling": RandomOverSampler(random_state=seed).fit_resample(x_tr, y_tr),
    }
    # SMOTE interpolates between a row and its neighbours of the same class: a class with a
    # single row cannot be oversampled, and is left as it is (named in the report)
    grow = {c: counts[c] + n for c, n in new.items() if n > 0 and counts[c] > 1}
    alone = [str(encoding.classes[c]) for c, n in new.items() if n > 0 and counts[c] == 1]
    if grow or not any(new.values()):
        k = min(5, min(counts[c] for c in grow) - 1) if grow else 5
        strategy = grow if grow else "auto"
        sets["smote"] = SMOTE(k_neighbors=k, random_state=seed,
                              sampling_strategy=strategy).fit_resample(x_tr, y_tr)
    if alone:
        out["smote_skipped"] = (f"SMOTE cannot oversample a class with a single real-train "
                                f"row: {', '.join(alone)} left as {'they are' if len(alone) > 1 else 'it is'}"
                                + ("" if "smote" in sets else "; no class left to oversample"))
    sets["vae_augment"] = (np.concatenate([x_tr, x_syn]), np.r_[y_tr, y_syn[syn_idx]])
    out.update({
        "minority_class": str(encoding.classes[minority]),
        # rows the 'auto' target needed beyond the synthetic rows available, per class
        "synthetic_shortfall": shortfall,
        "classes": [str(encoding.classes[c]) for c in present],
        "train_counts": {m: {str(encoding.classes[c]): int((y == c).sum()) for c in present}
                         for m, (_, y) in sets.items()},
        "results": {},
    })
    from sklearn.exceptions import ConvergenceWarning

    for name, make in _classifiers(seed, features).items():
        out["results"][name] = {}
        preds: dict[str, dict] = {}
        for method, (x, y) in sets.items():
            clf = make()
            if name == "gradient_boosting" and np.unique(y, return_counts=True)[1].min() < 2:
                # its early stopping ("auto": on past 10,000 rows) holds out a stratified
                # share, which a class of one row (SMOTE leaves it so) cannot give
                clf.set_params(early_stopping=False)
            with _single_thread():
                with warnings.catch_warnings(record=True) as caught:
                    # sklearn's ConvergenceWarning (lbfgs at max_iter) was printed raw, with
                    # advice (raise max_iter) that no flag takes: the section notes it
                    warnings.simplefilter("always", ConvergenceWarning)
                    clf = clf.fit(x, y)
                for w in caught:
                    if not issubclass(w.category, ConvergenceWarning):  # others go on
                        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                    elif f"{name} ({method})" not in out.get("not_converged", []):
                        out.setdefault("not_converged", []).append(f"{name} ({method})")
                shares = np.array([np.mean(y == c) for c in clf.classes_])
                real = np.array([np.mean(y_tr == c) for c in clf.classes_])
                out["results"][name][method] = _scores(clf, x_te, y_te, present, minority,
                                                       real / shares,
                                                       keep=preds.setdefault(method, {}))
        resampled = _bootstrap(y_te, preds, present, minority, seed)
        if resampled is not None:  # one split's noise from real-test's rows
            out.setdefault("bootstrap_se", {})[name] = _gap_se(resampled)  # findings._gap
            out.setdefault("figure_se", {})[name] = _figure_se(resampled)  # the plots' bars
    return out


#: the scalar figures of a classifier's scores that are averaged over splits
_METRICS = ("balanced_accuracy", "macro_f1", "minority_f1", "minority_average_precision",
            "macro_f1_at_real_prior", "minority_f1_at_real_prior")
#: the per-class figures (lists, one per class) averaged over splits class by class
_PER_CLASS = ("f1_per_class", "f1_per_class_at_real_prior")


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def _utility_over_splits(encoding, splits, synthetic, y_syn, seeds, max_rows,
                         features="standard"):
    """The utility section over several (real-train, real-test) splits: each split's figures
    as `_utility` gives them, with the same minority class, then ``results`` the mean over
    the splits, ``sd`` their standard deviation and ``per_split`` each split's figures (the
    findings compare methods split by split). One split: `_utility`'s section with
    ``splits`` 1."""
    first = _utility(encoding, *splits[0], synthetic, y_syn, seeds[0], max_rows,
                     features=features)
    first["splits"] = 1
    if len(splits) == 1 or "results" not in first:
        if "test_copies_dropped" in first:  # one count per split, as with several
            first["test_copies_dropped"] = [first["test_copies_dropped"]]
        return first
    names = [str(c) for c in encoding.classes]
    minority = names.index(first["minority_class"])
    runs = [first["results"]]
    # each split's own bootstrap errors (the findings weigh the splits' spread instead)
    boot = [first.pop("bootstrap_se", None)]
    first.pop("figure_se", None)  # the plots' error bars are the splits' spread
    dropped = [first.get("test_copies_dropped", 0)]
    for (train, test), seed in zip(splits[1:], seeds[1:]):
        out = _utility(encoding, train, test, synthetic, y_syn, seed, max_rows, minority,
                       features)
        if "results" not in out:  # a class missing from this split: left out, and said
            first.setdefault("splits_skipped", []).append({"seed": seed,
                                                           "why": out.get("skipped")})
            continue
        runs.append(out["results"])
        boot.append(out.get("bootstrap_se"))
        dropped.append(out.get("test_copies_dropped", 0))
        for fit in out.get("not_converged", []):  # any split's
            if fit not in first.get("not_converged", []):
                first.setdefault("not_converged", []).append(fit)
    per_split = [{clf: {m: {**{k: r[clf][m].get(k) for k in _METRICS},
                            **{k: r[clf][m].get(k) for k in _PER_CLASS}} for m in r[clf]}
                  for clf in r} for r in runs]
    results, sd = {}, {}
    for clf, methods in first["results"].items():
        results[clf], sd[clf] = {}, {}
        for m in methods:
            got = [r[clf][m] for r in runs if m in r.get(clf, {})]
            results[clf][m] = {k: _mean([g.get(k) for g in got]) for k in _METRICS}
            for k in _PER_CLASS:
                per_class = [g[k] for g in got if g.get(k) is not None]
                if per_class:
                    results[clf][m][k] = [_mean(v) for v in zip(*per_class)]
            sd[clf][m] = {k: (float(np.std(v, ddof=1)) if len(v) > 1 else None)
                          for k in _METRICS
                          for v in [[g[k] for g in got if g.get(k) is not None]]}
    first.update(results=results, sd=sd, per_split=per_split, splits=len(runs),
                 per_split_bootstrap_se=boot,
                 test_copies_dropped=dropped,
                 split_seeds=[s for s in seeds
                              if s not in {x["seed"] for x in first.get("splits_skipped", [])}])
    return first
