"""The evaluation report on disk: report.json and a self-contained report.html.

Plots (`vae_augment.report_plots`: matplotlib's Agg backend) are embedded as base64 PNG
``<img>`` tags, so the HTML file has no external references and can be mailed or archived as
one file.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
from collections.abc import Mapping
from typing import Any

from vae_augment.errors import items_note
from vae_augment.report_plots import _MAX_PLOT_CLASSES, draw

__all__ = ["write_report", "render_html"]

#: the most items a list in the page's text names (then "... (N in all)"), as the findings'
#: lists (`errors.items_note`); the tables keep every class
_MOST = 20

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
table{border-collapse:collapse;margin:8px 0;font-size:14px}.wide{overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:right}
th{background:#f6f8fa}td:first-child,th:first-child{text-align:left}
td.best{font-weight:700;background:#dafbe1}
img{max-width:100%;border:1px solid #eaeef2;margin:8px 0}
code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
ul.findings li{margin:6px 0}
"""


# ---------------------------------------------------------------------------- HTML
def _f(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) < 1e-6:  # float32 noise (an exact copy's distance of 1e-08) is 0
            v = 0.0
        if 0 < abs(v) < 0.5 * 10 ** -digits:  # a small share is not 0.000 (1 row of 2,500)
            return f"{v:.1g}"
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def _img(b64: str | None, alt: str) -> str:
    if not b64:
        return ""
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _table(header: list[str], rows: list[list[Any]],
           best: Mapping[int, Any] | None = None) -> str:
    """An HTML table; `best` marks cells: column -> a row index, or a set of row indices."""
    out = ["<table><tr>", *[f"<th>{html.escape(h)}</th>" for h in header], "</tr>"]
    for i, r in enumerate(rows):
        cells = []
        for j, v in enumerate(r):
            mark = (best or {}).get(j)
            cls = ' class="best"' if mark is not None and (
                i in mark if isinstance(mark, (set, frozenset)) else mark == i) else ""
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


