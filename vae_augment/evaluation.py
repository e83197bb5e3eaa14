"""Evaluation of synthetic rows against real rows: fidelity, detection, utility, privacy, model.

`c2st_auc` is the classifier two-sample test on its own; `evaluate` builds the whole report
(`report.json` and a self-contained `report.html`, drawn by `vae_augment.report`).

How the real rows are used (the held-out split):
    Unless a separate `holdout` table is given, REAL is split once, stratified by class, into
    real-train (1 - `test_size`) and real-test (`test_size`, default 30%) with
    `sklearn.model_selection.train_test_split(random_state=seed)`; classes with a single row
    stay in real-train. Downstream classifiers train on real-train (plus oversampled rows) and
    are scored on real-test; privacy compares synthetic rows and real-test rows by their
    distance to real-train; model diagnostics are computed on real-test. When the generator
    was trained on all of REAL (as `vae-augment balance` does), real-test rows were seen by
    it, so utility and diagnostics are optimistic: pass `holdout` (rows the model never saw)
    for a clean estimate.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vae_augment.detection import _detection, c2st_auc
from vae_augment.errors import InputError, SchemaError, VAEAugmentError
from vae_augment.fidelity import _fidelity

__all__ = ["c2st_auc", "evaluate", "save_json", "REPORT_VERSION"]

REPORT_VERSION = 1
# A latent dimension whose mean KL to the prior is below this carries (almost) no information.
# Seen on churn: collapsed dimensions sat at 0.01-0.04 nats (a posterior scale slightly off the
# prior's), used ones at 1-3 nats; 0.01 counted every collapsed dimension as active.
KL_ACTIVE_NATS = 0.1


# ---------------------------------------------------------------------------- helpers
def _rng(seed: int, *salt: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *salt])


def _single_thread():
    """One OpenMP/BLAS thread: on a busy machine scikit-learn's histogram gradient boosting
    ran ~25x slower with 2 threads than with 1 (61 s vs 2.3 s for one C2ST here, same AUC)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _take(table: pa.Table, idx: np.ndarray) -> pa.Table:
    return table.take(pa.array(np.sort(np.asarray(idx, np.int64))))


def _subsample(table: pa.Table, n: int, rng: np.random.Generator) -> pa.Table:
    if table.num_rows <= n:
        return table
    return _take(table, rng.choice(table.num_rows, n, replace=False))


# ---------------------------------------------------------------------------- inputs
def _as_table(data, what: str) -> pa.Table:
    from vae_augment.io import read_table, resolve_inputs

    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data
    try:
        return read_table(resolve_inputs(data))
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from exc


def _without_flag(table: pa.Table, keep_synthetic: bool) -> pa.Table:
    """Drops the `is_synthetic` column, keeping the synthetic (or the real) rows."""
    from vae_augment.io import SYNTHETIC_COLUMN

    if SYNTHETIC_COLUMN not in table.column_names:
        return table
    flag = table.column(SYNTHETIC_COLUMN).fill_null(False)
    keep = flag if keep_synthetic else pc.invert(flag)
    return table.filter(keep).drop_columns([SYNTHETIC_COLUMN])


def _check_schemas(real: pa.Table, other: pa.Table, what: str) -> pa.Table:
    """`other` with real's column order and schema; SchemaError on any difference."""
    missing = [c for c in real.column_names if c not in other.column_names]
    extra = [c for c in other.column_names if c not in real.column_names]
    if missing or extra:
        raise SchemaError(
            f"{what} columns do not match REAL: missing {missing}, unexpected {extra}"
        )
    other = other.select(real.column_names)
    for f in real.schema:
        g = other.schema.field(f.name)
        if not f.type.equals(g.type):
            raise SchemaError(
                f"column '{f.name}' is {f.type} in REAL but {g.type} in {what}"
            )
    return pa.Table.from_arrays(other.columns, schema=real.schema)


def _load_model(model):
    if model is None:
        return None
    from vae_augment.artifact import Artifact, load_artifact

    return model if isinstance(model, Artifact) else load_artifact(os.fspath(model))


