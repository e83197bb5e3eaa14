"""`vae-augment evaluate REAL SYNTHETIC --label y --report DIR`: the evaluation report.

Prints a one-line JSON summary to stdout and writes ``DIR/report.json`` and
``DIR/report.html`` (see `vae_augment.evaluation.evaluate`).
"""

from __future__ import annotations

import json
import sys

from vae_augment.cli import register_command

__all__ = ["add", "cmd_evaluate", "summary_line", "warn_left_out", "print_findings"]


def summary_line(report: dict) -> dict:
    """The headline figures of a report (what the CLI prints)."""
    util = (report.get("utility") or {}).get("results", {})
    lr = util.get("logistic_regression", {})
    out = {"report": report.get("files", {}).get("html")}
    for key, section, field in (("fidelity", "fidelity", "score"),
                                ("fidelity_real_halves", "fidelity", "real_reference"),
                                # the fidelity of the classes real halves has a figure for
                                ("fidelity_same_classes", "fidelity", "score_same_classes"),
                                ("c2st_auc", "detection", "c2st_auc"),
                                ("exact_copy_rate", "privacy", "exact_copy_rate"),
                                ("share_closer_than_holdout_p05", "privacy",
                                 "share_closer_than_holdout_p05")):
        # a section left out (--sections) is not printed (nor a figure an older report lacks)
        if report.get(section) is not None and field in report[section]:
            out[key] = report[section][field]
    if out.get("fidelity_same_classes") == out.get("fidelity"):  # every class has halves
        out.pop("fidelity_same_classes", None)
    # worst first: an inequality every real row keeps, that the marginals alone would break
    # (else it may hold by chance), and at least 1 % of synthetic rows break (fewer may be
    # chance too: real-vs-real halves of churn show up to 0.2 %)
    broken = [e for e in (report.get("fidelity") or {}).get("relations", [])
              if e["violation_rate"] >= 0.01 and not e.get("by_chance")]
    if broken:
        out["relation_broken"] = broken[0]["relation"]
        out["relation_broken_share"] = broken[0]["violation_rate"]
    off = [e for e in (report.get("fidelity") or {}).get("derived", []) if e["off_rate"] >= 0.01]
    if off:  # worst first: a derived column the synthetic rows do not keep
        out["derived_off"] = off[0]["relation"]
        out["derived_off_share"] = off[0]["off_rate"]
    links = [e for e in (report.get("fidelity") or {}).get("links", [])
             if e["broken_rate"] >= 0.01]
    if links:  # worst first: a linked pair of columns the synthetic rows do not keep
        out["link_broken"] = links[0]["link"]
        out["link_broken_share"] = links[0]["broken_rate"]
    deps = [e for e in (report.get("fidelity") or {}).get("dependencies", [])
            if e["broken_rate"] >= 0.01]
    if deps:  # worst first: a categorical column the synthetic rows do not map as real ones
        out["dependency_broken"] = deps[0]["dependency"]
        out["dependency_broken_share"] = deps[0]["broken_rate"]
    # the figure the findings judge: minority F1 for two classes, macro F1 for more (one
    # class's F1 says little of the others)
    metric = ("macro_f1" if len((report.get("utility") or {}).get("classes") or []) > 2
              else "minority_f1")
    for method in ("none", "smote", "vae_augment"):
        if method in lr:
            out[f"{metric}_lr_{method}"] = lr[method][metric]
    if ((report.get("utility") or {}).get("splits") or 1) > 1:  # the F1s above are means
        out["utility_splits"] = report["utility"]["splits"]
    if (report.get("utility") or {}).get("features", "standard") != "standard":
        out["utility_features"] = report["utility"]["features"]
    diag = report.get("diagnostics") or {}
    if "active_units" in diag:
        out["active_units"] = diag["active_units"]
        out["iw_bound"] = diag["iw_bound"]
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def utility_features_arg(p) -> None:
    p.add_argument("--utility-features", choices=("standard", "encoding"), default="standard",
                   help="the utility classifiers' features, where SMOTE interpolates too: "
                        "standard (numbers median-imputed and standardised, other columns "
                        "one-hot, as the public baselines and most scikit-learn pipelines) or "
                        "encoding (the model's: numbers as normal quantiles, null indicators, "
                        "one-hot); the methods can rank differently [standard]")