def _model_text(report) -> str:
    """The model's directory, or what is known of a model that has none."""
    if report.get("model"):
        return str(report["model"])
    return "in memory (not saved)" if report.get("model_given") else "not given"



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
        f"model {html.escape(_model_text(report))} · seed {report['seed']} · "
        f"{report['seconds']} s</div>",
    ]
    lr = ((util or {}).get("results") or {}).get("logistic_regression", {})
    cards = []
    if fid is not None:
        # graded against real data's own figure where there is one: small classes score
        # lower however good their rows, as two halves of their real rows do; real halves
        # has no figure for a class under 10 real rows, so it is read against the score of
        # the same classes
        ref = fid.get("real_reference")
        same = fid.get("score_same_classes")
        good, bad = (0.9, 0.75) if ref is None else (min(0.9, ref), min(0.75, ref - 0.15))
        apart = ref is not None and same is not None and same != fid["score"]
        cards.append(_card(fid["score"], "marginal fidelity (1 is ideal"
                           + ("" if ref is None else
                              f"; real halves {_f(ref)}" + (
                                  f", against {_f(same)} for the same classes (those with 10 "
                                  f"real rows or more)" if apart else ""))
                           + ")", _grade(same if apart else fid["score"], good, bad)))
    if det is not None:
        # graded by the distance from 0.5 both ways: well under 0.5 means copies; None when
        # the check was skipped (a class with too few rows)
        auc = det["c2st_auc"]
        cards.append(_card(auc, "C2ST AUC (0.5 is ideal)" + ("; skipped" if auc is None else ""),
                           "" if auc is None else _grade(abs(auc - 0.5), 0.1, 0.25,
                                                         higher=False)))
    if lr:
        # the figure the findings and the command's summary judge: minority F1 for two
        # classes, macro F1 for more (the card showed minority F1 beside a macro summary)
        key, name = (("macro_f1", "macro F1") if len(util.get("classes") or []) > 2
                     else ("minority_f1", "minority F1"))
        v, s = lr["vae_augment"][key], lr.get("smote", {}).get(key)
        cards.append(_card(v, f"{name}, logistic regression (SMOTE {_f(s)})",
                           "" if s is None or v is None else ("good" if v >= s else "warn")))
    if priv is not None:
        # exact copies beyond those a fresh real sample has (discrete data repeats rows)
        # graded as the finding is: copies of any real row beyond the data's own rate
        rate = priv["exact_copy_rate"]
        excess = None if rate is None else rate - (priv.get("holdout_exact_copy_rate") or 0.0)
        cards.append(_card(rate, "exact-copy rate, of any real row (real data's own: "
                           f"{_f(priv.get('holdout_exact_copy_rate'))})",
                           _grade(excess, 0.001, 0.01, higher=False)))
        closer = priv.get("share_closer_than_holdout_p05")
        if closer is not None:
            cards.append(_card(closer, "share nearer real-train than 95 % of real-test rows "
                               "(about 0.05 is ideal; more: near copies)",
                               _grade(closer, 0.1, 0.25, higher=False)))
    if "active_units" in diag:
        frac = diag["active_units"] / max(1, diag["latent_dim"])
        cards.append(_card(f"{diag['active_units']}/{diag['latent_dim']}",
                           f"active latent units by variance ({diag.get('active_units_kl', '–')} "
                           f"by KL)", _grade(frac, 0.5, 0.1)))
    h.append("<div class='cards'>" + "".join(cards) + "</div>")
    found = report.get("findings") or []
    if found:
        h.append("<h2>Findings</h2><ul class='findings'>")
        for f in found:
            word = {"bad": "Problem", "warn": "Warning", "ok": "OK"}.get(f["level"], f["level"])
            grade = {"ok": "good"}.get(f["level"], f["level"])
            advice = (f"<br><span class='muted'>Try: {html.escape(f['advice'])}</span>"
                      if f.get("advice") else "")
            h.append(f"<li><b class='{grade}'>{word}</b> ({html.escape(f['section'])}): "
                     f"{html.escape(f['message'])}{advice}</li>")
        h.append("</ul>")

    # counts
    h.append("<h2>Rows per class</h2>")
    rows = [[c, report["counts"]["real"][c], report["counts"]["synthetic"][c]]
            for c in report["classes"]]
    h.append(_table(["class", "real", "synthetic"], rows))
    unlabelled = {k: v for k, v in (report["rows"].get("null_label_dropped") or {}).items() if v}
    if unlabelled:
        h.append("<p class='warn'>Rows with a null label, left out of every figure: "
                 + ", ".join(f"{v} of {html.escape(k.upper())}" for k, v in unlabelled.items())
                 + ".</p>")
    if report["skipped_columns"]:
        skipped = list(report["skipped_columns"].items())
        items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>"
                        for k, v in skipped[:_MOST])
        if len(skipped) > _MOST:  # a wide table's ID columns: one line each ran for pages
            items += (f"<li>... ({len(skipped)} in all: report.json's "
                      f"<code>skipped_columns</code> names each)</li>")
        h.append(f"<p class='muted'>Columns left out of the metrics:</p><ul>{items}</ul>")

    # fidelity
    if fid is None:
        h.append(_not_computed("Fidelity", report))
    else:
        _fidelity_html(h, fid, report, images)
    if images.get("latent"):
        ev = ", ".join(_f(v) for v in (report.get("latent") or {}).get(
            "explained_variance_ratio", []))
        h.append("<h3>Latent space</h3><p class='muted'>Posterior means of real and synthetic "
                 "rows, projected on the first two principal components of the real rows' "
                 f"latents (explained variance {ev}). One panel per class that has synthetic "
                 f"rows (at most {_MAX_PLOT_CLASSES}: those with the fewest real rows): its "
                 "synthetic rows (orange) under its real rows (blue), the other classes' real "
                 "rows grey behind, so a region of the class's real rows that no synthetic "
                 "row reaches shows. At most 2,000 rows of each side are drawn, at random; "
                 "the panels' titles count those.</p>" + _img(images["latent"], "latents"))
    if det is None:
        h.append(_not_computed("Detection (C2ST)", report))
    else:
        _detection_html(h, det)
    if util is None:
        h.append(_not_computed("Utility", report))
    else:
        _utility_html(h, util, report, images)
    if priv is None:
        h.append(_not_computed("Privacy", report))
    else:
        _privacy_html(h, priv, images, report)
    if report.get("model_given") and "model" not in (report.get("sections") or ["model"]):
        h.append(_not_computed("Model diagnostics", report))
    else:
        _diagnostics_html(h, diag, report, images)
    return _close(h)


def _not_computed(title: str, report) -> str:
    asked = ", ".join(report.get("sections") or [])
    return (f"<h2>{html.escape(title)}</h2><p class='muted'>Not computed: this report was "
            f"asked for {html.escape(asked)} only (<code>--sections</code> / "
            f"<code>sections=</code>).</p>")