def _split(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test row indices; classes with one row stay in train."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    counts = np.bincount(y) if len(y) else np.zeros(0, int)
    single = np.isin(y, np.flatnonzero(counts == 1))
    tr, te = train_test_split(
        idx[~single], test_size=test_size, random_state=seed, stratify=y[~single]
    )
    return np.sort(np.r_[tr, idx[single]]), np.sort(te)


# ---------------------------------------------------------------------------- utility
def _classifiers(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "logistic_regression": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000)),
        "gradient_boosting": lambda: HistGradientBoostingClassifier(random_state=seed),
    }


def _scores(clf, x_test, y_test, classes_idx, minority: int) -> dict[str, Any]:
    from sklearn.metrics import (
        average_precision_score,
        balanced_accuracy_score,
        f1_score,
    )

    pred = clf.predict(x_test)
    proba = clf.predict_proba(x_test)
    col = list(clf.classes_).index(minority)
    f1s = f1_score(y_test, pred, labels=classes_idx, average=None, zero_division=0)
    return {
        "balanced_accuracy": float(balanced_accuracy_score(y_test, pred)),
        "macro_f1": float(f1_score(y_test, pred, labels=classes_idx, average="macro",
                                   zero_division=0)),
        "minority_f1": float(f1s[classes_idx.index(minority)]),
        "minority_average_precision": float(
            average_precision_score(y_test == minority, proba[:, col]))
        if (y_test == minority).any() else None,
        "f1_per_class": [float(v) for v in f1s],
    }


def _utility(encoding, train, test, synthetic, y_syn, seed, max_rows):
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    from vae_augment.balancing import samples_to_generate
    from vae_augment.privacy import feature_matrix

    rng = _rng(seed, 3)
    y_tr = encoding.encode(train)["y"]
    if len(y_tr) > max_rows:
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(y_tr)), train_size=max_rows,
                                   random_state=seed, stratify=y_tr)
        train, y_tr = _take(train, keep), y_tr[np.sort(keep)]
    y_te = encoding.encode(test)["y"]
    x_tr, x_te = feature_matrix(encoding, train), feature_matrix(encoding, test)
    present = sorted(int(c) for c in np.unique(y_tr))
    out: dict[str, Any] = {"train_rows": int(len(y_tr)), "test_rows": int(len(y_te))}
    if len(present) < 2 or len(y_te) == 0:
        out["skipped"] = "needs at least two classes in real-train and a non-empty real-test"
        return out
    counts = {c: int((y_tr == c).sum()) for c in present}
    minority = min(present, key=lambda c: (counts[c], c))
    new = samples_to_generate(counts, "auto")
    # vae-augment: real-train plus up to `new[c]` synthetic rows of each class
    take, shortfall = [], {}
    for c, n in new.items():
        rows = np.flatnonzero(y_syn == c)
        if n and len(rows):
            take.append(rng.choice(rows, min(n, len(rows)), replace=False))
        if n > len(rows):
            shortfall[str(encoding.classes[c])] = int(n - len(rows))
    syn_idx = np.sort(np.concatenate(take)) if take else np.zeros(0, np.int64)
    x_syn = feature_matrix(encoding, _take(synthetic, syn_idx)) if len(syn_idx) else x_tr[:0]
    sets = {
        "none": (x_tr, y_tr),
        "random_oversampling": RandomOverSampler(random_state=seed).fit_resample(x_tr, y_tr),
    }
    k = min(5, min(counts[c] for c in new if new[c] > 0) - 1) if any(new.values()) else 5
    if k >= 1:
        sets["smote"] = SMOTE(k_neighbors=k, random_state=seed).fit_resample(x_tr, y_tr)
    else:
        out["smote_skipped"] = "a class to oversample has a single row"
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
    for name, make in _classifiers(seed).items():
        out["results"][name] = {}
        for method, (x, y) in sets.items():
            with _single_thread():
                clf = make().fit(x, y)
                out["results"][name][method] = _scores(clf, x_te, y_te, present, minority)
    return out


# ---------------------------------------------------------------------------- privacy
def _summary(d: np.ndarray) -> dict[str, float | None]:
    d = d[np.isfinite(d)]
    if not len(d):
        return {"median": None, "p05": None, "mean": None, "n": 0}
    return {"median": float(np.median(d)), "p05": float(np.quantile(d, 0.05)),
            "mean": float(d.mean()), "n": int(len(d))}


