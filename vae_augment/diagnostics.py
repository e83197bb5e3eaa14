"""Model diagnostics for the evaluation report: the ELBO and an importance-weighted bound on
real-test rows, KL per latent dimension and the active units (posterior collapse shows here),
the class guide's floors and pass rates, a 2-D projection of latent means by class, and the
real rows whose labels the model doubts. Builds the ``diagnostics``, ``latent`` and
``labels`` sections of `vae_augment.evaluation.evaluate`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from vae_augment.tablerows import _rng, _subsample

__all__ = ["KL_ACTIVE_NATS", "LABEL_DOUBT"]

# A latent dimension whose mean KL to the prior is below this carries (almost) no information.
# Seen on churn: collapsed dimensions sat at 0.01-0.04 nats (a posterior scale slightly off the
# prior's), used ones at 1-3 nats; 0.01 counted every collapsed dimension as active.
KL_ACTIVE_NATS = 0.1
#: a real row whose own class the model gives p(y | x) under this is counted as doubted. A
#: count, not an alarm: on clean churn 5.5 % of the churners are under it, with 5 % of the
#: labels flipped 6.0 %, so the level says little; the ranking is what finds flipped rows
#: (the rows of lowest p(y | x), benchmarks/results/label_doubt_s35.txt)
LABEL_DOUBT = 0.05


def _batched(fn, x: Mapping[str, np.ndarray], batch: int = 512) -> np.ndarray:
    n = len(x["y"])
    parts = [np.asarray(fn({k: v[i:i + batch] for k, v in x.items()}))
             for i in range(0, n, batch)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _diagnostics(art, test, seed, iw_samples, max_rows=2000, synthetic=None):
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
        "curves": _curves(art.config, metrics),
        "guide": _guide_diagnostics(model, enc, x, seed, synthetic, max_rows),
    }


def watched_loss(history) -> str:
    """Whose loss early stopping watched in a training `history`: ``"validation"``, or
    ``"training"`` when no validation rows were held out (no ``val_*`` series)."""
    return "validation" if any(k.startswith("val_") for k in history or {}) else "training"


def _curves(config, metrics):
    """The training history (`Artifact.history`) with what reading it needs: the kept epoch,
    the epoch cap, the KL warm-up and weight. None for an artifact without a history."""
    history = metrics.get("history")
    if not isinstance(history, dict) or not history:
        return None
    train = (config or {}).get("train_config") or {}
    return {"history": history, "best_epoch": metrics.get("best_epoch"),
            "epochs_run": metrics.get("epochs_run"), "epochs_cap": train.get("epochs"),
            "kl_warmup_epochs": train.get("kl_warmup_epochs"), "beta": train.get("beta", 1.0),
            "patience": train.get("patience")}


def _guide_diagnostics(model, enc, x, seed, synthetic=None, max_rows: int = 2000,
                       draws: int = 2048):
    """How the class guide (guided setting) judges real-test rows, plain draws, the rows
    `generate` returns and, when given, SYNTHETIC's rows `synthetic` (a table; at most
    `max_rows` of them, a seeded subsample), per class: shares at or over the class's floor.
    None without a guide.

    ``synthetic_like`` says which of the two ways of drawing SYNTHETIC's rows resemble:
    ``"plain"`` (`sample` without ``guided``: one draw a row, which the guide never checks)
    or ``"guided"`` (as balancing draws), by whose pass share (over SYNTHETIC's classes,
    weighted by its rows) is nearer SYNTHETIC's; None when the two are within
    `GUIDE_TELL_APART` of each other (the guide seldom redraws) or without SYNTHETIC rows.
    """
    import tensorflow as tf

    if not getattr(model, "guide_iterations", 0):
        return None
    floors = model.guide_floor.numpy()
    y_real = np.asarray(x["y"])
    real_p = _batched(lambda b: model.guide_proba(b, b["y"]).numpy(), x)
    syn_x = (enc.encode(_subsample(synthetic, max_rows, _rng(seed, 10)))
             if synthetic is not None and synthetic.num_rows else {"y": np.zeros(0, np.int64)})
    syn_y = np.asarray(syn_x["y"])
    syn_p = (_batched(lambda b: model.guide_proba(b, b["y"]).numpy(), syn_x)
             if len(syn_y) else np.zeros(0))
    classes = []
    for c, name in enumerate(enc.classes):
        ys = tf.fill([draws], c)
        seed_c = tf.constant([seed, 1000 + c], tf.int32)
        first = model.guide_proba(model.plain_draw(ys, seed_c), ys).numpy()
        final = model.guide_proba(model.generate(ys, seed_c), ys).numpy()
        real_c, syn_c = real_p[y_real == c], syn_p[syn_y == c]
        classes.append({
            "class": name,
            "floor": float(floors[c]),
            "real_test_rows": int(len(real_c)),
            "real_test_pass": float(np.mean(real_c >= floors[c])) if len(real_c) else None,
            "first_draw_pass": float(np.mean(first >= floors[c])),
            "generated_pass": float(np.mean(final >= floors[c])),
            "synthetic_rows": int(len(syn_c)),
            "synthetic_pass": float(np.mean(syn_c >= floors[c])) if len(syn_c) else None,
        })
    return {"iterations": int(model.guide_iterations), "quantile": float(model.guide_quantile),
            "candidates": int(model.candidates), "draws_per_class": int(draws),
            "classes": classes, **_synthetic_like(classes)}


#: plain draws and guided rows whose pass shares (SYNTHETIC's classes, weighted by its rows)
#: differ by less than this are not told apart (`_guide_diagnostics`' ``synthetic_like``)
GUIDE_TELL_APART = 0.05


def _synthetic_like(classes) -> dict[str, Any]:
    """SYNTHETIC's pass share beside plain draws' and guided rows', each weighted by
    SYNTHETIC's rows per class, and which of the two SYNTHETIC resembles (or None)."""
    w = np.array([c["synthetic_rows"] for c in classes], np.float64)
    if not w.sum():
        return {"synthetic_like": None}

    def pooled(key):
        return float(sum(wi * (c[key] or 0.0) for wi, c in zip(w, classes)) / w.sum())

    syn, plain, guided = (pooled(k) for k in ("synthetic_pass", "first_draw_pass",
                                              "generated_pass"))
    like = (None if guided - plain < GUIDE_TELL_APART else
            "plain" if abs(syn - plain) < abs(syn - guided) else "guided")
    return {"synthetic_like": like, "synthetic_pass": syn, "plain_pass": plain,
            "guided_pass": guided}


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


