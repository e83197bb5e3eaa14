"""Findings: what an evaluation report's figures say about the synthetic rows, in words, and
what to try. `vae_augment.evaluate` adds them to the report (``report["findings"]``), the
HTML report lists them first, and ``vae-augment evaluate`` / ``balance --report`` print the
warnings on stderr.

Each finding is ``{"level": "bad" | "warn" | "ok", "section": ..., "message": ...,
"advice": ...}``. The checks and their thresholds:

- utility: a classifier trained with the synthetic rows scores the minority class's F1
  (macro F1 with more than two classes) more than `UTILITY_MARGIN` under no balancing
  ("bad": the rows hurt it; "warn" when balancing itself lowers the figure: random
  oversampling, with the same counts, scores no better than the rows beyond the margin, and
  it lowers the figure too or the classifier at real-train's class shares scores level) or
  under SMOTE ("warn"); one split's F1 moves
  by 0.01-0.03, so smaller gaps are noise; with several splits (`evaluate(utility_splits=)`)
  the gap, paired split by split, must also exceed two standard errors of its mean; with
  more than two classes, a class whose own F1 falls by more than `CLASS_MARGIN` against no
  balancing ("warn", advising a `sampling_strategy` that leaves it out, and `--guided` unless
  balancing itself lowers the class, by the same rule); and synthetic rows equal to real-test rows, left out of the utility figures ("warn": they would
  have leaked the answers);
- detection: a classifier tells synthetic from real rows with an AUC of `C2ST_HIGH` or more
  (naming the column whose marginal differs most, or, when every column scores
  `MARGINALS_MATCH` or more, the pair of columns whose association differs most), or of
  `C2ST_LOW` or less (rows nearer the real ones than real rows are to each other);
- fidelity: a rule every real row keeps (an inequality, a derived or a linked column, a
  dependent category) broken
  by 1 % or more of the synthetic rows, a column whose null rate in a class is `NULL_GAP`
  or more away from the real rows', or a class's marginal score well under what two halves
  of its real rows score (one finding for all such classes);
- privacy: exact copies of real rows (real-train or real-test) beyond the data's own
  duplicate rate (real-test rows equal to a real-train row), or many rows nearer real-train
  than real-test rows are;
- seen rows: the model has seen the real-test rows (or the holdout's): more synthetic rows sit
  nearer a real-test row than 95 % of real-train rows do than chance (about 5 %) and the
  test share allow (`SEEN_TEST`; "warn": utility and the model section are optimistic);
- model: few active latent units (posterior collapse); rows of REAL or SYNTHETIC the model
  cannot encode (a category value or a class it was not trained on), left out; training
  that stopped at the epoch cap while early stopping still saw the validation loss improve
  (under-trained).

A list of classes or columns in a message names the first (worst) 10 or 20 and how many
there are (`errors.items_note`): a long-tailed label's 34 classes made a 3 KB line.

Advice names the flags that address each: `--guided` for utility when the model was not
fitted with the class guide, and `sample --guided` when it was but SYNTHETIC looks like its
plain draws (the model section's ``guide.synthetic_like``: SYNTHETIC's share of rows at the
guide's floor is nearer plain draws' than guided rows'). Detection's advice is never the
guide's redraws for a guided model: plain draws are the harder to detect.

Example:
    >>> findings({"detection": {"c2st_auc": 0.52}})[0]["level"]
    'ok'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from vae_augment.errors import items_note

__all__ = ["findings", "UTILITY_MARGIN", "CLASS_MARGIN", "C2ST_HIGH", "C2ST_LOW", "NULL_GAP",
           "NULL_GAP_COLUMNS", "SEEN_TEST", "format_finding"]

#: a utility gap smaller than this is within one split's noise (the benchmark tables' F1
#: moves by 0.01-0.03 between split seeds; benchmarks/results/quality.md)
UTILITY_MARGIN = 0.02
#: a class's own F1 (more than two classes) falling by more than this with its synthetic rows
#: is reported: one class's F1 rests on fewer real-test rows than the macro mean, so it moves
#: more with the split
CLASS_MARGIN = 0.05
#: C2ST AUC at or above this: the synthetic rows are easy to tell apart (the issue's target
#: for churn is under 0.75)
C2ST_HIGH = 0.75
#: C2ST AUC at or under this: the synthetic rows sit nearer the real rows than real rows sit
#: to each other (copies, or nearly)
C2ST_LOW = 0.4
#: a worst column score at or above this: the marginals match, and a high C2ST AUC is
#: the joint's (the pair of columns whose association differs most is named instead)
MARGINALS_MATCH = 0.95
#: the share of synthetic rows breaking a rule of the real rows that is reported
RULE_SHARE = 0.01
#: a ``sampling_strategy`` of more classes than this is not inlined in the advice: its
#: short name, or the file `report.write_report` writes it to
STRATEGY_INLINE = 20
#: the file in the report folder holding a finding's ``sampling_strategy`` (JSON, as the CLI's
#: ``--sampling-strategy`` takes it)
STRATEGY_FILE = "sampling_strategy.json"
#: a column's null rate in a class this far from the real rows' is reported (a column's
#: fidelity score is at most 1 - its gap, but a mean over columns and classes hides one)
NULL_GAP = 0.1
#: more columns than this with a null-rate gap make one finding (the worst 10 named, every
#: one in its ``columns``): a wide table's nullable columns made a line each
NULL_GAP_COLUMNS = 3

_GUIDED = ("fit with --guided, the defaults (Python: fit(..., **vae_augment.GUIDED)), and "
           "balance (or sample with --guided): a classifier of the real rows redraws the "
           "rows it places outside their class; on the benchmark tables it meets 8 of the 9 "
           "quality targets (--unguided 4) and lowers C2ST (churn 0.81 -> 0.54), at about "
           "a third of the sampling speed")

_SAMPLE_GUIDED = ("draw them as balance does: vae-augment sample --guided (Python: "
                  "sample(..., guided=True)); SYNTHETIC looks like plain draws of this guided "
                  "model (one draw a row, which the class guide never checks; see the model "
                  "section), and on the benchmark tables the guide's redraws raise the "
                  "minority F1 (churn: logistic regression 0.443 -> 0.483, gradient boosting "
                  "0.719 -> 0.829)")


#: the privacy message's context when SYNTHETIC's file is a `balance` output, its real rows
#: beside the synthetic ones
_BESIDE = ("; SYNTHETIC's file holds %s real rows beside them (a `balance` output), so "
           "they disclose little the file does not: this matters when synthetic rows are "
           "shared without the real ones")
#: the privacy advice for a model fitted with a KL weight under 1 (the defaults' 0.5 on tables
#: of 2,000 rows or more): its narrower posteriors put generated rows nearer their training rows
#: (benchmarks/results/privacy_beta_s40.txt)
_BETA_1 = ("fit with --beta 1 (this model's KL weight is %g: narrower posteriors, so rows "
           "drawn around them sit nearer their training rows; bundled churn, default "
           "settings: 73 %% of rows at 0.5, 12 %% at 1, SMOTE-NC's rows 70 %%), then ")
#: the near-copy filter at the distance most real-test rows keep, the report's own figure
#: (bundled churn at --beta 1: 12 % of rows near -> 1.8 %; at the defaults' 0.5 the filter
#: fails, 1.2 % of draws passing: privacy_beta_s41.txt)
_FILTER = ("--privacy-min-distance %.3g drops and redraws rows nearer a real row than 95 %% "
           "of real-test rows are to real-train (bundled churn at --beta 1: 12 %% of rows "
           "near -> 1.8 %%)")


def _f(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _class_value(report, c):
    """Class `c` in the label's own type. The report keys classes by their text (JSON's keys
    are strings: ``classes``, ``counts``, ``per_class``), so an int label's class 28 is '28'
    there; ``class_type`` ("int", "bool" or "str") gives the type back. A report without it
    (one from before it, or hand-built): the text."""
    kind = report.get("class_type")
    if c is None:
        return c
    if kind == "int":
        return int(c)
    if kind == "bool":
        return c in (True, "True")
    return c


def _class(report, c) -> str:
    """Class `c` in a message as the rest of the report shows it: the int class 28 as 28,
    True as True, the string class 'yes' quoted (``'28'`` read as a string class)."""
    return repr(_class_value(report, c))


def _boot_se(util, clf: str, ours: str, ref: str, metric: str):
    """One split's bootstrap standard error of `ours`'s figure minus `ref`'s (a list per
    class for the per-class figures); None when the report has none."""
    pairs = (util.get("bootstrap_se") or {}).get(clf) or {}
    return (pairs.get(f"{ours}-{ref}") or {}).get(metric)


def _gap(util, clf: str, ref: str, metric: str, ours: str = "vae_augment"):
    """(mean gap, the splits it is negative on, the splits compared, its standard error) of
    method `ours`'s figure (the synthetic rows') against method `ref`'s, paired split by
    split; None when either figure is missing. One split: its gap, and the standard error
    that real-test's rows give it (`utility._bootstrap_se`; None in reports without it)."""
    per = util.get("per_split")
    if not per:
        res = (util.get("results") or {}).get(clf) or {}
        a, b = ((res.get(m) or {}).get(metric) for m in (ours, ref))
        return None if a is None or b is None else (
            a - b, int(a < b), 1, _boot_se(util, clf, ours, ref, metric))
    return _paired([s[clf][ours][metric] - s[clf][ref][metric] for s in per
                    if clf in s and all((s[clf].get(m) or {}).get(metric) is not None
                                        for m in (ours, ref))])