def _fidelity_html(h, fid, report, images) -> None:
    h.append("<h2>Fidelity</h2><p class='muted'>Per class, each column's synthetic marginal "
             "is compared with the real one: 1 − Kolmogorov–Smirnov statistic for numbers (for "
             "tensors, averaged over elements), 1 − total-variation distance for categories "
             "(1 is identical), over the non-null values; a column scores the worse of that "
             "and 1 − its null-rate gap (a column null in every synthetic row: the gap "
             "alone). Associations are Pearson correlations of "
             "quantile-normalised numbers, bias-corrected Cramér's V between categories and the bias-corrected correlation "
             "ratio between a number and a category, computed within each class. The overall "
             "figure is the unweighted mean of the classes. Small classes score lower even "
             "for perfect synthetic rows: two samples of the same distribution differ by "
             "about 1/√n (two halves of a 5-row class of real digits score 0.65, of a 91-row "
             "class 0.94). So each class's figure is shown beside <em>real halves</em>: one "
             "random half of its real rows scored against the other. Halves have fewer rows "
             "than the real side of the synthetic comparison, so good synthetic rows score at "
             "or above it."
             + (f" A class with more than {report['max_rows']} rows on a side is compared on a "
                f"random {report['max_rows']} of them (the counts below are before that)."
                if any(max(e["n_real"], e["n_synthetic"]) > report.get("max_rows", 1 << 62)
                       for e in fid["per_class"].values()) else "")
             + "</p>")
    rows = []
    for c, e in fid["per_class"].items():
        a = e.get("association") or {}
        rows.append([c, e["n_real"], e["n_synthetic"], e["score"], e.get("real_reference"),
                     e.get("max_null_rate_gap"), a.get("mean_abs_diff"),
                     ", ".join(a.get("worst_pair", [])) or None])
    h.append(_table(["class", "real", "synthetic", "marginal fidelity", "real halves",
                     "max null-rate gap", "assoc. mean |diff|", "worst pair"], rows))
    h.append(_fidelity_dashes(fid["per_class"]))
    # the plots of the table above, before the subsections: after them they sat under the
    # last one's heading ("Linked columns" on churn), as if they were its figures
    for key, alt in (("fidelity", "fidelity heatmap"), ("marginals", "marginals"),
                     ("association", "association heatmaps")):
        h.append(_img(images.get(key), alt))
    rel = fid.get("relations") or []
    strong = [e for e in rel if not e.get("by_chance")]
    chance = [e for e in rel if e.get("by_chance")]
    if rel:
        h.append("<h3>Relations between numeric columns</h3><p class='muted'>Inequalities "
                 "that hold in every real row (and not merely because the two columns' ranges "
                 "do not overlap), with the share of synthetic rows that break them. Only "
                 "those that rows drawn from the two columns' marginals alone would break at "
                 "least 1 % of the time are listed: the others may hold in REAL by chance. "
                 "A model fitted with <code>--constraint 'A &lt;= B'</code> keeps a "
                 "relation; <code>--constraint auto</code> (the default) keeps the listed "
                 "kind.</p>")
    if strong:
        h.append(_table(["relation", "real rows", "synthetic rows", "broken", "share broken"],
                        [[e["relation"], e["real_rows"], e["synthetic_rows"], e["violations"],
                          e["violation_rate"]] for e in strong]))
    elif rel:
        h.append("<p>None of them is of that kind.</p>")
    derived = fid.get("derived") or []
    if derived:
        h.append("<h3>Derived columns</h3><p class='muted'>Numeric columns that are a linear "
                 "function of another in every real row, to the data's rounding (a charge "
                 "and its minutes), with the share of synthetic rows off that line by more "
                 "than the rounding allows. <code>--constraint auto</code> (the default) "
                 "recomputes such a column from its source in every generated row.</p>")
        h.append(_table(["relation", "real rows", "synthetic rows", "off", "share off"],
                        [[e["relation"], e["real_rows"], e["synthetic_rows"], e["off"],
                          e["off_rate"]] for e in derived]))
    links = fid.get("links") or []
    if links:
        h.append("<h3>Linked columns</h3><p class='muted'>A category value that real rows "
                 "have exactly where a numeric column holds its most frequent value (a "
                 "voice-mail plan and no voice-mail messages), with the share of rows that "
                 "break the link: the value without the spike, or the spike without the "
                 "value. <code>--constraint auto</code> (the default) sets the category "
                 "from the numeric column in every generated row.</p>")
        h.append(_broken_table("link", links))
    deps = fid.get("dependencies") or []
    if deps:
        h.append("<h3>Dependent categories</h3><p class='muted'>A categorical column that is a "
                 "function of another in the real rows (a region of its state), with the "
                 "share of rows whose value is not the one its determinant maps to. "
                 "<code>--constraint auto</code> (the default) sets it from the determinant "
                 "in every generated row.</p>")
        h.append(_broken_table("dependency", deps))
    if chance:
        h.append("<p class='muted'>Left out as possibly by chance: "
                 + items_note(f"<code>{html.escape(e['relation'])}</code> "
                              f"({_f(e['violation_rate'])} broken)" for e in chance) + ".</p>")
    for name, b64 in images.get("images", []):
        h.append(f"<h3>Images: <code>{html.escape(name)}</code></h3><p class='muted'>The "
                 "first six real and synthetic images of each class that has synthetic rows "
                 "(at most 20 classes, the smallest), on one intensity scale.</p>"
                 + _img(b64, name))