def _labels(art, real, seed, max_rows, examples: int = 10, positions=None):
    """The model as a classifier of the real rows (`class_posterior`): per class, the share
    whose most probable class is their label, the rows under `LABEL_DOUBT` and the classes
    they look like; and the `examples` rows of lowest p(label | x), the likeliest to be
    mislabelled, with their values and ``row``, their position in REAL: ``positions[i]``
    for row i of `real` (REAL as given, before the rows the report leaves out), else i.
    At most `max_rows` rows of each class are scored (a stratified subsample, `seed`); the
    overall agreement weights each class's by its rows in `real`."""
    import pyarrow as pa

    from vae_augment.scoring import _class_log_posterior, _valid_labels

    enc = art.encoding
    valid, y = _valid_labels(enc, real)
    rows = np.flatnonzero(valid)
    rng = _rng(seed, 9)
    keep = []
    for c in range(len(enc.classes)):
        idx = rows[y == c]
        keep.append(idx if len(idx) <= max_rows else rng.choice(idx, max_rows, replace=False))
    keep = np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
    if not len(keep):
        return {"skipped": "no real row with a label"}
    by_row = np.full(real.num_rows, -1, np.int64)
    by_row[rows] = y
    y_kept = by_row[keep]
    table = real.take(pa.array(keep, pa.int64()))
    # ranked by log p: p(label | x) underflows to 0 on rows far from their class (images),
    # which then came in row order, not least likely first
    log_p = _class_log_posterior(art, table)
    p = np.exp(log_p)
    log_p_label = log_p[np.arange(len(keep)), y_kept]
    p_label = np.exp(log_p_label)
    best = p.argmax(axis=1)
    classes = []
    for c, name in enumerate(enc.classes):
        mine = y_kept == c
        if not mine.any():
            continue
        doubted = mine & (p_label < LABEL_DOUBT)
        looks = np.bincount(best[doubted], minlength=len(enc.classes))
        classes.append({
            "class": str(name),
            "rows": int(mine.sum()),
            "agreement": float(np.mean(best[mine] == c)),
            "doubted": int(doubted.sum()),
            "doubted_share": float(doubted.sum() / mine.sum()),
            "looks_like": {str(enc.classes[k]): int(v) for k, v in enumerate(looks) if v},
        })
    full = {str(enc.classes[c]): int(n)
            for c, n in enumerate(np.bincount(y, minlength=len(enc.classes)))}
    order = np.argsort(log_p_label, kind="stable")[:examples]
    shown = [f.name for f in table.schema if f.name != enc.label]
    values = table.take(pa.array(order, pa.int64())).select(shown).to_pylist()
    return {
        "rows": int(len(keep)),
        "rows_with_label": int(valid.sum()),
        "doubt_threshold": LABEL_DOUBT,
        # each class weighted by its rows in REAL, not in the capped subsample
        "agreement": float(sum(c["agreement"] * full[c["class"]] for c in classes)
                           / sum(full[c["class"]] for c in classes)),
        "doubted": int((p_label < LABEL_DOUBT).sum()),
        "classes": classes,
        "examples": [{
            "row": int(keep[i] if positions is None else positions[keep[i]]),
            "label": str(enc.classes[y_kept[i]]),
            "p_label": float(p_label[i]),
            "log_p_label": float(log_p_label[i]),
            "model_class": str(enc.classes[best[i]]),
            "p_model_class": float(p[i, best[i]]),
            "values": {k: _short(v) for k, v in vals.items()},
        } for i, vals in zip(order, values)],
    }


def _short(v, width: int = 40):
    """A row's value as the report shows it: numbers and booleans as they are, a list (a
    tensor) by its length, text cut to `width` characters."""
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, (list, tuple)):
        return f"[{len(v)} values]"
    text = str(v)
    return text if len(text) <= width else text[:width - 1] + "…"
