"""The evaluation report on disk: report.json and a self-contained report.html.

Plots are drawn with matplotlib's Agg backend and embedded as base64 PNG ``<img>`` tags, so
the HTML file has no external references and can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["write_report", "render_html"]

_MAX_PLOT_CLASSES = 6
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;
margin-top:36px}h3{margin-bottom:6px}
.muted{color:#656d76;font-size:14px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0}
.card{flex:1 1 160px;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px}
.card .v{font-size:24px;font-weight:600}.card .k{font-size:13px;color:#656d76}
.good{color:#1a7f37}.warn{color:#9a6700}.bad{color:#cf222e}
table{border-collapse:collapse;margin:8px 0;font-size:14px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right}
th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}
td.best{font-weight:700;background:#dafbe1}
img{max-width:100%;border:1px solid #eaeef2;margin:8px 0}
code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
"""


# ---------------------------------------------------------------------------- plots
def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fidelity_heatmap(report) -> str | None:
    per = {c: e for c, e in report["fidelity"]["per_class"].items() if e["score"] is not None}
    if not per:
        return None
    cols = list(next(iter(per.values()))["columns"])
    if not cols:
        return None
    m = np.array([[per[c]["columns"][col]["score"] for c in per] for col in cols])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(per), 0.9 + 0.32 * len(cols)))
    im = ax.imshow(m, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(per)), [f"{c}\n(n syn={per[c]['n_synthetic']})" for c in per],
                  fontsize=8)
    ax.set_yticks(range(len(cols)), cols, fontsize=8)
    for i in range(len(cols)):
        for j in range(len(per)):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title("Marginal fidelity per column and class (1 = identical)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04)
    return _png(fig)


def _classes_to_plot(report) -> list[str]:
    per = report["fidelity"]["per_class"]
    ok = [c for c, e in per.items() if e["score"] is not None]
    return sorted(ok, key=lambda c: per[c]["n_real"])[:_MAX_PLOT_CLASSES]


def _marginals(report, plots) -> str | None:
    classes = _classes_to_plot(report)
    if not classes:
        return None
    cls = classes[0]  # the smallest class that has synthetic rows
    enc = plots["encoding"]
    ci = [str(c) for c in enc.classes].index(cls)
    real = plots["real"].filter(pa.array(plots["y_real"] == ci))
    syn = plots["synthetic"].filter(pa.array(plots["y_syn"] == ci))
    cols = report["fidelity"]["per_class"][cls]["columns"]
    names = sorted(cols, key=lambda n: cols[n]["score"])[:8]
    plt = _plt()
    ncol = min(4, len(names))
    nrow = int(np.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.5 * nrow), squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        r, s = _arr(real.column(name)), _arr(syn.column(name))
        if cols[name]["kind"] == "categorical":
            vr = _freq(r)
            vs = _freq(s)
            keys = sorted(set(vr) | set(vs), key=lambda k: -vr.get(k, 0))[:12]
            x = np.arange(len(keys))
            ax.bar(x - 0.2, [vr.get(k, 0) for k in keys], 0.4, label="real", color="#0969da")
            ax.bar(x + 0.2, [vs.get(k, 0) for k in keys], 0.4, label="synthetic", color="#fb8500")
            ax.set_xticks(x, [k[:10] for k in keys], rotation=45, fontsize=7)
        else:
            vr, vs = _flat(r), _flat(s)
            both = np.r_[vr, vs]
            if len(both):
                lo, hi = np.quantile(both, [0.005, 0.995])
                bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
                ax.hist(vr, bins=bins, density=True, alpha=0.5, label="real", color="#0969da")
                ax.hist(vs, bins=bins, density=True, alpha=0.5, label="synthetic",
                        color="#fb8500")
        ax.set_title(f"{name} ({cols[name]['score']:.2f})", fontsize=9)
        ax.tick_params(labelsize=7)
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle(f"Class {cls}: the {len(names)} least faithful columns", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _arr(col) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return col


def _freq(col: pa.Array) -> dict[str, float]:
    import pyarrow.compute as pc

    vc = pc.value_counts(col.drop_null())
    n = max(1, len(col) - col.null_count)
    return {str(v): c / n for v, c in zip(vc.field("values").to_pylist(),
                                          vc.field("counts").to_pylist())}


def _flat(col: pa.Array) -> np.ndarray:
    col = col.drop_null()
    if isinstance(col, pa.ExtensionArray):
        col = col.storage
    if pa.types.is_fixed_size_list(col.type):
        col = col.flatten()
    return col.to_numpy(zero_copy_only=False).astype(np.float64)


def _association_plot(report, plots) -> str | None:
    mats = plots.get("association") or {}
    classes = [c for c in _classes_to_plot(report) if c in mats][:3]
    names = report["fidelity"]["association_columns"]
    if not classes or not names:
        return None
    plt = _plt()
    size = 1.2 + 0.22 * len(names)
    fig, axes = plt.subplots(len(classes), 3, figsize=(3 * size, size * len(classes)),
                             squeeze=False)
    for row, cls in zip(axes, classes):
        a_r, a_s = mats[cls]
        for ax, m, title, cmap, lim in (
            (row[0], a_r, f"{cls}: real", "coolwarm", (-1, 1)),
            (row[1], a_s, f"{cls}: synthetic", "coolwarm", (-1, 1)),
            (row[2], np.abs(a_r - a_s), f"{cls}: |difference|", "Reds", (0, 1)),
        ):
            im = ax.imshow(m, vmin=lim[0], vmax=lim[1], cmap=cmap)
            ax.set_title(title, fontsize=9)
            ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
            ax.set_yticks(range(len(names)), names, fontsize=6)
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return _png(fig)


def _image_grids(report, plots) -> list[tuple[str, str]]:
    enc = plots["encoding"]
    out = []
    classes = [str(c) for c in enc.classes]
    for spec in enc.tensors:
        shape = list(spec.shape)
        if not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))):
            continue
        show = _classes_to_plot(report)
        if not show:
            continue
        k = 6
        # one intensity scale for every image (the column's range in the data)
        lo = spec.low if spec.low is not None and np.isfinite(spec.low) else 0.0
        hi = spec.high if spec.high is not None and np.isfinite(spec.high) else 1.0
        plt = _plt()
        fig, axes = plt.subplots(len(show), 2 * k + 1, figsize=(0.9 * (2 * k + 1), 1.0 * len(show)),
                                 squeeze=False)
        for r, cls in enumerate(show):
            ci = classes.index(cls)
            for side, table, y, off in (("real", plots["real"], plots["y_real"], 0),
                                        ("synthetic", plots["synthetic"], plots["y_syn"], k + 1)):
                rows = np.flatnonzero(y == ci)[:k]
                imgs = _images(table.column(spec.name), rows, shape, lo, hi)
                for j in range(k):
                    ax = axes[r, off + j]
                    ax.axis("off")
                    if j < len(imgs):
                        ax.imshow(imgs[j], cmap="gray", vmin=0.0, vmax=1.0)
                if r == 0:
                    axes[0, off].set_title(side, fontsize=8, loc="left")
            axes[r, k].axis("off")
            axes[r, k].text(0.5, 0.5, cls, ha="center", va="center", fontsize=9)
        fig.suptitle(f"{spec.name}: real (left) vs synthetic (right), by class", fontsize=10)
        out.append((spec.name, _png(fig)))
    return out