def _privacy(encoding, real, train, test, synthetic, seed, max_rows):
    """Distances to the closest real-train row of the same class, for synthetic rows and for
    real-test rows of the classes the synthetic rows have (so both sides have the same mix of
    classes to search); the exact-copy rate counts synthetic rows equal to any real row."""
    from vae_augment.privacy import EXACT_TOLERANCE, distance_to_closest

    rng = _rng(seed, 4)
    syn = _subsample(synthetic, max_rows, rng)
    y_syn = encoding.encode(syn)["y"]
    y_test = encoding.encode(test)["y"]
    hold = _take(test, np.flatnonzero(np.isin(y_test, np.unique(y_syn))))
    hold = _subsample(hold, max_rows, rng)
    y_hold = encoding.encode(hold)["y"]
    d_syn = distance_to_closest(encoding, train, syn)
    d_hold = distance_to_closest(encoding, train, hold)
    d_all = distance_to_closest(encoding, real, syn)
    per_class, closer_n, closer_of = {}, 0, 0
    for c in np.unique(y_syn):
        ds, dh = d_syn[y_syn == c], d_hold[y_hold == c]
        entry = {"synthetic": _summary(ds), "holdout": _summary(dh),
                 "exact_copy_rate": float(np.mean(d_all[y_syn == c] <= EXACT_TOLERANCE))}
        if np.isfinite(dh).sum() >= 20 and np.isfinite(ds).any():
            p05 = np.quantile(dh[np.isfinite(dh)], 0.05)
            ds = ds[np.isfinite(ds)]
            entry["share_closer_than_holdout_p05"] = float(np.mean(ds < p05))
            closer_n += int(np.sum(ds < p05))
            closer_of += len(ds)
        per_class[str(encoding.classes[c])] = entry
    return {
        "exact_copy_rate": float(np.mean(d_all <= EXACT_TOLERANCE)) if len(d_all) else None,
        "holdout_exact_copy_rate": float(np.mean(d_hold <= EXACT_TOLERANCE))
        if len(d_hold) else None,
        "dcr_synthetic": _summary(d_syn),
        "dcr_holdout": _summary(d_hold),
        # ~0.05 when synthetic rows are as far from real-train as unseen real rows are
        "share_closer_than_holdout_p05": closer_n / closer_of if closer_of else None,
        "per_class": per_class,
        "exact_tolerance": EXACT_TOLERANCE,
    }, d_syn, d_hold


# ---------------------------------------------------------------------------- model
def _batched(fn, x: Mapping[str, np.ndarray], batch: int = 512) -> np.ndarray:
    n = len(x["y"])
    parts = [np.asarray(fn({k: v[i:i + batch] for k, v in x.items()}))
             for i in range(0, n, batch)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _diagnostics(art, test, seed, iw_samples, max_rows=2000):
    from vae_augment import distributions as D

    model, enc = art.model, art.encoding
    held = _subsample(test, max_rows, _rng(seed, 5))
    x = enc.encode(held)
    if len(x["y"]) == 0:
        return {"skipped": "no held-out rows"}
    neg_elbo_mean = _batched(lambda b: model.neg_elbo(b).numpy(), x)
    # the ELBO proper: E_q[log p(x|z,y)] - KL, estimated with one z ~ q per row (= IWAE, k=1)
    elbo = _batched(lambda b: model.iw_bound(b, 1, np.array([seed, 8], np.int32)).numpy(), x)
    iw = _batched(lambda b: model.iw_bound(b, iw_samples, np.array([seed, 7], np.int32)).numpy(), x)

    def kl_and_mu(b):
        mu, raw = model.encode_params(b)
        p_mu, p_raw = model.prior_params(b["y"])
        kl = D.kl_gaussian(D.gaussian(mu, raw), D.gaussian(p_mu, p_raw)).numpy()
        return np.concatenate([kl, mu.numpy()], axis=1)

    both = _batched(kl_and_mu, x)
    d = model.latent_dim
    kl, mu = both[:, :d], both[:, d:]
    # activity (Burda et al. 2016) measured within class, since the prior mean moves per class
    within = np.zeros(d)
    for c in np.unique(x["y"]):
        m = mu[x["y"] == c]
        within += len(m) * m.var(axis=0)
    within /= len(mu)
    kl_dim = kl.mean(axis=0)
    metrics = art.config.get("metrics", {}) if isinstance(art.config, dict) else {}
    return {
        "rows": int(len(x["y"])),
        "elbo": float(elbo.mean()),
        "iw_bound": float(iw.mean()),
        # the anomaly score of `vae-augment score`: -ELBO with z at the posterior mean
        "neg_elbo_at_posterior_mean": float(neg_elbo_mean.mean()),
        "iw_samples": int(iw_samples),
        "latent_dim": int(d),
        "kl_per_dim": [float(v) for v in kl_dim],
        "kl_total": float(kl_dim.sum()),
        "posterior_mean_variance": [float(v) for v in within],
        "active_units": int((within > 0.01).sum()),
        "active_units_kl": int((kl_dim > KL_ACTIVE_NATS).sum()),
        "kl_active_threshold": KL_ACTIVE_NATS,
        "training": {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))},
        "guide": _guide_diagnostics(model, enc, x, seed),
    }


