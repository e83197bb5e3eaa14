"""The evaluation report's plots: matplotlib (Agg backend) figures as base64 PNGs, so
`vae_augment.report` can embed them in a self-contained report.html.

`draw(report, plots)` returns every plot the report's contents allow ({name: base64 PNG, or
None}; "images" is a list of (column, PNG) grids)."""

from __future__ import annotations

import base64
import io
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from vae_augment.errors import warn
from vae_augment.schema import as_numbers, is_temporal, numeric_storage

__all__ = ["draw"]

_MAX_PLOT_CLASSES = 6
_MAX_IMAGE_CLASSES = 20


def draw(report, plots) -> dict[str, Any]:
    """The report's plots ({name: base64 PNG or None; "images": [(column, PNG), ...]})."""
    import matplotlib

    fid = report.get("fidelity") is not None  # sections left out (`sections=`) draw nothing
    _plt()
    # column and class names are text, not mathtext: a "$" in a name would fail to parse
    rc = {"text.parse_math": False, "font.family": _font_families(matplotlib)}
    with matplotlib.rc_context(rc), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = _draw(report, plots, fid)
    missing = set()
    for w in caught:  # matplotlib warns once per glyph and plot: one warning instead
        text = str(w.message)
        if "missing from font" in text and text.startswith("Glyph "):
            missing.add(chr(int(text.split()[1])) if text.split()[1].isdigit() else "?")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if missing:
        warn(
            f"the installed fonts cannot draw {len(missing)} character(s) of the column or "
            f"class names ({''.join(sorted(missing)[:10])}{'...' if len(missing) > 10 else ''})"
            ": they show as boxes in the report's plots; report.json and the HTML text have "
            "the names exactly. Installing a font that has them (e.g. Noto Sans CJK) fixes "
            "the plots.")
    return drawn


# fonts with wide coverage that matplotlib falls back to for a glyph the first lacks, when
# installed (matplotlib >= 3.6 takes a list of families)
_FALLBACK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK KR",
                   "Noto Sans CJK TC", "Source Han Sans", "WenQuanYi Zen Hei",
                   "WenQuanYi Micro Hei", "Droid Sans Fallback", "Arial Unicode MS",
                   "Microsoft YaHei", "MS Gothic", "AppleGothic", "Noto Sans")


def _font_families(matplotlib) -> list[str]:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    first = list(matplotlib.rcParams["font.family"])
    return first + [name for name in _FALLBACK_FONTS if name in installed and name not in first]