def _fidelity_dashes(per_class) -> str:
    """The note under the fidelity table saying why classes show "–": too few rows to compare
    (`fidelity._MIN_CLASS_ROWS` on a side), or too few real rows to halve (twice that); ""
    when none does. A long-tailed label's small classes filled the table with dashes."""
    from vae_augment.fidelity import _MIN_CLASS_ROWS

    def classes(n: int) -> str:
        return f"{n} class has" if n == 1 else f"{n} classes have"

    skipped = sum(1 for e in per_class.values() if e.get("skipped"))
    unhalved = sum(1 for e in per_class.values()
                   if not e.get("skipped") and e.get("real_reference") is None)
    notes = []
    if skipped:
        notes.append(f"–: {classes(skipped)} fewer than {_MIN_CLASS_ROWS} real or synthetic "
                     "rows, too few to compare")
    if unhalved:
        notes.append(f"real halves –: {classes(unhalved)} fewer than {2 * _MIN_CLASS_ROWS} "
                     "real rows, too few to halve")
    return f"<p class='muted'>{'; '.join(notes)}.</p>" if notes else ""


def _broken_table(key: str, entries) -> str:
    """The table of rules (`key`: "link" or "dependency") that real rows keep, with the
    real and synthetic rows that break each."""
    return _table([key, "real rows", "real share broken", "synthetic rows", "broken",
                   "share broken"],
                  [[e[key], e["real_rows"], e["real_broken_rate"], e["synthetic_rows"],
                    e["broken"], e["broken_rate"]] for e in entries])


def _detection_html(h, det) -> None:
    h.append("<h2>Detection (C2ST)</h2><p class='muted'>A gradient-boosting classifier tries "
             "to tell real rows from synthetic rows of the same classes (equal numbers of each "
             "per class, 5-fold cross-validated ROC AUC). 0.5: indistinguishable; 1.0: every "
             "synthetic row is recognisable; well below 0.5: synthetic rows copy real rows "
             "(see Privacy). Each class brings as many synthetic rows as it has real ones "
             "(at most), so a class with few real rows weighs little in the overall figure; "
             "per class it is computed from 20 rows a side (–: fewer), and on a few dozen rows "
             "it is noisy.</p>")
    if det.get("skipped"):
        h.append(f"<p>Skipped: {html.escape(det['skipped'])}</p>")
    _bucketed_html(h, det, "the compared rows")
    if det.get("chance_band") is not None:
        h.append(f"<p>The overall figure compares {det['rows_per_side']} rows a side; two "
                 f"samples of one distribution that size score 0.5 &plusmn; "
                 f"{_f(det['chance_band'])} by chance (3 standard deviations).</p>")
    rows = [["all classes", det["c2st_auc"]]] + [[c, v] for c, v in det["per_class"].items()]
    h.append(_table(["rows", "C2ST AUC"], rows))


def _bucketed_html(h, section, where: str) -> None:
    """The columns of many categories whose rare ones share one classifier feature."""
    cols = section.get("bucketed_columns") or {}
    if not cols:
        return
    k = next(iter(cols.values()))["features"]
    names = items_note(f"<code>{html.escape(c)}</code> ({v['categories']} categories)"
                       for c, v in cols.items())
    h.append(f"<p class='muted'>Columns with more than {k} categories are one-hot as their "
             f"{k - 1} most frequent categories in {where} and one feature for all the others "
             f"(as scikit-learn's <code>OneHotEncoder(max_categories={k})</code>): "
             f"{names}.</p>")


#: how each utility feature space reads in the report (reports before session 30 used the
#: encoding and do not name it)
_UTILITY_FEATURES = {
    "standard": "The features are the columns as most scikit-learn pipelines take them: "
                "numbers median-imputed and standardised, other columns one-hot "
                "(<code>--utility-features standard</code>, the public baselines' protocol), "
                "and SMOTE interpolates in that space; other features (numbers mapped to "
                "quantiles, say) may rank the methods differently. ",
    "encoding": "The features are the model's encoding of the columns (numbers mapped to "
                "normal quantiles, null indicators, categories one-hot; standardised for "
                "logistic regression; <code>--utility-features encoding</code>), and SMOTE "
                "interpolates in that space: a pipeline with other features (raw scaled "
                "numbers, say) may rank the methods differently. ",
}