def _guide_diagnostics(model, enc, x, seed, draws: int = 2048):
    """How the class guide (guided setting) judges real-test rows, plain draws and the rows
    `generate` returns, per class: shares at or over the class's floor. None without a guide.
    """
    import tensorflow as tf

    if not getattr(model, "guide_iterations", 0):
        return None
    floors = model.guide_floor.numpy()
    y_real = np.asarray(x["y"])
    real_p = _batched(lambda b: model.guide_proba(b, b["y"]).numpy(), x)
    classes = []
    for c, name in enumerate(enc.classes):
        ys = tf.fill([draws], c)
        seed_c = tf.constant([seed, 1000 + c], tf.int32)
        first = model.guide_proba(model._draw(ys, seed_c), ys).numpy()
        final = model.guide_proba(model.generate(ys, seed_c), ys).numpy()
        real_c = real_p[y_real == c]
        classes.append({
            "class": name,
            "floor": float(floors[c]),
            "real_test_rows": int(len(real_c)),
            "real_test_pass": float(np.mean(real_c >= floors[c])) if len(real_c) else None,
            "first_draw_pass": float(np.mean(first >= floors[c])),
            "generated_pass": float(np.mean(final >= floors[c])),
        })
    return {"iterations": int(model.guide_iterations), "quantile": float(model.guide_quantile),
            "candidates": int(model.candidates), "draws_per_class": int(draws),
            "classes": classes}