def _draw(report, plots, fid: bool) -> dict[str, Any]:
    return {
        "fidelity": _fidelity_heatmap(report) if fid else None,
        "marginals": _marginals(report, plots) if fid else None,
        "association": _association_plot(report, plots) if fid else None,
        "images": _image_grids(report, plots) if fid else [],
        "latent": _latent_plot(report, plots),
        "utility": _utility_plot(report) if report.get("utility") is not None else None,
        "utility_classes": (_class_f1_plot(report) if report.get("utility") is not None
                            else None),
        "privacy": _privacy_plot(plots) if "dcr_synthetic" in plots else None,
        "kl": _kl_plot(report),
        "curves": _curves_plot(report),
    }


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _png(fig, *, crop: bool = True) -> str:
    """`fig` as a base64 PNG; closes it. `crop`: to the tight box of what is drawn, which
    costs one more layout pass; a figure that `tight_layout` fitted already needs none
    (leaving it off took 15-20 % off churn's plots, session 51)."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight" if crop else None)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


_MAX_HEATMAP_CLASS_COLUMNS = 12  # more classes: one row per class instead of one column


def _fidelity_heatmap(report) -> str | None:
    per = {c: e for c, e in report["fidelity"]["per_class"].items() if e["score"] is not None}
    if not per:
        return None
    cols = list(next(iter(per.values()))["columns"])
    if not cols:
        return None
    m = np.array([[per[c]["columns"][col]["score"] for c in per] for col in cols])
    plt = _plt()
    class_labels = [f"{c}\n(n syn={per[c]['n_synthetic']})" for c in per]
    if len(per) > _MAX_HEATMAP_CLASS_COLUMNS:  # classes down the side: the page scrolls, and
        m = m.T  # a figure as wide as 51 classes would be shrunk to an unreadable width
        class_labels = [label.replace("\n", " ") for label in class_labels]
        xticks, yticks = cols, class_labels
    else:
        xticks, yticks = class_labels, cols
    # laid out in inches within the page's 11.4: the y names' width, a colour bar, and cells
    # at most 0.9 in wide, at least 0.34 (a 6 pt "0.83"). Sized 0.9 in a cell whatever the
    # count, 16 columns by 51 classes came out 1,506 px wide and the page shrank it.
    names_w = 0.2 + max(_text_inches(t, 8) for t in yticks)
    n = m.shape[1]
    cell = max(0.34, min(0.9, (11.4 - names_w - 0.9) / n))
    fig, ax = plt.subplots(figsize=(names_w + 0.9 + cell * n, 0.9 + 0.32 * m.shape[0]))
    im = ax.imshow(m, vmin=0, vmax=1, cmap="RdYlGn", aspect="auto")
    along = xticks is class_labels and cell >= 0.8  # two-line class names fit under a cell
    ax.set_xticks(range(m.shape[1]), xticks, fontsize=8,
                  rotation=0 if along else (30 if cell >= 0.6 else 60),
                  ha="center" if along else "right", rotation_mode="anchor")
    ax.set_yticks(range(m.shape[0]), yticks, fontsize=8)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center",
                    fontsize=7 if cell >= 0.45 else 6)
    ax.set_title("Marginal fidelity per column and class (1 = identical)", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04)
    return _png(fig)


def _classes_to_plot(report, limit: int = _MAX_PLOT_CLASSES, *,
                     scored: bool = True) -> list[str]:
    """The classes with synthetic rows, smallest (real rows) first, at most `limit`; with
    `scored`, only those the fidelity section scored (enough real and synthetic rows for
    statistics). Image grids need none: a class of 4 real rows, the one being augmented
    most, showed no images and its rows looked like another class's."""
    per = report["fidelity"]["per_class"]
    ok = [c for c, e in per.items()
          if (e["score"] is not None if scored else e.get("n_synthetic", 0) > 0)]
    return sorted(ok, key=lambda c: per[c]["n_real"])[:limit]


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
            keys = _bar_keys(vr, vs)
            x = np.arange(len(keys))
            ax.bar(x - 0.2, [vr.get(k, 0) for k in keys], 0.4, label="real", color="#0969da")
            ax.bar(x + 0.2, [vs.get(k, 0) for k in keys], 0.4, label="synthetic", color="#fb8500")
            ax.set_xticks(x, [k[:10] for k in keys], rotation=45, fontsize=7)
            ax.set_ylabel("share of rows", fontsize=7)
        else:
            vr, vs = _flat(r), _flat(s)
            both = np.r_[vr, vs]
            if len(both):
                lo, hi = np.quantile(both, [0.005, 0.995])
                bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
                # a side with no value (a column null in every synthetic row) has no density
                for v, what, colour in ((vr, "real", "#0969da"), (vs, "synthetic", "#fb8500")):
                    if len(v):
                        ax.hist(v, bins=bins, density=True, alpha=0.5, label=what,
                                color=colour)
                ax.set_ylabel("density", fontsize=7)
                if is_temporal(r.type):
                    _time_ticks(ax, r.type)
                else:  # five-digit values at the default 7-8 ticks ran together
                    ax.locator_params(axis="x", nbins=5)
        ax.set_title(f"{name} ({cols[name]['score']:.2f})", fontsize=9)
        ax.tick_params(labelsize=7)
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle(f"Class {cls}: " + (f"the {len(names)} least faithful columns"
                                      if len(names) < len(cols) else
                                      "real vs synthetic, least faithful column first"
                                      if len(names) > 1 else f"real vs synthetic {names[0]}"),
                 fontsize=10)
    fig.tight_layout()
    return _png(fig, crop=False)