def _utility_html(h, util, report, images) -> None:
    h.append("<h2>Utility</h2>")
    h.append(f"<p class='muted'>Held-out data: {html.escape(report['split']['method'])} "
             f"({report['split']['real_train']} / {report['split']['real_test']} rows). "
             "Each classifier is trained on real-train alone (<b>none</b>), after random "
             "oversampling, after SMOTE (imbalanced-learn, same feature space) and with the "
             "synthetic rows added (<b>vae_augment</b>, up to the counts imbalanced-learn's "
             "'auto' strategy asks for), and scored on real-test. "
             + _UTILITY_FEATURES[util.get("features", "encoding")]
             + ("" if report["split"]["holdout_given"] else
                "If the generator was trained on all of REAL, it saw the real-test rows and "
                "these figures are optimistic; pass a holdout for a clean estimate. ")
             + "</p>")
    _bucketed_html(h, util, "real-train")
    if util.get("real_train_rows", 0) > util.get("train_rows", 0):
        h.append(f"<p class='muted'>The classifiers were trained on a stratified random "
                 f"{util['train_rows']} of the {util['real_train_rows']} real-train rows "
                 f"(<code>max_rows</code>).</p>")
    if "results" in util:
        h.append(f"<p>Minority class: <code>{html.escape(util['minority_class'])}</code></p>")
        few = (util.get("test_counts") or {}).get(util["minority_class"])
        if few == 0:
            h.append("<p class='warn'>Real-test has no row of the minority class: its F1 and "
                     "average precision are undefined (–), and balanced accuracy and macro F1 "
                     "score the other classes only, so this section cannot say whether the "
                     "synthetic rows help the minority class (pass a "
                     "<code>--holdout</code> with rows of it, or more rows of REAL).</p>")
        elif few is not None and few < 10:
            h.append(f"<p class='warn'>Real-test has only {few} row{'s' if few != 1 else ''} of "
                     f"the minority class: its F1 and average precision rest on them and "
                     f"can swing widely (pass a larger <code>--holdout</code>).</p>")
        if util.get("smote_skipped"):
            h.append(f"<p class='muted'>{html.escape(util['smote_skipped'])}.</p>")
        if util.get("not_converged"):
            h.append(f"<p class='muted'>Stopped at their iteration limit before converging: "
                     f"{html.escape(', '.join(util['not_converged']))}.</p>")
        dropped = util.get("test_copies_dropped") or []
        dropped = dropped if isinstance(dropped, list) else [dropped]
        if any(dropped):
            h.append(f"<p class='warn'>Synthetic rows equal to a real-test row (label "
                     f"included) were left out of the vae_augment training set: "
                     f"{', '.join(map(str, dropped))} (per split). They would have handed "
                     f"the classifiers the answers they are scored on.</p>")
        if util.get("synthetic_shortfall"):
            # the classes short of the most rows first
            short = items_note(f"{html.escape(k)}: {v:,}" for k, v in sorted(
                util["synthetic_shortfall"].items(), key=lambda kv: -kv[1]))
            h.append(f"<p class='warn'>Not enough synthetic rows to balance real-train; "
                     f"missing rows per class: {short}.</p>")
        keys = ["balanced_accuracy", "macro_f1", "minority_f1", "minority_average_precision"]
        splits = util.get("splits") or 1
        if splits > 1:
            h.append(f"<p class='muted'>Each figure is the mean over {splits} stratified "
                     f"splits of REAL (seeds {', '.join(map(str, util['split_seeds']))}) ± "
                     f"its standard deviation over them; the synthetic rows are the same in "
                     f"every split. The findings compare methods split by split.</p>")
        elif util.get("bootstrap_se"):  # one split: how far real-test's rows move a gap
            metric, what = (("macro_f1", "macro F1") if len(util.get("classes") or []) > 2
                            else ("minority_f1", "minority F1"))
            parts = []
            for clf, pairs in util["bootstrap_se"].items():
                gaps = []
                for ref, key in (("none", "none"), ("SMOTE", "smote")):
                    se = (pairs.get(f"vae_augment-{key}") or {}).get(metric)
                    if se is not None:
                        gaps.append(f"{ref} ± {_f(2 * se)}")
                if gaps:
                    parts.append(f"{html.escape(clf.replace('_', ' '))}, against "
                                 f"{', '.join(gaps)}")
            if parts:
                h.append(f"<p class='muted'>One split: the gap between the vae_augment row's "
                         f"{what} and another row's moves with which rows real-test holds. "
                         f"Two standard errors of it (a paired bootstrap of real-test): "
                         f"{'; '.join(parts)}. The findings flag a gap only beyond them; more "
                         f"splits (<code>--utility-splits 5</code>) also weigh the split's "
                         f"own noise.</p>")
        for skip in util.get("splits_skipped") or []:
            h.append(f"<p class='warn'>The split of seed {skip['seed']} is left out: "
                     f"{html.escape(str(skip['why']))}.</p>")
        for clf, res in util["results"].items():
            methods = list(res)
            rows = [[m] + [res[m][k] for k in keys] for m in methods]
            best = {}  # every row at a column's top (ties alike); none in a column of "–"
            for j in range(1, len(keys) + 1):
                values = [r[j] for r in rows if r[j] is not None]
                if values:
                    best[j] = {i for i, r in enumerate(rows) if r[j] == max(values)}
            if splits > 1:  # "0.612 ± 0.021"
                sd = (util.get("sd") or {}).get(clf) or {}
                rows = [[r[0]] + [v if v is None or (sd.get(r[0]) or {}).get(k) is None else
                                  f"{_f(v)} ± {_f(sd[r[0]][k])}" for v, k in zip(r[1:], keys)]
                        for r in rows]
            h.append(f"<h3>{html.escape(clf.replace('_', ' '))}</h3>")
            h.append(_table(["training data", "balanced acc.", "macro F1", "minority F1",
                             "minority AP"], rows, best))
        h.append(_img(images.get("utility"), "utility"))
        if images.get("utility_classes"):
            h.append("<p class='muted'>Each class's own F1: a class whose bar with its "
                     "synthetic rows (vae_augment) is well under its bar with none is one "
                     "the findings name, with a sampling strategy that leaves it out.</p>")
            h.append(_img(images["utility_classes"], "F1 per class"))
    else:
        h.append(f"<p>Skipped: {html.escape(util.get('skipped', ''))}</p>")