def _images(col, rows: np.ndarray, shape: list[int], lo: float, hi: float) -> list[np.ndarray]:
    if not len(rows):
        return []
    col = _arr(col).take(pa.array(rows))
    if isinstance(col, pa.ExtensionArray):
        col = col.storage
    imgs = []
    for v in col.to_pylist():
        if v is None:
            continue
        a = np.asarray(v, np.float64).reshape(shape)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        imgs.append(np.clip((a - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(a))
    return imgs


def _latent_plot(report, plots) -> str | None:
    if "latent" not in plots:
        return None
    p_r, y_r, p_s, y_s = plots["latent"]
    classes = [str(c) for c in plots["encoding"].classes]
    model_classes = classes
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharex=True, sharey=True)
    cmap = plt.get_cmap("tab10")
    for ax, p, y, title in ((axes[0], p_r, y_r, "real"), (axes[1], p_s, y_s, "synthetic")):
        for c in np.unique(np.r_[y_r, y_s]):
            m = y == c
            if m.any():
                name = model_classes[c] if c < len(model_classes) else str(c)
                ax.scatter(p[m, 0], p[m, 1], s=6, alpha=0.5, color=cmap(int(c) % 10), label=name)
        ax.set_title(f"latent means, {title} rows", fontsize=10)
        ax.set_xlabel("PC 1")
    axes[0].set_ylabel("PC 2")
    axes[0].legend(fontsize=7, markerscale=2)
    fig.tight_layout()
    return _png(fig)


def _utility_plot(report) -> str | None:
    u = report["utility"]
    if "results" not in u:
        return None
    plt = _plt()
    metrics = ("minority_f1", "balanced_accuracy", "macro_f1")
    fig, axes = plt.subplots(1, len(u["results"]), figsize=(5.2 * len(u["results"]), 3.2),
                             squeeze=False)
    colors = {"none": "#8c959f", "random_oversampling": "#54aeff", "smote": "#0969da",
              "vae_augment": "#fb8500"}
    for ax, (clf, res) in zip(axes[0], u["results"].items()):
        methods = list(res)
        x = np.arange(len(metrics))
        w = 0.8 / len(methods)
        for i, m in enumerate(methods):
            ax.bar(x + (i - (len(methods) - 1) / 2) * w, [res[m][k] for k in metrics], w,
                   label=m, color=colors.get(m))
        ax.set_xticks(x, [k.replace("_", " ") for k in metrics], fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(clf.replace("_", " "), fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    return _png(fig)


def _privacy_plot(plots) -> str | None:
    d_s, d_h = plots["dcr_synthetic"], plots["dcr_holdout"]
    d_s, d_h = d_s[np.isfinite(d_s)], d_h[np.isfinite(d_h)]
    if not len(d_s) and not len(d_h):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3))
    both = np.r_[d_s, d_h]
    bins = np.linspace(0, np.quantile(both, 0.99) + 1e-9, 40)
    ax.hist(d_h, bins=bins, density=True, alpha=0.5, label="real-test rows", color="#0969da")
    ax.hist(d_s, bins=bins, density=True, alpha=0.5, label="synthetic rows", color="#fb8500")
    ax.set_xlabel("distance to the closest real-train row of the same class")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _kl_plot(report) -> str | None:
    d = report.get("diagnostics") or {}
    if "kl_per_dim" not in d:
        return None
    plt = _plt()
    kl = np.array(d["kl_per_dim"])
    t = d.get("kl_active_threshold", 0.1)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.35 * len(kl) + 1.5), 2.8))
    ax.bar(range(len(kl)), kl, color=["#fb8500" if v > t else "#8c959f" for v in kl])
    ax.axhline(t, color="#cf222e", lw=0.8, ls="--")
    ax.set_xticks(range(len(kl)))
    ax.tick_params(labelsize=7)
    ax.set_xlabel("latent dimension")
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"KL(q(z|x,y) || p(z|y)) per dimension; grey = collapsed (< {t} nats)",
                 fontsize=9)
    fig.tight_layout()
    return _png(fig)