def _bar_keys(real: dict[str, float], syn: dict[str, float], limit: int = 12) -> list[str]:
    """A categorical column's bars: the `limit` values of largest real share (ties broken by
    the synthetic share, then the value, so the same data draws the same bars), in numeric
    order when every one is a number: a count such as churn's service calls, or credit's
    loan term, read in share order (1, 2, 0, 4, 3) hid the distribution's shape."""
    keys = sorted(set(real) | set(syn), key=lambda k: (-real.get(k, 0), -syn.get(k, 0),
                                                       str(k)))[:limit]
    try:
        return sorted(keys, key=float)
    except ValueError:  # a category that is not a number
        return keys


def time_label(value: float, typ: pa.DataType) -> str:
    """A count of `typ`'s units (a time column's value as modelled) as the time it is:
    '2024-05-01 12:00' for a timestamp, '2024-05-01' for a date, '12:30' for a time of
    day, '1 day, 2:03:00' for a duration."""
    try:
        v = pa.scalar(int(round(value)), numeric_storage(typ)).cast(typ).as_py()
    except (pa.ArrowInvalid, OverflowError, ValueError):  # off the type's range
        return ""
    if pa.types.is_timestamp(typ):
        return str(v)[:16]
    if pa.types.is_time(typ):
        return str(v)[:5]
    return str(v)


def _time_ticks(ax, typ: pa.DataType) -> None:
    """A time column's histogram axis labelled with times instead of counts of units."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(4))  # a label is long: fewer of them
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: time_label(v, typ)))
    ax.tick_params(axis="x", labelrotation=30)


def _arr(col) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return col


def _freq(col: pa.Array) -> dict[str, float]:
    import pyarrow.compute as pc

    from vae_augment.schema import canonical_zeros

    if pa.types.is_float16(col.type):  # value_counts has no half-float kernel
        col = col.cast(pa.float32())
    vc = pc.value_counts(canonical_zeros(col.drop_null()))  # -0.0 is 0.0's bar
    n = max(1, len(col) - col.null_count)
    return {str(v): c / n for v, c in zip(vc.field("values").to_pylist(),
                                          vc.field("counts").to_pylist())}


def _flat(col: pa.Array) -> np.ndarray:
    col = col.drop_null()
    if isinstance(col, pa.ExtensionArray):
        col = col.storage
    if pa.types.is_fixed_size_list(col.type):
        col = col.flatten()
    return as_numbers(col).to_numpy(zero_copy_only=False).astype(np.float64)


def _text_inches(text: str, points: float) -> float:
    """About how wide `text` is drawn at `points`: 0.6 em a character, 1 em a wide (CJK)
    one."""
    import unicodedata

    ems = sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in str(text))
    return ems * points / 72


def _association_plot(report, plots) -> str | None:
    """Per class (at most 3), the real and the synthetic association matrices and their
    difference, laid out in inches: the names beside a row's first matrix only (the others'
    are the same), each matrix at its side. `tight_layout` in a figure of 3 matrices' width,
    names and colour bars inside it, shrank hpc's matrices to 2/3 of that with an inch of
    white between the rows, and cut churn's bottom names off."""
    mats = plots.get("association") or {}
    classes = [c for c in _classes_to_plot(report) if c in mats][:3]
    names = report["fidelity"]["association_columns"]
    if not classes or not names:
        return None
    plt = _plt()
    names_w = 0.15 + max(_text_inches(n, 6) for n in names)  # the tick labels' (6 pt)
    bar = 0.08 + 0.12 + 0.4  # a colour bar: its gap, its width, its 7 pt labels
    # a matrix's side, inches: the figure within the page's 11.5 in (wider, the page shrinks
    # it and its 6 pt names with it), yet a name's row at least 6.5 pt tall
    size = max(min(1.2 + 0.22 * len(names), (11.4 - 0.1 - names_w) / 3 - bar - 0.2),
               0.09 * len(names))
    panel_w, row_h = size + bar + 0.2, 0.3 + size + names_w + 0.1
    width, height = 0.1 + names_w + 3 * panel_w, row_h * len(classes) + 0.05
    fig = plt.figure(figsize=(width, height))
    for r, cls in enumerate(classes):
        a_r, a_s = mats[cls]
        y0 = height - 0.05 - r * row_h - 0.3 - size  # the matrices' bottom edge
        for j, (m, title, cmap, lim) in enumerate((
            (a_r, f"{cls}: real", "coolwarm", (-1, 1)),
            (a_s, f"{cls}: synthetic", "coolwarm", (-1, 1)),
            (np.abs(a_r - a_s), f"{cls}: |difference|", "Reds", (0, 1)),
        )):
            x0 = 0.1 + names_w + j * panel_w
            ax = fig.add_axes((x0 / width, y0 / height, size / width, size / height))
            im = ax.imshow(m, vmin=lim[0], vmax=lim[1], cmap=cmap, aspect="auto")
            ax.set_title(title, fontsize=9)
            ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
            ax.set_yticks(range(len(names)), names, fontsize=6)
            ax.tick_params(axis="y", labelleft=j == 0)
            cax = fig.add_axes(((x0 + size + 0.08) / width, y0 / height, 0.12 / width,
                                size / height))
            fig.colorbar(im, cax=cax).ax.tick_params(labelsize=7)
    return _png(fig, crop=False)