def _by_balancing(ros, ros_none, prior, margin: float = UTILITY_MARGIN):
    """Whether balancing itself, not the synthetic rows, explains a figure that falls with
    them: random oversampling (the same counts) does not beat the rows beyond the noise
    (`ros`: the rows' gap against it; None when not computed), and either it lowers the
    figure too (`ros_none`: its gap against no balancing, beyond the noise) or at real-train's
    class shares the rows' figure is level with no balancing's (`prior`). The prior alone
    does not excuse rows that random oversampling beats: copies of real rows balance as
    much and do better. Returns (excused, ros lowers it, prior level)."""
    ros_lowers = ros_none is not None and _beyond_noise(ros_none, margin)
    prior_level = prior is not None and not _beyond_noise(prior, margin)
    rows_as_good = ros is None or not _beyond_noise(ros, margin)
    return rows_as_good and (ros_lowers or prior_level), ros_lowers, prior_level


def _paired(gaps):
    """(mean, the splits a gap is negative on, the splits, the mean's standard error or None
    for one split) of per-split gaps; None for none."""
    if not gaps:
        return None
    se = float(np.std(gaps, ddof=1) / np.sqrt(len(gaps))) if len(gaps) > 1 else None
    return float(np.mean(gaps)), sum(g < 0 for g in gaps), len(gaps), se


def _beyond_noise(gap, margin: float = UTILITY_MARGIN) -> bool:
    """A gap under -`margin`, and with several splits also beyond two standard errors of its
    mean."""
    mean, _, _, se = gap
    return mean < -margin and (se is None or mean + 2 * se < 0)