def _privacy_html(h, priv, images, report) -> None:
    holdout = (report.get("split") or {}).get("holdout_given")
    kept_out = "the given holdout" if holdout else "which the split kept out of real-train"
    h.append("<h2>Privacy</h2><p class='muted'>Distance to the closest record (DCR, in the "
             "model's encoding: numbers as normal quantiles, null indicators, one-hot "
             "categories, each column weighted alike): from each synthetic row to the "
             "closest real-train row of its class, beside the same distance for real-test "
             f"rows of the same classes ({kept_out}). Synthetic rows much closer than real-test "
             "rows suggest memorisation. Exact copies are counted against every row of REAL"
             + (" (not the holdout's)" if holdout else "")
             + "; the real-test rows' rate (the data's own duplicates, the baseline), and "
               "the synthetic rows' copies of real-train rows beside it, against real-train "
               "only (like for like: discrete data repeats rows). If the model was trained on "
               "all of REAL, it has seen the real-test rows too: to the distances a copy of "
               "one looks like an unseen row, but the exact-copy rate counts it (the row of "
               "copies of real-test rows).</p>"
             + (f"<p class='muted'>{priv['exact_copy_left_out']} synthetic rows of classes "
                "REAL lacks are left out of the exact-copy rates.</p>"
                if priv.get("exact_copy_left_out") else ""))
    ds, dh = priv["dcr_synthetic"], priv["dcr_holdout"]
    rows = [
        ["synthetic, all", ds["median"], ds["p05"], ds["mean"], priv["exact_copy_rate"]],
        ["synthetic, copies of real-train rows", None, None, None,
         priv.get("train_exact_copy_rate")],
        ["synthetic, copies of real-test rows", None, None, None,
         priv.get("test_exact_copy_rate")],
        ["real-test, all (copies of real-train rows)", dh["median"], dh["p05"], dh["mean"],
         priv["holdout_exact_copy_rate"]],
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
    seen = priv.get("share_closer_to_test_than_train_p05")
    if seen is not None:
        test = "holdout" if holdout else "real-test"
        h.append(f"<p>Share of synthetic rows closer to a {test} row than the 5th percentile "
                 f"of real-train rows' distances to {test}: {_f(seen)} (about 0.05 when the "
                 f"model has not seen the {test} rows; a model that has, such as one fitted "
                 "on all of REAL, draws rows around them too, and the utility and model "
                 "figures are then optimistic).</p>")
    h.append(_img(images.get("privacy"), "distance to closest record"))


# the training figures worth a row on the page (report.json keeps them all)
_TRAINING_ROWS = (
    ("val_neg_elbo", "training: validation −ELBO at the best epoch (nats/row)"),
    ("neg_elbo", "training: training −ELBO at the best epoch (nats/row)"),
    ("best_epoch", "training: best epoch"),
    ("epochs_run", "training: epochs run (early stopping)"),
    ("train_rows", "training: training rows"),
    ("validation_rows", "training: validation rows"),
    ("train_seconds", "training: seconds"),
)


def _diagnostics_html(h, diag, report, images) -> None:
    h.append("<h2>Model diagnostics</h2>")
    if not diag:
        h.append("<p>No model given (pass <code>--model-dir</code>).</p>")
    elif "skipped" in diag:
        h.append(f"<p>Skipped: {html.escape(diag['skipped'])}</p>")
        _left_out_html(h, diag)
    else:
        h.append(f"<p class='muted'>On {diag['rows']} real-test rows, in nats per row. The "
                 "ELBO is estimated with one posterior sample per row; the importance-weighted "
                 f"bound (IWAE, k={diag['iw_samples']}) is a tighter lower bound on "
                 "log p(x | y), so a large gap between them means a poor encoder. A latent "
                 "dimension is active when its posterior mean varies within a class (variance "
                 "> 0.01, Burda et al. 2016); few active units means posterior collapse.</p>")
        _left_out_html(h, diag)
        h.append(_table(["metric", "value"], [
            ["ELBO (nats/row)", diag["elbo"]], ["IW bound (nats/row)", diag["iw_bound"]],
            ["−ELBO at the posterior mean (anomaly score)", diag["neg_elbo_at_posterior_mean"]],
            ["KL total (nats/row)", diag["kl_total"]],
            ["active units (variance)", f"{diag['active_units']} of {diag['latent_dim']}"],
            [f"active units (KL > {diag.get('kl_active_threshold', 0.1)} nats)",
             f"{diag['active_units_kl']} of {diag['latent_dim']}"],
        ] + [[name, diag.get("training", {})[key]] for key, name in _TRAINING_ROWS
             if diag.get("training", {}).get(key) is not None]))
        if images.get("curves"):
            from vae_augment.diagnostics import watched_loss

            curves = diag["curves"]
            watched = ("on the training rows and the validation rows early stopping watched"
                       if watched_loss(curves.get("history")) == "validation" else "on the training rows (none were held out for validation: early "
                            "stopping watched the training loss)")
            h.append("<h3>Training</h3><p class='muted'>Every epoch's figures, "
                     f"{watched}; the artifact keeps "
                     f"the weights of epoch {curves.get('best_epoch')} (dashed) of "
                     f"{curves.get('epochs_run')} run (cap {curves.get('epochs_cap')}). "
                     + ("The KL weight rises linearly to its full value over the shaded "
                        "warm-up, so the loss there is not comparable with the rest. "
                        if (curves.get("kl_warmup_epochs") or 0) > 1 else "")
                     + "<code>vae-augment info --model-dir M --history</code> prints them as "
                     "JSON.</p>" + _img(images["curves"], "training curves"))
        if images.get("kl"):  # under its own heading: under "Training" it read as a curve
            h.append("<h3>Latent dimensions</h3><p class='muted'>Each latent dimension's KL "
                     "from its class's prior, averaged over the real-test rows: the "
                     "information the dimension carries about a row. Grey bars, under the "
                     "dashed line, are collapsed dimensions the decoder ignores.</p>"
                     + _img(images["kl"], "KL per dimension"))
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
                             "generated rows passing", "SYNTHETIC's rows passing"],
                            [[str(c["class"]), c["floor"], c["real_test_pass"],
                              c["first_draw_pass"], c["generated_pass"],
                              c.get("synthetic_pass")]
                             for c in guide["classes"]]))
            like = guide.get("synthetic_like")
            if like:
                near, far = ("plain draws", "plain_pass"), ("guided rows", "guided_pass")
                if like != "plain":
                    near, far = far, near
                what = ("plain draws (<code>sample</code> without <code>--guided</code>)"
                        if like == "plain" else "rows drawn as balancing draws them")
                h.append(f"<p class='{'warn' if like == 'plain' else 'muted'}'>SYNTHETIC's "
                         f"rows pass at {guide['synthetic_pass']:.0%}, nearer {near[0]}' "
                         f"{guide[near[1]]:.0%} than {far[0]}' {guide[far[1]]:.0%} (weighted "
                         f"by SYNTHETIC's rows per class): they look like {what}.</p>")
        _labels_html(h, report.get("labels"))