def _image_grids(report, plots) -> list[tuple[str, str]]:
    enc = plots["encoding"]
    out = []
    classes = [str(c) for c in enc.classes]
    for spec in enc.tensors:
        shape = list(spec.shape)
        if not (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))):
            continue
        # every class with synthetic rows (up to 20, the smallest), in the model's order
        show = set(_classes_to_plot(report, _MAX_IMAGE_CLASSES, scored=False))
        show = [c for c in classes if c in show]
        if not show:
            continue
        k = 6
        # one intensity scale for every image (the column's range in the data)
        lo = spec.low if spec.low is not None and np.isfinite(spec.low) else 0.0
        hi = spec.high if spec.high is not None and np.isfinite(spec.high) else 1.0
        plt = _plt()
        # 0.6 in of headroom for the title and the real/synthetic labels, whatever the rows
        fig, axes = plt.subplots(len(show), 2 * k + 1,
                                 figsize=(0.9 * (2 * k + 1), 1.0 * len(show) + 0.6),
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
        fig.subplots_adjust(top=1.0 - 0.55 / (1.0 * len(show) + 0.6))
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


def _latent_classes(y_r: np.ndarray, y_s: np.ndarray,
                    limit: int = _MAX_PLOT_CLASSES) -> list[int]:
    """The latent plot's panels: the classes (codes) with synthetic rows, fewest real rows
    first, at most `limit`, in the model's order."""
    have = np.unique(y_s)
    real = {c: int(np.sum(y_r == c)) for c in have}
    return sorted(sorted(have, key=lambda c: (real[c], c))[:limit])


def _latent_plot(report, plots) -> str | None:
    """One panel per class with synthetic rows (`_latent_classes`): its synthetic rows over
    its real rows, the other classes' real rows grey behind. One panel of every class's real
    rows and one of the synthetic rows (until session 54) buried churn's 707 'yes' rows under
    4,293 'no' rows, and the class colours were the other plots' real/synthetic blue and
    orange: whether synthetic 'yes' rows cover the real ones' region could not be seen."""
    if "latent" not in plots:
        return None
    p_r, y_r, p_s, y_s = plots["latent"]
    classes = [str(c) for c in plots["encoding"].classes]
    show = _latent_classes(y_r, y_s)
    if not show:
        return None
    plt = _plt()
    ncol = 2 if len(show) == 4 else min(3, len(show))
    nrow = int(np.ceil(len(show) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(max(5.0, 3.3 * ncol), 3.0 * nrow + 0.5),
                             sharex=True, sharey=True, squeeze=False)
    for ax in axes.ravel()[len(show):]:
        ax.axis("off")
    dot = 5 if len(p_r) + len(p_s) > 1000 else 9  # a small table's few dots: larger
    for ax, c in zip(axes.ravel(), show):
        name = classes[c] if c < len(classes) else str(c)
        mine, syn = y_r == c, y_s == c
        ax.scatter(p_r[~mine, 0], p_r[~mine, 1], s=dot - 2, color="#d0d7de", lw=0,
                   label="other classes, real")
        # the synthetic rows first: the real rows (fewer, as a rare class is what is
        # augmented) on top, so a region they hold and the synthetic ones miss shows;
        # 2,000 synthetic dots faint, 70 (credit's) not lost among the grey ones
        ax.scatter(p_s[syn, 0], p_s[syn, 1], s=dot, color="#fb8500", lw=0,
                   alpha=float(np.clip(200 / max(1, syn.sum()), 0.3, 0.6)),
                   label="synthetic")
        ax.scatter(p_r[mine, 0], p_r[mine, 1], s=dot + 3, alpha=0.9, color="#0969da", lw=0,
                   label="real")
        ax.set_title(f"class {name}: {int(mine.sum())} real, {int(syn.sum())} synthetic rows",
                     fontsize=9)
        ax.tick_params(labelsize=7)
    for j in range(ncol):  # the lowest panel of each column: above an empty slot, too
        ax = axes[(len(show) - 1 - j) // ncol, j]
        ax.set_xlabel("PC 1", fontsize=8)
        ax.tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel("PC 2", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    top = 1 - 0.35 / fig.get_figheight()
    fig.tight_layout(rect=(0, 0, 1, top))
    legend = fig.legend(handles[::-1], labels[::-1], loc="upper center", ncol=3, fontsize=8,
                        markerscale=2.5, frameon=False)
    for handle in legend.legend_handles:  # the key's dots opaque: the pale orange was grey
        handle.set_alpha(1.0)
    return _png(fig, crop=False)


#: the utility plots' colour of each training set
_METHOD_COLORS = {"none": "#8c959f", "random_oversampling": "#54aeff", "smote": "#0969da",
                  "vae_augment": "#fb8500"}


def _utility_plot(report) -> str | None:
    u = report["utility"]
    if "results" not in u:
        return None
    plt = _plt()
    metrics = ("minority_f1", "minority_average_precision", "balanced_accuracy", "macro_f1")
    fig, axes = plt.subplots(1, len(u["results"]), figsize=(5.2 * len(u["results"]), 3.2),
                             squeeze=False)
    colors = _METHOD_COLORS
    for ax, (clf, res) in zip(axes[0], u["results"].items()):
        methods = list(res)
        x = np.arange(len(metrics))
        w = 0.8 / len(methods)
        # error bars: several splits' spread, or one split's bootstrap standard errors
        sd = (u.get("sd") or {}).get(clf) or {}
        bars = sd or (u.get("figure_se") or {}).get(clf) or {}
        for i, m in enumerate(methods):
            err = [np.nan if (bars.get(m) or {}).get(k) is None else bars[m][k] for k in metrics]
            ax.bar(x + (i - (len(methods) - 1) / 2) * w,
                   [np.nan if res[m].get(k) is None else res[m][k] for k in metrics], w,
                   label=m, color=colors.get(m),
                   yerr=err if bars else None, error_kw={"lw": 0.8, "capsize": 2})
        ax.set_xticks(x, [k.replace("_", " ").replace("average precision", "AP")
                          for k in metrics], fontsize=8)
        ax.set_ylim(0, 1.05)  # a bar at 1 and its error bar: above the frame's top, not on it
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_ylabel("score on real-test" + (
            f" (mean of {u['splits']} splits)" if sd else
            "\n(bars: ± 1 standard error, real-test resampled)" if bars else ""), fontsize=8)
        ax.set_title(clf.replace("_", " "), fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    return _png(fig, crop=False)


def _class_f1_plot(report) -> str | None:
    """More than two classes: each class's F1 per training set, one panel per classifier
    (error bars: the splits' standard deviation), so a class that its synthetic rows hurt
    shows at a glance (the findings name it)."""
    u = report["utility"]
    classes = u.get("classes") or []
    if "results" not in u or len(classes) <= 2:
        return None
    plt = _plt()
    colors = _METHOD_COLORS
    runs = u.get("per_split") or []
    # more classes: one row of bars per class, the classifiers side by side (the page
    # scrolls), as a figure as wide as 150 classes (15,000 px) shrank to an unreadable strip
    down = len(classes) > _MAX_HEATMAP_CLASS_COLUMNS
    if down:
        fig, axes = plt.subplots(1, len(u["results"]), squeeze=False, sharey=True,
                                 figsize=(5.0 * len(u["results"]) + 1.0,
                                          1.2 + 0.3 * len(classes)))
        axes = axes.T
    else:
        fig, axes = plt.subplots(len(u["results"]), 1, squeeze=False,
                                 figsize=(max(6.0, 0.55 * len(classes) * 2 + 1.5),
                                          2.6 * len(u["results"])))
    names = _class_f1_names(classes, u["results"])
    for ax, (clf, res) in zip(axes[:, 0], u["results"].items()):
        methods = list(res)
        x = np.arange(len(classes))
        w = 0.8 / len(methods)
        for i, m in enumerate(methods):
            f1 = [np.nan if v is None else v for v in res[m]["f1_per_class"]]
            per = np.array([[np.nan if v is None else v for v in r[clf][m]["f1_per_class"]]
                            for r in runs if m in r.get(clf, {})], dtype=float)
            with warnings.catch_warnings():  # a class with no real-test row: no spread
                warnings.simplefilter("ignore", RuntimeWarning)
                err = np.nanstd(per, axis=0, ddof=1) if len(per) > 1 else None
            boot = ((u.get("figure_se") or {}).get(clf) or {}).get(m) or {}
            if err is None and boot.get("f1_per_class"):  # one split: its bootstrap's
                err = [np.nan if v is None else v for v in boot["f1_per_class"]]
            at = x + (i - (len(methods) - 1) / 2) * w
            if down:
                ax.barh(at, f1, w, label=m, color=colors.get(m), xerr=err,
                        error_kw={"lw": 0.8, "capsize": 2})
            else:
                ax.bar(at, f1, w, label=m, color=colors.get(m), yerr=err,
                       error_kw={"lw": 0.8, "capsize": 2})
            # an F1 of 0 draws no bar, as a class with no test row: a line the bar's width
            for a in at[np.asarray(f1, float) == 0]:
                span, level = [a - w / 2, a + w / 2], [0.0, 0.0]
                ax.plot(*((level, span) if down else (span, level)), lw=3, color=colors.get(m),
                        solid_capstyle="butt", clip_on=False)
        what = "F1 on real-test" + ("" if len(runs) > 1 or not u.get("figure_se")
                                    else "\n(bars: ± 1 standard error)")
        if down:
            ax.set_yticks(x, names, fontsize=8)
            ax.set_ylim(len(classes) - 0.5, -0.5)  # the first class at the top
            ax.set_xlim(0, 1.05)
            ax.set_xticks(np.linspace(0, 1, 6))
            ax.set_xlabel(what, fontsize=8)
            ax.xaxis.set_ticks_position("both")
            ax.tick_params(axis="x", labeltop=True)
        else:
            ax.set_xticks(x, names, fontsize=8, rotation=30 if len(classes) > 12 else 0)
            ax.set_ylim(0, 1.05)
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.set_ylabel(what, fontsize=8)
        ax.set_title(f"{clf.replace('_', ' ')}: F1 per class"
                     + (f" (mean of {len(runs)} splits)" if len(runs) > 1 else ""), fontsize=10)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if down:  # the legend above the bars, where the page shows it first
        top = 1 - 0.5 / fig.get_figheight()
        fig.tight_layout(rect=(0, 0, 1, top))
        fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8,
                   frameon=False)
        return _png(fig, crop=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    return _png(fig, crop=False)


def _class_f1_names(classes, results) -> list[str]:
    """The F1 plot's class names, "(no test rows)" after a class no classifier has an F1 for
    (real-test holds none of its rows): its empty slot looked like F1 0, whose bar is a mark
    at 0."""
    def scored(k):
        return any(k < len(r["f1_per_class"]) and r["f1_per_class"][k] is not None
                   for res in results.values() for r in res.values())
    return [str(c) if scored(k) else f"{c} (no test rows)" for k, c in enumerate(classes)]


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
    ax.set_xlabel("distance to the closest real-train row of the same class (scaled features; "
                  "cut at the 99th percentile)", fontsize=8)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig, crop=False)


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
    return _png(fig, crop=False)


def _curve_panels(curves) -> list[tuple[str, str]]:
    """The training plot's panels: (history key, title). Within a KL warm-up the trained
    loss weights the KL term up from 0, so it is the bound (the -ELBO, or recon + beta KL)
    only after the warm-up; the title said "-ELBO" throughout."""
    bound = "recon + β·KL" if curves.get("beta", 1.0) != 1.0 else "−ELBO"
    warm = " after the warm-up" if curves.get("kl_warmup_epochs") else ""
    return [("loss", f"trained loss: {bound}{warm}"),
            ("recon", "reconstruction −log p(x | z, y)"),
            ("kl", "KL(q(z | x, y) ‖ p(z | y))")]


def _curves_plot(report) -> str | None:
    """The training history: the bound trained (train and validation) and its two terms per
    epoch, the kept epoch marked and the KL warm-up shaded. The first epochs' losses are many
    times the rest's, so the y range is that of the epochs after the warm-up (or the last
    80 %), where the curves are read."""
    c = (report.get("diagnostics") or {}).get("curves")
    if not c or not c.get("history"):
        return None
    plt = _plt()
    h = c["history"]

    def series(key):
        v = h.get(key)
        return None if not v else np.array([np.nan if x is None else x for x in v], float)

    panels = [(k, t) for k, t in _curve_panels(c) if series(k) is not None]
    if not panels:  # a history without the trained loss or its terms: nothing to draw
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.0), squeeze=False)
    n = max(len(v) for v in h.values())
    epochs = np.arange(1, n + 1)
    warm = int(c.get("kl_warmup_epochs") or 0)
    start = min(max(warm, n // 5), n - 1)
    for ax, (key, title) in zip(axes[0], panels):
        shown = []
        for name, colour, label in ((key, "#0969da", "train"),
                                    (f"val_{key}", "#fb8500", "validation")):
            v = series(name)
            if v is None:
                continue
            ax.plot(epochs[:len(v)], v, color=colour, lw=1.2, label=label)
            shown.append(v[start:])
        if warm > 1:  # epoch e trains with weight e / warm: full from epoch `warm` on
            ax.axvspan(0.5, min(warm, n + 1) - 0.5, color="#8c959f", alpha=0.15, lw=0,
                       label="KL warm-up")
        if c.get("best_epoch"):
            ax.axvline(c["best_epoch"], color="#cf222e", lw=0.8, ls="--", label="kept epoch")
        late = np.concatenate(shown) if shown else np.array([])
        late = late[np.isfinite(late)]
        if late.size:
            lo, hi = float(late.min()), float(late.max())
            pad = 0.08 * (hi - lo) or 0.05 * abs(hi) or 1.0
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("nats per row", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig, crop=False)