def _utility(report, redraw: str | None) -> list[dict[str, Any]]:
    """`redraw`: the advice that would bring in the class guide's redraws (None when the
    rows already had them)."""
    util = report.get("utility") or {}
    out: list[dict[str, Any]] = []
    multi = len(util.get("classes") or []) > 2
    metric, what = (("macro_f1", "macro F1") if multi else
                    ("minority_f1",
                     f"minority-class ({_class(report, util.get('minority_class'))}) F1"))
    splits = int(util.get("splits") or 1)
    where = (f"on real-test (the mean of {splits} splits)" if splits > 1 else "on real-test")
    for key, name in (("logistic_regression", "logistic regression"),
                      ("gradient_boosting", "gradient boosting")):
        res = (util.get("results") or {}).get(key) or {}
        ours = (res.get("vae_augment") or {}).get(metric)
        if ours is None:
            continue
        advice = (redraw or
                  "balance less (--sampling-strategy 0.5 grows each class to half the "
                  "majority)")
        for ref, level, tail in (("none", "bad", "these rows hurt it"),
                                 ("smote", "warn", None)):
            gap = _gap(util, key, ref, metric)
            if gap is None or not _beyond_noise(gap):
                continue
            theirs = ((res.get(ref) or {}).get(metric))
            than = f"under {_f(theirs)} with no balancing" if ref == "none" else \
                f"under SMOTE's {_f(theirs)}"
            several = (" (--utility-splits 5, Python utility_splits=5, averages five and "
                       "tells a real gap from the split's noise)")
            spread = (f" (lower on {gap[1]} of {gap[2]} splits, gap {gap[0]:+.3f} ± "
                      f"{2 * gap[3]:.3f})" if gap[3] is not None and gap[2] > 1 else
                      f" on one split, by {-gap[0]:.3f}, past the ± {2 * gap[3]:.3f} that "
                      f"real-test's rows alone give it{several}" if gap[3] is not None else
                      f" on one split{several}")
            # balancing to equal classes can lower the figure by itself (macro F1 weighs
            # the majority's F1 too, which a uniform prior lowers): so it is when random
            # oversampling, with the same counts, scores no better, or when the classifier
            # at real-train's class shares scores level with no balancing
            excused, ros_lowers, prior_level = (False, False, False)
            if ref == "none":
                excused, ros_lowers, prior_level = _by_balancing(
                    _gap(util, key, "random_oversampling", metric),
                    _gap(util, key, "none", metric, ours="random_oversampling"),
                    _gap(util, key, "none", f"{metric}_at_real_prior"))
            evidence = []
            if excused and ros_lowers:
                evidence.append(f"random oversampling scores "
                                f"{_f((res.get('random_oversampling') or {}).get(metric))} "
                                f"with the same counts")
            if excused and prior_level:
                evidence.append(
                    f"at real-train's class shares (its probabilities reweighted) the "
                    f"classifier scores "
                    f"{_f((res.get('vae_augment') or {}).get(f'{metric}_at_real_prior'))}")
            if excused:
                out.append({"level": "warn", "section": "utility", "message":
                            f"{name} trained with the synthetic rows scores {what} "
                            f"{_f(ours)} {where}, {than}{spread}; {' and '.join(evidence)}: "
                            f"balancing the classes itself lowers this figure here, not "
                            f"these rows",
                            "advice": "balance less (--sampling-strategy 0.5 grows each "
                            "class to half the majority) or not at all for this classifier "
                            "(class weights, or a threshold tuned on validation data)"})
                continue  # the rows may still be worse than SMOTE's
            out.append({"level": level, "section": "utility", "message":
                        f"{name} trained with the synthetic rows scores {what} {_f(ours)} "
                        f"{where}, {than}{spread}" + (f": {tail}" if tail else ""),
                        "advice": advice})
            break  # worse than no balancing says it all
    minority = util.get("minority_class")
    if "results" in util and (util.get("test_counts") or {}).get(minority) == 0:
        out.append({"level": "warn", "section": "utility", "message":
                    f"real-test has no row of the minority class {_class(report, minority)}: "
                    f"its F1 is "
                    f"undefined and the other figures score the other classes only, so the "
                    f"utility section cannot say whether the synthetic rows help it",
                    "advice": "pass a holdout with rows of that class (--holdout), or "
                    "evaluate on more rows of REAL"})
    dropped = util.get("test_copies_dropped") or []
    if isinstance(dropped, int):
        dropped = [dropped]
    if any(dropped):
        per = (f" ({', '.join(map(str, dropped))} on the {len(dropped)} splits)"
               if len(dropped) > 1 else "")
        out.append({"level": "warn", "section": "utility", "message":
                    f"{max(dropped):,} synthetic rows{' at most' if len(dropped) > 1 else ''} "
                    f"equal a real-test row{per}: the utility figures leave them out, as "
                    f"they would have handed the classifiers the answers they are scored on "
                    f"(a model trained on all of REAL has seen real-test)",
                    "advice": "pass --holdout with rows the model never saw for a clean "
                    "estimate; --privacy-min-distance 0 drops exact copies of real rows"})
    if util.get("synthetic_shortfall"):
        # the classes short of the most rows first, at most 20 of them
        short = items_note(f"{_class(report, k)}: {v:,}" for k, v in sorted(
            util["synthetic_shortfall"].items(), key=lambda kv: -kv[1]))
        out.append({"level": "warn", "section": "utility", "message":
                    f"SYNTHETIC has fewer rows than balancing real-train needs ({short} "
                    "missing): the utility figures used what there was",
                    "advice": "sample more rows of those classes"})
    return out