def _left_out_html(h, diag) -> None:
    """The rows the model section left out (`diagnostics` ``left_out``), if any."""
    left = diag.get("left_out")
    if left:
        h.append(f"<p class='warn'>Left out of this section: {left['real']:,} rows of REAL "
                 f"and {left['synthetic']:,} of SYNTHETIC that hold {html.escape(left['why'])}"
                 " (the model cannot encode them).</p>")


def _labels_html(h, labels) -> None:
    """The rows whose labels the model doubts (`diagnostics._labels`)."""
    if not labels:
        return
    h.append("<h3>Labels the model doubts</h3>")
    if "skipped" in labels:
        h.append(f"<p>Skipped: {html.escape(labels['skipped'])}</p>")
        return
    t = labels["doubt_threshold"]
    h.append(f"<p class='muted'>The model as a classifier of {labels['rows']:,} real rows "
             "(the class posterior p(c | x) = p(c) p(x | c) / Σ p(c') p(x | c')): per class, "
             "the share whose most probable class is their label, and the rows it gives "
             f"their own label a probability under {t:g}. Rows where classes overlap are "
             "doubted too, so the count alone does not say the labels are wrong; the rows "
             "below, lowest p(label | x) first, are where mislabelled rows are likeliest "
             "(with 5 % of churn's labels flipped the ranking finds them with ROC AUC 0.92); "
             "'row of REAL' is a row's position in REAL, counted from 0. "
             "Every row's figure: <code>vae-augment score REAL OUT --model-dir M --kind "
             "label</code> (−log p(label | x)).</p>")
    h.append(_table(["class", "rows", "most probable class is the label",
                     f"rows under p = {t:g}", "the classes they look like"],
                    [[c["class"], c["rows"], c["agreement"],
                      f"{c['doubted']} ({c['doubted_share']:.1%})",
                      _looks_like(c["looks_like"])]
                     for c in labels["classes"]]))
    if labels["examples"]:
        cols = list(labels["examples"][0]["values"])
        # a row of every column: wider than the page on a wide table, so it scrolls
        h.append("<div class='wide'>" + _table(
            ["row of REAL", "label", "p(label | x)", "most probable class", "its p", *cols],
            [[e.get("row"), e["label"], _p_text(e["p_label"], e.get("log_p_label")),
              e["model_class"], f"{e['p_model_class']:.2g}",
              *[_value(e["values"].get(k)) for k in cols]] for e in labels["examples"]])
            + "</div>")