# ---------------------------------------------------------------------------- HTML
def _f(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _img(b64: str | None, alt: str) -> str:
    if not b64:
        return ""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _table(header: list[str], rows: list[list[Any]], best: Mapping[int, int] | None = None) -> str:
    out = ["<table><tr>", *[f"<th>{html.escape(h)}</th>" for h in header], "</tr>"]
    for i, r in enumerate(rows):
        cells = []
        for j, v in enumerate(r):
            cls = ' class="best"' if best and best.get(j) == i else ""
            cells.append(f"<td{cls}>{_f(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _grade(v, good, bad, higher=True) -> str:
    if v is None:
        return ""
    if not higher:
        v, good, bad = -v, -good, -bad
    return "good" if v >= good else ("bad" if v < bad else "warn")


def _card(value, key: str, grade: str = "") -> str:
    return (f'<div class="card"><div class="v {grade}">{_f(value)}</div>'
            f'<div class="k">{html.escape(key)}</div></div>')


def render_html(report: Mapping[str, Any], images: Mapping[str, Any]) -> str:
    """The report as one HTML page (images are base64 PNG strings keyed by section)."""
    fid, det, util, priv = (report["fidelity"], report["detection"], report["utility"],
                            report["privacy"])
    diag = report.get("diagnostics") or {}
    h: list[str] = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>vae-augment evaluation report</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>vae-augment evaluation report</h1>",
        f"<div class='muted'>label <code>{html.escape(report['label'])}</code> · "
        f"{report['rows']['real']} real rows · {report['rows']['synthetic']} synthetic rows · "
        f"model {html.escape(str(report['model'] or 'not given'))} · seed {report['seed']} · "
        f"{report['seconds']} s</div>",
    ]
    lr = (util.get("results") or {}).get("logistic_regression", {})
    cards = [
        _card(fid["score"], "marginal fidelity (1 is ideal)", _grade(fid["score"], 0.9, 0.75)),
        _card(det["c2st_auc"], "C2ST AUC (0.5 is ideal)",
              _grade(det["c2st_auc"], 0.6, 0.75, higher=False)),
    ]
    if lr:
        v, s = lr["vae_augment"]["minority_f1"], lr.get("smote", {}).get("minority_f1")
        cards.append(_card(v, f"minority F1, logistic regression (SMOTE {_f(s)})",
                           "" if s is None else ("good" if v >= s else "warn")))
    cards.append(_card(priv["exact_copy_rate"], "exact-copy rate",
                       _grade(priv["exact_copy_rate"], 0.001, 0.01, higher=False)))
    if "active_units" in diag:
        frac = diag["active_units"] / max(1, diag["latent_dim"])
        cards.append(_card(f"{diag['active_units']}/{diag['latent_dim']}",
                           "active latent units", _grade(frac, 0.5, 0.1)))
    h.append("<div class='cards'>" + "".join(cards) + "</div>")

    # counts
    h.append("<h2>Rows per class</h2>")
    rows = [[c, report["counts"]["real"][c], report["counts"]["synthetic"][c]]
            for c in report["classes"]]
    h.append(_table(["class", "real", "synthetic"], rows))
    if report["skipped_columns"]:
        items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
                        for k, v in report["skipped_columns"].items())
        h.append(f"<p class='muted'>Columns left out of the metrics:</p><ul>{items}</ul>")

    # fidelity
    h.append("<h2>Fidelity</h2><p class='muted'>Per class, each column's synthetic marginal "
             "is compared with the real one: 1 − Kolmogorov–Smirnov statistic for numbers (for "
             "tensors, averaged over elements), 1 − total-variation distance for categories "
             "(1 is identical). "
             "Null rates are compared separately. Associations are Pearson correlations of "
             "quantile-normalised numbers, Cramér's V between categories and the correlation "
             "ratio between a number and a category, computed within each class.</p>")
    rows = []
    for c, e in fid["per_class"].items():
        a = e.get("association") or {}
        rows.append([c, e["n_real"], e["n_synthetic"], e["score"], e.get("max_null_rate_gap"),
                     a.get("mean_abs_diff"), ", ".join(a.get("worst_pair", [])) or None])
    h.append(_table(["class", "real", "synthetic", "marginal fidelity", "max null-rate gap",
                     "assoc. mean |diff|", "worst pair"], rows))
    for key, alt in (("fidelity", "fidelity heatmap"), ("marginals", "marginals"),
                     ("association", "association heatmaps")):
        h.append(_img(images.get(key), alt))
    for name, b64 in images.get("images", []):
        h.append(f"<h3>Images: <code>{html.escape(name)}</code></h3>" + _img(b64, name))
    if images.get("latent"):
        ev = ", ".join(_f(v) for v in (report.get("latent") or {}).get(
            "explained_variance_ratio", []))
        h.append("<h3>Latent space</h3><p class='muted'>Posterior means of real and synthetic "
                 "rows, projected on the first two principal components of the real rows' "
                 f"latents (explained variance {ev}).</p>" + _img(images["latent"], "latents"))

    # detection
    h.append("<h2>Detection (C2ST)</h2><p class='muted'>A gradient-boosting classifier tries "
             "to tell real rows from synthetic rows of the same classes (equal numbers of each "
             "per class, 5-fold cross-validated ROC AUC). 0.5: indistinguishable; 1.0: every "
             "synthetic row is recognisable; well below 0.5: synthetic rows copy real rows "
             "(see Privacy).</p>")
    if det.get("skipped"):
        h.append(f"<p>Skipped: {html.escape(det['skipped'])}</p>")
    rows = [["all classes", det["c2st_auc"]]] + [[c, v] for c, v in det["per_class"].items()]
    h.append(_table(["rows", "C2ST AUC"], rows))

    # utility
    h.append("<h2>Utility</h2>")
    h.append(f"<p class='muted'>Held-out data: {html.escape(report['split']['method'])} "
             f"({report['split']['real_train']} / {report['split']['real_test']} rows). "
             "Each classifier is trained on real-train alone (<b>none</b>), after random "
             "oversampling, after SMOTE (imbalanced-learn, same feature space) and with the "
             "synthetic rows added (<b>vae_augment</b>, up to the counts imbalanced-learn's "
             "'auto' strategy asks for), and scored on real-test. "
             + ("" if report["split"]["holdout_given"] else
                "If the generator was trained on all of REAL, it saw the real-test rows and "
                "these figures are optimistic; pass a holdout for a clean estimate. ")
             + "</p>")
    if "results" in util:
        h.append(f"<p>Minority class: <code>{html.escape(util['minority_class'])}</code></p>")
        if util.get("synthetic_shortfall"):
            short = ", ".join(f"{html.escape(k)}: {v}" for k, v in util["synthetic_shortfall"].items())
            h.append(f"<p class='warn'>Not enough synthetic rows to balance real-train; "
                     f"missing rows per class: {short}.</p>")
        keys = ["balanced_accuracy", "macro_f1", "minority_f1", "minority_average_precision"]
        for clf, res in util["results"].items():
            methods = list(res)
            rows = [[m] + [res[m][k] for k in keys] for m in methods]
            best = {j + 1: int(np.argmax([-1 if r[j + 1] is None else r[j + 1] for r in rows]))
                    for j in range(len(keys))}
            h.append(f"<h3>{html.escape(clf.replace('_', ' '))}</h3>")
            h.append(_table(["training data", "balanced acc.", "macro F1", "minority F1",
                             "minority AP"], rows, best))
        h.append(_img(images.get("utility"), "utility"))
    else:
        h.append(f"<p>Skipped: {html.escape(util.get('skipped', ''))}</p>")

    # privacy
    h.append("<h2>Privacy</h2><p class='muted'>Distance to the closest record (DCR): from "
             "each synthetic row to the closest real-train row of its class, beside the same "
             "distance for real-test rows of the same classes (which the split kept out of "
             "real-train). Synthetic rows much closer than real-test rows suggest "
             "memorisation. Exact copies are counted against every real row.</p>")
    ds, dh = priv["dcr_synthetic"], priv["dcr_holdout"]
    rows = [
        ["synthetic, all", ds["median"], ds["p05"], ds["mean"], priv["exact_copy_rate"]],
        ["real-test, all", dh["median"], dh["p05"], dh["mean"], priv["holdout_exact_copy_rate"]],
    ]
    for c, e in (priv.get("per_class") or {}).items():
        rows.append([f"synthetic, {c}", e["synthetic"]["median"], e["synthetic"]["p05"],
                     e["synthetic"]["mean"], e["exact_copy_rate"]])
        rows.append([f"real-test, {c}", e["holdout"]["median"], e["holdout"]["p05"],
                     e["holdout"]["mean"], None])
    h.append(_table(["rows", "median DCR", "5th percentile", "mean", "exact-copy rate"], rows))
    h.append(f"<p>Share of synthetic rows closer to real-train than the 5th percentile of "
             f"real-test rows of their class: {_f(priv['share_closer_than_holdout_p05'])} "
             "(about 0.05 is expected; much more suggests copying).</p>")
    h.append(_img(images.get("privacy"), "distance to closest record"))

    # diagnostics
    h.append("<h2>Model diagnostics</h2>")
    if not diag:
        h.append("<p>No model given (pass <code>--model-dir</code>).</p>")
    elif "skipped" in diag:
        h.append(f"<p>Skipped: {html.escape(diag['skipped'])}</p>")
    else:
        h.append(f"<p class='muted'>On {diag['rows']} real-test rows, in nats per row. The "
                 "ELBO is estimated with one posterior sample per row; the importance-weighted "
                 f"bound (IWAE, k={diag['iw_samples']}) is a tighter lower bound on "
                 "log p(x | y), so a large gap between them means a poor encoder. A latent "
                 "dimension is active when its posterior mean varies within a class (variance "
                 "> 0.01, Burda et al. 2016); few active units means posterior collapse.</p>")
        h.append(_table(["metric", "value"], [
            ["ELBO (nats/row)", diag["elbo"]], ["IW bound (nats/row)", diag["iw_bound"]],
            ["−ELBO at the posterior mean (anomaly score)", diag["neg_elbo_at_posterior_mean"]],
            ["KL total (nats/row)", diag["kl_total"]],
            ["active units (variance)", f"{diag['active_units']} of {diag['latent_dim']}"],
            [f"active units (KL > {diag.get('kl_active_threshold', 0.1)} nats)",
             f"{diag['active_units_kl']} of {diag['latent_dim']}"],
        ] + [[f"training: {k}", v] for k, v in diag.get("training", {}).items()]))
        h.append(_img(images.get("kl"), "KL per dimension"))
        guide = diag.get("guide")
        if guide:
            h.append("<h3>Class guide</h3>")
            h.append(f"<p class='muted'>The guided setting: a boosted-tree classifier of the "
                     f"real rows ({guide['iterations']} rounds) redraws a synthetic row, up to "
                     f"{guide['candidates']} draws, while it places the row in its class less "
                     f"firmly than the floor, the {guide['quantile']:g} quantile of real rows of "
                     f"the class. Real-test rows should pass about {1 - guide['quantile']:.0%}; "
                     "plain draws show how often the model alone lands in its class's region "
                     f"({guide['draws_per_class']} draws per class).</p>")
            h.append(_table(["class", "floor", "real-test rows passing", "plain draws passing",
                             "generated rows passing"],
                            [[str(c["class"]), c["floor"], c["real_test_pass"],
                              c["first_draw_pass"], c["generated_pass"]]
                             for c in guide["classes"]]))
    h.append("<p class='muted'>Generated by vae-augment; the same figures are in "
             "report.json.</p></main></body></html>")
    return "\n".join(x for x in h if x)


def write_report(report_dir, report: dict, plots: Mapping[str, Any]) -> dict[str, str]:
    """Draws the plots and writes ``report.json`` and ``report.html`` into `report_dir`.

    Returns the paths written ({"json": ..., "html": ...}).
    """
    from vae_augment.evaluation import save_json

    os.makedirs(report_dir, exist_ok=True)
    images: dict[str, Any] = {
        "fidelity": _fidelity_heatmap(report),
        "marginals": _marginals(report, plots),
        "association": _association_plot(report, plots),
        "images": _image_grids(report, plots),
        "latent": _latent_plot(report, plots),
        "utility": _utility_plot(report),
        "privacy": _privacy_plot(plots),
        "kl": _kl_plot(report),
    }
    files = {"json": os.path.join(os.fspath(report_dir), "report.json"),
             "html": os.path.join(os.fspath(report_dir), "report.html")}
    report["files"] = files
    report["plots"] = sorted(k for k, v in images.items() if v)
    save_json(report, files["json"])
    with open(files["html"], "w", encoding="utf-8") as f:
        f.write(render_html(report, images))
    return files