def _class_gaps(report, redraw: str | None,
                report_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """More than two classes: the classes whose own F1 falls with their synthetic rows, by
    more than `CLASS_MARGIN` against no balancing (and, over several splits, beyond two
    standard errors of the paired gap), per classifier, worst first; the advice is the
    `sampling_strategy` that balances the other classes only."""
    util = report.get("utility") or {}
    classes = util.get("classes") or []
    counts = util.get("train_counts") or {}
    if len(classes) <= 2 or "vae_augment" not in counts or "none" not in counts:
        return []
    grown = [i for i, c in enumerate(classes)
             if counts["vae_augment"].get(c, 0) > counts["none"].get(c, 0)]
    runs = util.get("per_split") or [util.get("results") or {}]
    out, hurt, rows_blamed = [], set(), False
    for key, name in (("logistic_regression", "logistic regression"),
                      ("gradient_boosting", "gradient boosting")):
        res = (util.get("results") or {}).get(key) or {}
        if not {"none", "vae_augment"} <= set(res):
            continue
        def class_gap(i, ref, figure="f1_per_class", key=key, ours="vae_augment"):
            def at(run, method):  # class i's figure, or None when the run lacks it
                values = ((run.get(key) or {}).get(method) or {}).get(figure)
                return None if values is None else values[i]

            gap = _paired([at(r, ours) - at(r, ref) for r in runs
                           if at(r, ours) is not None and at(r, ref) is not None])
            if gap is not None and not util.get("per_split"):  # one split: real-test's noise
                per_class = _boot_se(util, key, ours, ref, figure)
                gap = (*gap[:3], per_class[i] if per_class else None)
            return gap

        flagged = []
        for i in grown:
            gap = class_gap(i, "none")
            if gap is not None and _beyond_noise(gap, CLASS_MARGIN):
                # balancing is the cause when random oversampling does no better than the
                # rows and lowers the class too, or the class's F1 at real-train's class
                # shares is level with none's (`_by_balancing`)
                flagged.append((gap[0], i, gap[1], gap[2], _by_balancing(
                    class_gap(i, "random_oversampling"),
                    class_gap(i, "none", ours="random_oversampling"),
                    class_gap(i, "none", "f1_per_class_at_real_prior"), CLASS_MARGIN)))
        if not flagged:
            continue
        flagged.sort()
        hurt |= {classes[i] for _, i, _, _, _ in flagged}
        rows_blamed |= any(not balancing[0] for *_, balancing in flagged)

        def why(balancing):
            excused, ros_lowers, prior_level = balancing
            if not excused:
                return ""
            said = (["random oversampling lowers it as much"] * ros_lowers
                    + ["at real-train's class shares it does not fall"] * prior_level)
            return f" (balancing lowers it: {' and '.join(said)})"

        # the 10 worst: each is a sentence long
        what = items_note((
            f"{_class(report, classes[i])} {_f(res['vae_augment']['f1_per_class'][i])} against "
            f"{_f(res['none']['f1_per_class'][i])}"
            + (f" (lower on {k} of {n} splits)" if n > 1 else "") + why(balancing)
            for _, i, k, n, balancing in flagged), most=10)
        many = len(flagged) > 1
        one_split = ("" if len(runs) > 1 else
                     " on one split" + (", past the noise of real-test's rows"
                                        if util.get("bootstrap_se") else "")
                     + " (--utility-splits 5, Python utility_splits=5, tells a real fall "
                       "from the split's noise)")
        out.append({"level": "warn", "section": "utility", "message":
                    f"{name} scores {'these classes' if many else 'this class'} a lower F1 "
                    f"with {'their' if many else 'its'} synthetic rows than with no "
                    f"balancing{one_split}: {what}",
                    "advice": ""})
    if out:
        real = (report.get("counts") or {}).get("real") or {}
        top = max(real.values()) if real else 0
        keep = {c: top for c, n in real.items() if c not in hurt and 0 < n < top}
        advice = (_strategy_advice(report, keep, hurt, top, report_dir) if keep else
                  "leave these classes unbalanced")
        if redraw and rows_blamed:  # the guide cannot help what balancing does
            advice += "; or " + redraw
        for f in out:
            f["advice"] = advice
            if keep:  # the strategy as the CLI takes it (JSON's keys: the classes' text)
                f["sampling_strategy"] = dict(keep)
    return out


def _strategy_advice(report, keep, hurt, top, report_dir) -> str:
    """The advice to balance the classes of `keep` only (each to the majority's `top` rows).
    A dict of up to `STRATEGY_INLINE` classes inline, as ``--sampling-strategy`` takes it;
    a longer one (a long-tailed label's 148 classes made it 3 KB) by the name of
    imbalanced-learn's strategy that generates the same rows, if one does ('not minority':
    the class left out is the minority), else read from `STRATEGY_FILE` in `report_dir`
    (`report.write_report` writes the finding's ``sampling_strategy`` there), or without
    a report folder named as the finding's field."""
    import shlex

    from vae_augment.balancing import samples_to_generate
    from vae_augment.errors import VAEAugmentError

    if len(keep) <= STRATEGY_INLINE:
        return f"balance the other classes only: --sampling-strategy '{json.dumps(keep)}'"
    left = items_note(_class(report, c) for c in _hurt_order(report, hurt))
    counts = {_class_value(report, c): n for c, n in
              ((report.get("counts") or {}).get("real") or {}).items() if n > 0}
    try:
        wanted = samples_to_generate(counts, {_class_value(report, c): n
                                              for c, n in keep.items()})
        for name, what in (("not minority", "every class but the minority"),
                           ("not majority", "every class but the majority"),
                           ("all", "every class"), ("minority", "the minority only")):
            if samples_to_generate(counts, name) == wanted:
                return (f"balance the other classes only: --sampling-strategy '{name}' "
                        f"({what}, {left}, grown to the majority's {top:,} rows)")
    except VAEAugmentError:  # counts imbalanced-learn will not take: no name, then
        pass
    grow = (f"balance the other classes only: grow each class but {left} to the majority's "
            f"{top:,} rows ({len(keep)} classes)")
    if report_dir is None:
        return (f"{grow}: its --sampling-strategy JSON is this finding's "
                f"\"sampling_strategy\" in the report (report.json)")
    path = shlex.quote(os.path.join(os.fspath(report_dir), STRATEGY_FILE))
    return (f"{grow}: --sampling-strategy {path} (Python: this finding's "
            f"\"sampling_strategy\")")


def _hurt_order(report, hurt) -> list:
    """The classes of `hurt` in the label's order (report ``classes``; else sorted)."""
    order = (report.get("utility") or {}).get("classes") or report.get("classes") or []
    return [c for c in order if c in hurt] + sorted(c for c in hurt if c not in order)


def _detection(report, guided: bool) -> list[dict[str, Any]]:
    det = report.get("detection") or {}
    auc = det.get("c2st_auc")
    if auc is None:
        return []
    band = det.get("chance_band") or 0.0  # a report from before it had none
    if (auc >= C2ST_HIGH or auc <= C2ST_LOW) and abs(auc - 0.5) < band:
        return [{"level": "warn", "section": "detection", "message":
                 f"the C2ST AUC {_f(auc)} is within chance's spread for "
                 f"{det.get('rows_per_side')} rows a side (0.5 +/- {_f(band)}): too few rows "
                 "to tell whether the synthetic rows differ from the real ones or copy them",
                 "advice": "evaluate more rows (a larger sample of REAL and SYNTHETIC)"}]
    if auc >= C2ST_HIGH:
        worst = _worst_column(report)
        if worst and worst[2] >= MARGINALS_MATCH:
            # every column's marginal matches: the classifier sees how columns go together
            pair = _worst_pair(report)
            where = (f"; the marginals match (worst {_f(worst[2])}); the joint differs"
                     + (f": the association of '{pair[0]}' and '{pair[1]}' in class "
                        f"{_class(report, pair[2])} is off by {_f(pair[3])}" if pair else ""))
        else:
            where = (f"; the marginal that differs most is '{worst[0]}' in class "
                     f"{_class(report, worst[1])} (score {_f(worst[2])})" if worst else "")
        return [{"level": "warn", "section": "detection", "message":
                 f"a classifier tells the synthetic rows from real ones with AUC {_f(auc)} "
                 f"(0.5: indistinguishable){where}",
                 "advice": _GUIDED if not guided else
                 "train longer (--epochs, --patience) or with a wider model (--hidden); "
                 "the fidelity tables show which columns differ"}]
    if auc <= C2ST_LOW:
        return [{"level": "warn", "section": "detection", "message":
                 f"the C2ST AUC is {_f(auc)}, well under 0.5: the synthetic rows sit nearer "
                 "the real rows than real rows sit to each other, as copies would",
                 "advice": "check the privacy section; --privacy-min-distance D drops rows "
                 "within D of a real row"}]
    return []


def _worst_column(report):
    """(column, class, score) of the lowest column score of any class, or None."""
    worst = None
    for cls, entry in ((report.get("fidelity") or {}).get("per_class") or {}).items():
        for name, col in (entry.get("columns") or {}).items():
            score = col.get("score")
            if score is not None and (worst is None or score < worst[2]):
                worst = (name, cls, score)
    return worst


def _worst_pair(report):
    """(column, column, class, difference) of the largest association difference of any
    class (the fidelity section's worst pair per class), or None."""
    worst = None
    for cls, entry in ((report.get("fidelity") or {}).get("per_class") or {}).items():
        assoc = entry.get("association") or {}
        diff = assoc.get("max_abs_diff")
        if diff is not None and assoc.get("worst_pair") and (worst is None or diff > worst[3]):
            worst = (*assoc["worst_pair"], cls, diff)
    return worst


def _fidelity(report) -> list[dict[str, Any]]:
    fid = report.get("fidelity") or {}
    out: list[dict[str, Any]] = []
    for e in fid.get("relations") or []:
        if e["violation_rate"] >= RULE_SHARE and not e.get("by_chance"):
            out.append({"level": "warn", "section": "fidelity", "message":
                        f"{e['violation_rate']:.1%} of synthetic rows break '{e['relation']}', "
                        "which every real row keeps",
                        "advice": "fit with --constraint auto (the default) or name it: "
                        f"--constraint '{e['relation']}'"})
    for e in fid.get("derived") or []:
        if e["off_rate"] >= RULE_SHARE:
            out.append({"level": "warn", "section": "fidelity", "message":
                        f"{e['off_rate']:.1%} of synthetic rows are off the line "
                        f"'{e['relation']}' that every real row keeps",
                        "advice": "fit with --constraint auto (the default), which recomputes "
                        "such a column from its source"})
    for key, what, how in (
            ("links", lambda e: f"the link {e['link']}", "the category from the numeric column"),
            ("dependencies", lambda e: f"{e['dependency']} ('{e['column']}' not the value "
                                       f"'{e['determinant']}' maps to)",
             "it from its determinant")):
        for e in fid.get(key) or []:
            if e["broken_rate"] >= RULE_SHARE:
                out.append({"level": "warn", "section": "fidelity", "message":
                            f"{e['broken_rate']:.1%} of synthetic rows break {what(e)} (real "
                            f"rows: {e['real_broken_rate']:.2%})",
                            "advice": f"fit with --constraint auto (the default), which sets "
                            f"{how}"})
    out.extend(_null_gaps(fid, report))
    out.extend(_low_classes(fid, report))
    return out


def _low_classes(fid, report) -> list[dict[str, Any]]:
    """The classes whose marginals score well under two halves of their real rows (by more
    than 0.15): one finding, naming the class (and its worst column), or for several the 10
    furthest under and how many there are (a finding per class made one line each of a
    long-tailed label's classes)."""
    low = []
    for cls, entry in (fid.get("per_class") or {}).items():
        score, ref = entry.get("score"), entry.get("real_reference")
        if score is not None and ref is not None and score < ref - 0.15:
            cols = {n: c for n, c in (entry.get("columns") or {}).items()
                    if c.get("score") is not None}
            worst = min(cols, key=lambda n: cols[n]["score"]) if cols else None
            # mixtures are for numeric columns; an image's pixels have their own head
            how = ("--image-likelihood beta_binomial (overdispersed pixel counts) or --guided"
                   if worst is not None and cols[worst].get("kind") == "tensor" else
                   "--num-components 3 (mixtures for multimodal numerics)")
            low.append((score - ref, cls, score, ref, worst,
                        None if worst is None else cols[worst]["score"], how))
    if not low:
        return []
    low.sort(key=lambda x: x[0])  # stable: class order among equals
    hows = list(dict.fromkeys(x[-1] for x in low))

    def figures(x):
        _, cls, score, ref, worst, worst_score, _ = x
        return (f"{_f(score)} against {_f(ref)}"
                + (f" (worst: '{worst}', {_f(worst_score)})" if worst else ""))

    whose = "class's" if len(low) == 1 else "classes'"
    advice = (f"see the {whose} columns in the fidelity "
              f"table; more epochs or {' or '.join(hows)} may help"
              + _small_class_advice(report, [x[1] for x in low]))
    if len(low) == 1:
        cls, score, ref = low[0][1:4]
        message = (f"class {_class(report, cls)}: the synthetic marginals score {_f(score)} "
                   f"against {_f(ref)} for two halves of its real rows"
                   + (f" (worst: '{low[0][4]}', {_f(low[0][5])})" if low[0][4] else ""))
    else:
        message = (f"{len(low)} classes' synthetic marginals score well under two halves of "
                   f"their real rows, furthest first: "
                   + items_note((f"class {_class(report, x[1])} {figures(x)}" for x in low),
                                most=10))
    return [{"level": "warn", "section": "fidelity", "message": message, "advice": advice}]


def _small_class_advice(report, classes) -> str:
    """For a finding about `classes`: when the model trained with a KL weight above
    `training.DEFAULT_BETA` (0.5) and some of them had fewer than `training.SMALL_CLASS_ROWS`
    (20) training rows, the advice to refit at 0.5 (such a class comes out nearer the other
    classes at weight 1: quality.md, sessions 45-46); else ""."""
    from vae_augment.training import DEFAULT_BETA, SMALL_CLASS_ROWS, small_classes

    settings = report.get("model_settings") or {}
    beta = settings.get("beta")
    rows = small_classes(settings.get("class_rows") or {}, beta)
    small = [c for c in classes if c in rows]
    if not small:
        return ""
    names = items_note(f"{_class(report, c)} ({rows[c]} rows)" for c in small)
    return (f"; the model trained with KL weight {beta:g} and class(es) {names} had fewer than "
            f"{SMALL_CLASS_ROWS} training rows: a class that small keeps more of its own rows' "
            f"traits at --beta {DEFAULT_BETA:g} (refit)")


def _null_gaps(fid, report) -> list[dict[str, Any]]:
    """One finding per column whose null rate in some class is `NULL_GAP` or more away from
    the real rows', naming those classes, worst first (a column null in every synthetic row
    of a class among them); more than `NULL_GAP_COLUMNS` such columns make one finding,
    naming the worst 10 columns with their worst class, and listing them all in its
    ``columns``."""
    gaps: dict[str, list] = {}
    for cls, entry in (fid.get("per_class") or {}).items():
        for name, col in (entry.get("columns") or {}).items():
            if (col.get("null_rate_gap") or 0.0) >= NULL_GAP:
                gaps.setdefault(name, []).append((col["null_rate_gap"], cls, col))
    worst_first = sorted(gaps.items(), key=lambda kv: -max(g for g, *_ in kv[1]))
    for _, found in worst_first:
        found.sort(key=lambda g: -g[0])

    def rates(cls, col) -> str:
        return (f"class {_class(report, cls)}: {col['null_rate_synthetic']:.1%} of synthetic "
                f"rows against {col['null_rate_real']:.1%} of real rows")

    def advice(excluded: str, classes) -> str:
        return ("check SYNTHETIC's input and the model's --exclude (an excluded column is null "
                f"in every synthetic row: --model-dir or --exclude {excluded} leaves it out "
                "here); for a model fitted on this data, --constraint auto (the default) has "
                "the class null rules: a column null in every row of a class, or in none, is "
                "so in its generated rows" + _small_class_advice(report, classes))

    if len(worst_first) > NULL_GAP_COLUMNS:
        def worst(name, found) -> str:
            _, cls, col = found[0]
            more = len(found) - 1
            return (f"'{name}' ({rates(cls, col)}"
                    + (f", and {more} more class{'es' if more > 1 else ''}" if more else "")
                    + ")")

        classes = list(dict.fromkeys(cls for _, found in worst_first for _, cls, _ in found))
        return [{"level": "warn", "section": "fidelity", "message":
                 f"{len(worst_first)} columns are null at other rates than in the real rows, "
                 "furthest first: " + items_note((worst(n, f) for n, f in worst_first),
                                                 most=10, sep="; ")
                 + " (every class's rates: the fidelity table)",
                 "advice": advice("COLUMN", classes),
                 "columns": [name for name, _ in worst_first]}]
    out = []
    for name, found in worst_first:
        # the 10 worst: each is a sentence long
        where = items_note((rates(cls, col) for _, cls, col in found), most=10)
        out.append({"level": "warn", "section": "fidelity", "message":
                    f"column '{name}' is null at another rate than in the real rows ({where})",
                    "advice": advice(f"'{name}'", [cls for _, cls, _ in found])})
    return out


def _privacy(report) -> list[dict[str, Any]]:
    priv = report.get("privacy") or {}
    out: list[dict[str, Any]] = []
    rate = priv.get("exact_copy_rate")
    base = priv.get("holdout_exact_copy_rate") or 0.0
    if rate is not None and rate - base >= 0.01:
        # the headline's rate: copies of any real row (a model trained on all of REAL has
        # seen real-test too), against the data's own: real-test rows repeating real-train
        test = priv.get("test_exact_copies")
        of_test = ("" if not test else
                   f"; {test:,} of them ({priv['test_exact_copy_rate']:.1%} of the synthetic "
                   f"rows) copy real-test rows, which a model trained on all of REAL has seen")
        out.append({"level": "bad", "section": "privacy", "message":
                    f"{rate:.1%} of synthetic rows are exact copies of real rows (real-train "
                    f"or real-test){of_test}; real rows themselves repeat at {base:.1%} "
                    f"(the real-test rows that equal a real-train row)",
                    "advice": "--privacy-min-distance 0 drops exact copies (a larger "
                    "distance, near copies too)"})
    closer = priv.get("share_closer_than_holdout_p05")
    if closer is not None and closer >= 0.25:
        beta = (report.get("model_settings") or {}).get("beta")
        beside = (report.get("rows") or {}).get("real_beside_synthetic")
        # the filter's distance is the model's encoding's, the report's only with the model
        p05 = (priv.get("dcr_holdout") or {}).get("p05") if "model_settings" in report else None
        out.append({"level": "warn", "section": "privacy", "message":
                    f"{closer:.0%} of synthetic rows are nearer a real-train row than 95 % of "
                    "real-test rows are (about 5 % is expected)"
                    + (_BESIDE % f"{beside:,}" if beside else ""),
                    "advice": (_BETA_1 % beta if beta is not None and beta < 1 else "")
                    + (_FILTER % p05 if p05 else
                       "--privacy-min-distance D drops rows within D of a real row")})
    return out



#: the share of synthetic rows nearer a real-test row than 95 % of real-train rows are that
#: says the model has seen real-test: about 5 % when it has not (bundled churn, a model fitted
#: on 70 % of it, the other 30 % as the holdout: 5.1 %), and about 5 % plus the test share
#: times the rows' copying when it has (the same rows as REAL's 30 % real-test split of the
#: model's own training rows: 32 %; `balance --report` on all of churn: 35 %); flagged from
#: 5 % plus half the test share, at least `SEEN_TEST`
SEEN_TEST = 0.10


def _seen_test(report) -> list[dict[str, Any]]:
    share = (report.get("privacy") or {}).get("share_closer_to_test_than_train_p05")
    split = report.get("split") or {}
    n_train, n_test = split.get("real_train") or 0, split.get("real_test") or 0
    if share is None or not n_test:
        return []
    if share < max(SEEN_TEST, 0.05 + 0.5 * n_test / (n_train + n_test)):
        return []
    holdout = bool(split.get("holdout_given"))
    rows = "the holdout's rows" if holdout else "the real-test rows"
    return [{"level": "warn", "section": "utility", "message":
             f"the model has likely seen {rows}: {share:.0%} of synthetic rows sit nearer one "
             "of them than 95 % of real-train rows do (about 5 % for a model that has not; "
             + ("the holdout should be rows the model was not fitted on" if holdout else
                "a model fitted on all of REAL, as `balance` does, has seen them")
             + "), so the utility and model figures are optimistic",
             "advice": "fit on part of the rows and evaluate with --holdout REST.parquet "
                       "(Python: evaluate(..., holdout=rest)), the rows the model never saw"}]


def _model(report) -> list[dict[str, Any]]:
    diag = report.get("diagnostics") or {}
    out = []
    if str(diag.get("skipped", "")).startswith("the model cannot encode"):  # asked for, not had
        out.append({"level": "warn", "section": "model", "message":
                    f"the model section is skipped: {diag['skipped'][len('the model '):]}",
                    "advice": "give the model fitted on REAL's data (--model-dir), or leave "
                              "it out"})
    # a skipped section can still have left rows out (every real-test row, say)
    computed = "active_units" in diag and diag.get("latent_dim")
    if computed and diag["active_units"] <= max(1, 0.1 * diag["latent_dim"]):
        out.append({"level": "warn", "section": "model", "message":
                    f"only {diag['active_units']} of {diag['latent_dim']} latent dimensions "
                    "are active: the posterior has nearly collapsed onto the prior, so rows "
                    "differ little beyond their class",
                    "advice": "lower the KL weight (--beta 0.5) or train longer"})
    if computed:
        out.extend(_cut_short(diag.get("curves") or {}))
    left = diag.get("left_out")
    if left:
        out.append({"level": "warn", "section": "model", "message":
                    f"{left['real']:,} rows of REAL and {left['synthetic']:,} of SYNTHETIC hold "
                    f"{left['why']}, so the model diagnostics leave them out (the model "
                    "generates none like them)",
                    "advice": "refit the model on data that has them"})
    return out


def _watched_series(curves, watched: str) -> list[float]:
    """The per-epoch figure early stopping watched (`training.fit`'s monitor): the -ELBO, or
    with a KL weight `beta` other than 1 the bound recon + beta KL, of the validation rows
    (or the training rows without any), from the epoch after the KL warm-up on, when it
    starts watching. Not ``loss``: within the warm-up its KL weight rises, so the loss can
    rise while the -ELBO falls. ``loss`` only for a history without those series."""
    history = curves.get("history") or {}
    p = "val_" if watched == "validation" else ""
    beta = curves.get("beta")
    beta = 1.0 if beta is None else float(beta)
    recon, kl = history.get(p + "recon"), history.get(p + "kl")
    if beta == 1.0 and history.get(p + "neg_elbo"):
        series = history[p + "neg_elbo"]
    elif recon and kl and len(recon) == len(kl):
        series = [None if r is None or k is None else r + beta * k for r, k in zip(recon, kl)]
    else:
        series = history.get(p + "loss") or []
    return [v for v in series[int(curves.get("kl_warmup_epochs") or 0):] if v is not None]


def _cut_short(curves) -> list[dict[str, Any]]:
    """Training ended at the epoch cap while early stopping still waited for the validation
    loss to stop improving: its kept epoch is within `patience` epochs of the last, so more
    epochs could have improved it. Without validation rows early stopping watched the
    training loss, and the message says so; a run that ended within the KL warm-up ended
    before early stopping watched anything."""
    from vae_augment.diagnostics import watched_loss

    run, cap, best = (curves.get(k) for k in ("epochs_run", "epochs_cap", "best_epoch"))
    patience = curves.get("patience")
    if not (run and cap and best and patience) or run < cap or run - best >= patience:
        return []
    watched = watched_loss(curves.get("history") or {})
    val = _watched_series(curves, watched)
    k = min(int(patience), len(val) // 2)
    fell = (f"; the {watched} loss fell {val[-k - 1] - min(val[-k:]):.2f} nats per row over "
            f"the last {k} epoch{'s' if k != 1 else ''}"
            if k and val[-k - 1] > min(val[-k:]) else "")
    # the loss still falling at the cap, or early stopping still waiting (a patience longer
    # than the run): it stopped improving `run - best` epochs before the cap
    late = run - best
    warm = int(curves.get("kl_warmup_epochs") or 0)
    state = (f"within the KL warm-up ({warm} epochs), before early stopping started watching "
             f"the {watched} loss" if run <= warm else
             f"with the {watched} loss still improving" if not late else
             f"before early stopping could end it (the {watched} loss last improved {late} "
             f"epoch{'s' if late != 1 else ''} before it)")
    return [{"level": "warn", "section": "model", "message":
             f"training stopped at the epoch cap ({cap}) {state}: the kept epoch is "
             f"{best}, and early stopping ends training only "
             f"after {patience} epoch{'s' if patience != 1 else ''} without improvement"
             f"{fell}{'' if watched == 'validation' else ' (no validation rows were held out)'}"
             "; the model may be under-trained",
             "advice": f"raise --epochs (Python: epochs=) above {cap}" + (
                 " (the default, 300, lets early stopping end training on most tables)"
                 if cap < 300 else "")}]


def findings(report: Mapping[str, Any],
             report_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The report's findings, worst first (see the module's docstring); one ``"ok"`` finding
    when no check flags anything. `report_dir`: the folder the report is written to, where
    a long ``sampling_strategy`` the advice reads is (`STRATEGY_FILE`)."""
    guided = bool((report.get("model_settings") or {}).get("guide_iterations"))
    guide = (report.get("diagnostics") or {}).get("guide") or {}
    plain = guided and guide.get("synthetic_like") == "plain"
    redraw = _SAMPLE_GUIDED if plain else None if guided else _GUIDED
    out = [*_utility(report, redraw), *_class_gaps(report, redraw, report_dir),
           *_detection(report, guided), *_fidelity(report),
           *_privacy(report), *_seen_test(report), *_model(report)]
    out.sort(key=lambda f: f["level"] != "bad")  # stable: the sections' order within a level
    if not out:
        sections = {s: report.get({"model": "diagnostics"}.get(s, s))
                    for s in ("utility", "detection", "fidelity", "privacy", "model")}
        checked = [s for s, v in sections.items() if v and "skipped" not in v]
        skipped = [f"{s}: {v['skipped']}" for s, v in sections.items() if v and "skipped" in v]
        out.append({"level": "ok", "section": "all", "message":
                    "no check flagged anything" + (f" ({', '.join(checked)})" if checked
                                                   else "")
                    + (f"; skipped {'; '.join(skipped)}" if skipped else ""), "advice": ""})
    return out


def format_finding(f: Mapping[str, Any], advice: bool = True) -> str:
    """One line for stderr: ``vae-augment: problem|warning (section): message; try: advice``
    (without the advice when `advice` is false)."""
    word = {"bad": "problem", "warn": "warning"}.get(f["level"], f["level"])
    tail = f"; try: {f['advice']}" if advice and f.get("advice") else ""
    return f"vae-augment: {word} ({f['section']}): {f['message']}{tail}"