def _looks_like(classes) -> str:
    """A labels-table cell: the classes a class's doubted rows look like, the most rows first
    (with many classes, the 20 with the most and how many there are), or "–"."""
    ranked = sorted(classes.items(), key=lambda kv: -kv[1])  # stable: class order among equals
    return items_note(f"{k} {v}" for k, v in ranked) or "–"


def _p_text(p, log_p):
    """A probability as the labels table shows it; one that underflowed to 0 by its log
    (e^-812), so rows ranked by it do not all read 0."""
    if p or log_p is None:
        return f"{p:.2g}"
    return f"e^{log_p:.0f}"


def _value(v):
    """A row's value as it was (6.6, not the figures' 6.600)."""
    return f"{v:.6g}" if isinstance(v, float) else v


def _close(h) -> str:
    h.append("<p class='muted'>Generated by vae-augment; the same figures are in "
             "report.json.</p></main></body></html>")
    return "\n".join(x for x in h if x)


def write_report(report_dir, report: dict, plots: Mapping[str, Any]) -> dict[str, str]:
    """Draws the plots and writes ``report.json`` and ``report.html`` into `report_dir`.

    Returns the paths written ({"json": ..., "html": ...}).
    """
    from vae_augment.errors import InputError
    from vae_augment.evaluation import json_text
    from vae_augment.findings import STRATEGY_FILE

    images = draw(report, plots)
    files = {"json": os.path.join(os.fspath(report_dir), "report.json"),
             "html": os.path.join(os.fspath(report_dir), "report.html")}
    # the sampling strategy a finding advises, as --sampling-strategy takes it: a long one's
    # advice reads it from there (`findings.STRATEGY_FILE`)
    strategy = next((f["sampling_strategy"] for f in report.get("findings") or []
                     if f.get("sampling_strategy")), None)
    if strategy:
        files["sampling_strategy"] = os.path.join(os.fspath(report_dir), STRATEGY_FILE)
    report["files"] = files
    report["plots"] = sorted(k for k, v in images.items() if v)
    page = render_html(report, images)  # before any file: a failure leaves none half-made
    texts = {files["json"]: json_text(report), files["html"]: page}
    if strategy:
        texts[files["sampling_strategy"]] = json.dumps(strategy) + "\n"
    # every file to a hidden temporary name first, then renamed: a full disk (the page, with
    # its plots, is the big one) or Ctrl-C left a new report.json beside the previous
    # report.html, or a report.json alone that the next run refused to overwrite
    created = not os.path.isdir(report_dir)
    temps: dict[str, str] = {}
    try:
        os.makedirs(report_dir, exist_ok=True)
        for path, text in texts.items():
            temps[path] = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
            with open(temps[path], "w", encoding="utf-8") as f:
                f.write(text)
        for path, tmp in temps.items():
            os.replace(tmp, path)
    except BaseException as exc:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.remove(tmp)
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(report_dir)
        if isinstance(exc, OSError):
            raise InputError(f"could not write the report into '{os.fspath(report_dir)}': "
                             f"{exc.strerror or exc}") from exc
        raise
    return files