def cmd_evaluate(args) -> int:
    from vae_augment.evaluation import evaluate

    report = evaluate(
        args.real, args.synthetic, label=args.label, model=args.model_dir,
        report_dir=args.report, seed=args.seed, holdout=args.holdout,
        test_size=args.test_size, max_rows=args.max_rows, exclude=args.exclude,
        progress=False if args.quiet else None,
        sections=args.sections, overwrite=args.overwrite,
        utility_splits=args.utility_splits, utility_features=args.utility_features,
    )
    print(json.dumps(summary_line(report)))
    # the warnings and problems are printed under --quiet too: it silences progress only
    warn_left_out(report)
    print_findings(report)
    if not args.quiet:
        print(f"wrote {report['files']['html']} and report.json", file=sys.stderr)
    return 0


def print_findings(report: dict) -> None:
    """One stderr line per finding that flags something (`vae_augment.findings`)."""
    from vae_augment.findings import format_finding

    given = set()
    for f in report.get("findings") or []:
        if f["level"] != "ok":  # an advice already printed is not repeated
            print(format_finding(f, advice=f.get("advice") not in given), file=sys.stderr)
            given.add(f.get("advice"))


def warn_left_out(report: dict) -> None:
    """One stderr line per column the metrics left out for a reason the user did not give
    (an ID-like text column): the report lists them too. (A column null in every synthetic
    row stays in the metrics, and the findings name its null-rate gap.)"""
    for name, why in (report.get("skipped_columns") or {}).items():
        if why.startswith("more than"):
            print(f"vae-augment: warning: column '{name}' is left out of the metrics: {why}",
                  file=sys.stderr)


@register_command
def add(sub, common) -> None:
    p = sub.add_parser(
        "evaluate", parents=[common],
        help="report how good synthetic rows are (fidelity, C2ST, utility, privacy, model)",
        description="Compare SYNTHETIC rows with REAL rows and write report.json and a "
                    "self-contained report.html. REAL is split (stratified, --test-size) into "
                    "real-train and real-test unless --holdout is given.",
    )
    p.add_argument("real", help="real rows: Parquet file, directory or glob "
                                "(rows with is_synthetic=true are ignored)")
    p.add_argument("synthetic", help="synthetic rows with REAL's columns (with an is_synthetic "
                                     "column, e.g. a balance output, only flagged rows are used)")
    p.add_argument("--label", required=True, help="class label column")
    p.add_argument("--report", required=True, metavar="DIR",
                   help="directory for report.json and report.html (created; its parent must "
                        "exist)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a report already in --report DIR")
    p.add_argument("--model-dir", default=None,
                   help="artifact that generated SYNTHETIC (adds ELBO, IW bound, KL per "
                        "dimension, active units and a latent plot)")
    p.add_argument("--holdout", default=None,
                   help="real rows the model never saw, used as the test set instead of a split")
    p.add_argument("--test-size", type=float, default=0.3,
                   help="share of REAL held out for testing when no --holdout [0.3]")
    p.add_argument("--max-rows", type=int, default=20000,
                   help="cap on the rows compared per class for fidelity, on real-train "
                        "rows for the utility classifiers, on query rows for privacy and on "
                        "the rows per class whose labels the model checks (--model-dir); "
                        "detection (5000) and the other model diagnostics (2000) have their "
                        "own caps [20000]")
    p.add_argument("--exclude", action="append", default=[], metavar="COL",
                   help="column to leave out of the metrics; repeatable")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--utility-splits", type=int, default=1, metavar="N",
                   help="average the utility classifiers over N stratified splits of REAL "
                        "(seeds SEED, SEED+1, ...) and flag a gap between methods only when "
                        "it holds beyond their spread; each split costs the utility section "
                        "again; not with --holdout [1]")
    utility_features_arg(p)
    p.add_argument("--sections", default=None, metavar="LIST",
                   help="comma-separated sections to compute, of fidelity, detection, utility, "
                        "privacy, model [all]; e.g. fidelity,detection skips the slow parts: the "
                        "utility classifiers and, on large inputs, the privacy section's "
                        "nearest-neighbour search")
    p.set_defaults(func=cmd_evaluate)