def _latents(art, real, synthetic, seed, max_rows=2000):
    from sklearn.decomposition import PCA

    from vae_augment.scoring import encode_latent

    rng = _rng(seed, 6)
    r, s = _subsample(real, max_rows, rng), _subsample(synthetic, max_rows, rng)
    z_r, z_s = encode_latent(art, r), encode_latent(art, s)
    y_r, y_s = art.encoding.encode(r)["y"], art.encoding.encode(s)["y"]
    dims = min(2, z_r.shape[1], len(z_r))
    pca = PCA(n_components=dims, random_state=seed).fit(z_r)
    p_r, p_s = pca.transform(z_r), pca.transform(z_s)
    if dims < 2:
        p_r = np.c_[p_r, np.zeros(len(p_r))]
        p_s = np.c_[p_s, np.zeros(len(p_s))]
    info = {"projection": "PCA fitted on real latents (posterior means)",
            "explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_]}
    return info, (p_r, y_r, p_s, y_s)


# ---------------------------------------------------------------------------- evaluate
def _evaluation_encoding(real, synthetic, extra, label, art, exclude):
    from vae_augment.training import fit_encoding

    skipped: dict[str, str] = {}
    excl = list(exclude)
    for c in exclude:
        skipped[c] = "excluded by the caller"
    categorical, numeric = [], []
    if art is not None:
        for s in art.encoding.specs:
            if s.name not in real.column_names:
                continue
            if s.kind == "excluded" and s.name not in excl:
                excl.append(s.name)
                skipped[s.name] = "not modelled by the model (excluded)"
            is_int = pa.types.is_integer(real.schema.field(s.name).type)
            if is_int and s.kind == "categorical":
                categorical.append(s.name)
            elif is_int and s.kind == "numeric":
                numeric.append(s.name)
    for name in real.column_names:
        if name == label or name in excl:
            continue
        if synthetic.num_rows and synthetic.column(name).null_count == synthetic.num_rows \
                and real.column(name).null_count < real.num_rows:
            excl.append(name)
            skipped[name] = "always null in SYNTHETIC (not generated)"
    both = pa.concat_tables([real, synthetic, *extra])
    enc = fit_encoding(both, label, exclude=excl, categorical=categorical, numeric=numeric)
    for s in enc.specs:
        if s.kind == "null" and s.name not in skipped:
            skipped[s.name] = "always null"
    return enc, skipped


def evaluate(
    real,
    synthetic,
    *,
    label: str,
    model=None,
    report_dir: str | os.PathLike | None = None,
    seed: int = 0,
    holdout=None,
    test_size: float = 0.3,
    max_rows: int = 20000,
    iw_samples: int = 32,
    exclude: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """Evaluates synthetic rows against real rows; optionally writes report.json and report.html.

    Sections of the result (all JSON-serialisable):

    * ``fidelity``: per class, per column marginal agreement (KS complement for numerics, the
      mean per-element KS complement for tensors, total-variation complement for categories;
      1 is ideal), null-rate gaps,
      and the mean absolute difference of pairwise associations (Pearson on quantile-normal
      values, Cramér's V, correlation ratio) within each class.
    * ``detection``: `c2st_auc` overall and per class (0.5 is ideal).
    * ``utility``: logistic regression (on standardised features) and gradient boosting
      (scikit-learn defaults) trained on `privacy.feature_matrix` features of real-train alone, with
      random oversampling, with SMOTE, and with the synthetic rows (vae_augment), scored on
      real-test: balanced accuracy, macro F1, minority-class F1 and average precision.
    * ``privacy``: distance to the closest real-train row of the same class for synthetic
      rows vs real-test rows, and the exact-copy rate against every real row.
    * ``model`` (with `model`): ELBO and importance-weighted bound on real-test, KL per latent
      dimension and the number of active units (posterior collapse); with a class guide
      (guided setting), ``guide``: per class, its floor and the shares of real-test rows,
      plain draws and generated rows at or over it; ``latent``: a PCA of the latent means by
      class.

    See the module docstring for how real-train and real-test are made.

    Args:
        real: real rows: a `pyarrow.Table` or Parquet path(s). Rows flagged
            ``is_synthetic = true`` are dropped (a `balance` output can be passed).
        synthetic: synthetic rows with REAL's columns; with an ``is_synthetic`` column only
            the flagged rows are used.
        label: the class column.
        model: an `Artifact` or a model directory (enables the model diagnostics and latents).
        report_dir: when given, ``report.json`` and ``report.html`` are written there.
        seed: seed of the split, subsamples and classifiers.
        holdout: real rows never seen by the generator, used as real-test instead of a split.
        test_size: share of REAL held out when `holdout` is not given.
        max_rows: cap on rows per class (fidelity), real-train rows (utility) and query rows
            (privacy); larger inputs are subsampled with `seed`.
        iw_samples: importance samples for the IW bound.
        exclude: columns to leave out of every metric.

    Returns:
        The report as a dict (the content of report.json).

    Raises:
        SchemaError: the label column is missing, or REAL and SYNTHETIC differ in columns or
            types.

    Example:
        >>> from vae_augment.evaluation import evaluate
        >>> report = evaluate("real.parquet", "synthetic.parquet", label="churn",
        ...                   model="runs/churn", report_dir="out/report")  # doctest: +SKIP
        >>> report["detection"]["c2st_auc"]                                  # doctest: +SKIP
        0.61
    """
    start = time.perf_counter()
    if not 0.0 < test_size < 1.0:
        raise VAEAugmentError(f"`test_size` must be in (0, 1), got {test_size!r}")
    if max_rows < 100:
        raise VAEAugmentError(f"`max_rows` must be at least 100, got {max_rows!r}")
    if report_dir is not None and os.path.exists(report_dir) and not os.path.isdir(report_dir):
        raise InputError(f"`report_dir` '{report_dir}' exists and is not a directory")
    real = _without_flag(_as_table(real, "REAL"), keep_synthetic=False)
    synthetic = _without_flag(_as_table(synthetic, "SYNTHETIC"), keep_synthetic=True)
    for what, t in (("REAL", real), ("SYNTHETIC", synthetic)):
        if label not in t.column_names:
            raise SchemaError(f"`label` column '{label}' not found in {what}. "
                              f"Columns: {t.column_names}")
    synthetic = _check_schemas(real, synthetic, "SYNTHETIC")
    real = real.filter(pc.is_valid(real.column(label)))
    synthetic = synthetic.filter(pc.is_valid(synthetic.column(label)))
    if holdout is not None:
        holdout = _without_flag(_as_table(holdout, "HOLDOUT"), keep_synthetic=False)
        if label not in holdout.column_names:
            raise SchemaError(f"`label` column '{label}' not found in HOLDOUT")
        holdout = _check_schemas(real, holdout, "HOLDOUT")
        holdout = holdout.filter(pc.is_valid(holdout.column(label)))
    if real.num_rows < 10 or synthetic.num_rows == 0:
        raise InputError(f"need at least 10 REAL rows and 1 SYNTHETIC row, got "
                         f"{real.num_rows} and {synthetic.num_rows}")
    art = _load_model(model)
    if art is not None and art.label != label:
        raise SchemaError(f"model was trained with label '{art.label}', not '{label}'")
    unknown_excl = [c for c in exclude if c not in real.column_names]
    if unknown_excl:
        raise SchemaError(f"`exclude` names unknown columns {unknown_excl}. "
                          f"Columns: {real.column_names}")

    enc, skipped = _evaluation_encoding(
        real, synthetic, [holdout] if holdout is not None else [], label, art, exclude)
    y_real, y_syn = enc.encode(real)["y"], enc.encode(synthetic)["y"]
    if holdout is None:
        tr, te = _split(y_real, test_size, seed)
        train, test = _take(real, tr), _take(real, te)
        split = {"method": f"stratified split of REAL: {1 - test_size:.0%} real-train, "
                           f"{test_size:.0%} real-test (seed {seed})",
                 "holdout_given": False}
    else:
        train, test = real, holdout
        split = {"method": "REAL is real-train; the given HOLDOUT is real-test",
                 "holdout_given": True}
    split.update(real_train=train.num_rows, real_test=test.num_rows)

    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "label": label,
        "classes": [str(c) for c in enc.classes],
        "seed": seed,
        "model": art.path if art is not None else None,
        "rows": {"real": real.num_rows, "synthetic": synthetic.num_rows},
        "counts": {
            "real": {str(c): int((y_real == i).sum()) for i, c in enumerate(enc.classes)},
            "synthetic": {str(c): int((y_syn == i).sum()) for i, c in enumerate(enc.classes)},
        },
        "columns": {s.name: s.kind for s in enc.specs},
        "skipped_columns": skipped,
        "split": split,
    }
    plots: dict[str, Any] = {"real": real, "synthetic": synthetic, "y_real": y_real,
                             "y_syn": y_syn, "encoding": enc}
    timings: dict[str, float] = {}
    tick = time.perf_counter()

    def lap(name):
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 2)
        tick = now

    report["fidelity"], plots["association"] = _fidelity(
        enc, real, synthetic, y_real, y_syn, max_rows, seed)
    lap("fidelity")
    report["detection"] = _detection(enc, real, synthetic, y_real, y_syn, seed)
    lap("detection")
    report["utility"] = _utility(enc, train, test, synthetic, y_syn, seed, max_rows)
    lap("utility")
    report["privacy"], plots["dcr_synthetic"], plots["dcr_holdout"] = _privacy(
        enc, real, train, test, synthetic, seed, max_rows)
    lap("privacy")
    report["diagnostics"], report["latent"] = None, None
    if art is not None:
        try:
            report["diagnostics"] = _diagnostics(art, test, seed, iw_samples)
            report["latent"], plots["latent"] = _latents(art, real, synthetic, seed)
        except SchemaError as exc:
            report["diagnostics"] = {"skipped": f"the model cannot encode these rows: {exc}"}
        lap("model")
    report["timings"] = timings
    report["seconds"] = round(time.perf_counter() - start, 2)
    if report_dir is not None:
        from vae_augment.report import write_report

        report["files"] = write_report(report_dir, report, plots)
        timings["report"] = round(time.perf_counter() - tick, 2)
    return report


def save_json(report: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Writes a report dict as indented JSON (NaN/inf become null)."""

    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            return clean(v.item())
        return v

    with open(path, "w", encoding="utf-8") as f:
        json.dump(clean(report), f, indent=2, allow_nan=False)
