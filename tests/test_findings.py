"""Findings (`vae_augment.findings`): the report's figures in words, with what to try; in
report.json, first in report.html, and on stderr from the CLI."""

import pytest

from vae_augment.findings import C2ST_HIGH, UTILITY_MARGIN, findings, format_finding


def util(ours, none, smote, metric="minority_f1", classes=("a", "b")):
    row = {"logistic_regression": {"none": {metric: none}, "smote": {metric: smote},
                                   "vae_augment": {metric: ours}}}
    return {"utility": {"classes": list(classes), "minority_class": "b", "results": row}}


def levels(report):
    return [(f["level"], f["section"]) for f in findings(report)]


def test_utility_findings_follow_the_margins_and_the_model():
    # under no balancing beyond the margin: a problem, with --guided as the advice
    bad = findings(util(0.50, 0.50 + UTILITY_MARGIN + 0.01, 0.60))
    assert [(f["level"], f["section"]) for f in bad] == [("bad", "utility")]
    assert "hurt" in bad[0]["message"] and "--guided" in bad[0]["advice"]
    assert "'b'" in bad[0]["message"]  # the minority class is named
    # under SMOTE only: a warning; within the margin of both: nothing flagged
    assert levels(util(0.55, 0.40, 0.55 + UTILITY_MARGIN + 0.01)) == [("warn", "utility")]
    assert levels(util(0.55, 0.56, 0.57)) == [("ok", "all")]
    # a model fitted with the guide is not told to use it
    guided = {**util(0.50, 0.60, 0.60), "model_settings": {"guide_iterations": 50}}
    assert "--guided" not in findings(guided)[0]["advice"]
    # more than two classes: macro F1
    multi = util(0.5, 0.6, 0.6, metric="macro_f1", classes=("a", "b", "c"))
    assert "macro F1" in findings(multi)[0]["message"]
    short = {"utility": {"synthetic_shortfall": {"b": 12}}}
    assert "'b': 12" in findings(short)[0]["message"]  # a class as the others are named


def _near_rows(got):
    """The privacy section's near-rows warning among findings `got`."""
    return next(f for f in got if f["section"] == "privacy" and f["level"] == "warn")


def test_detection_fidelity_privacy_and_model_findings():
    fid = {"per_class": {"b": {"score": 0.6, "real_reference": 0.95, "columns": {
        "x": {"score": 0.3}, "y": {"score": 0.9}}}},
        "relations": [{"relation": "a <= b", "violation_rate": 0.05, "by_chance": False},
                      {"relation": "c <= d", "violation_rate": 0.5, "by_chance": True}],
        "derived": [{"relation": "t = 2 * s + 0", "off_rate": 0.2}],
        "links": [{"link": "p == 'no' <=> m == 0", "broken_rate": 0.1,
                   "real_broken_rate": 0.0}]}
    report = {"detection": {"c2st_auc": C2ST_HIGH + 0.05}, "fidelity": fid,
              "privacy": {"exact_copy_rate": 0.05, "train_exact_copy_rate": 0.05,
                          "holdout_exact_copy_rate": 0.0,
                          "share_closer_than_holdout_p05": 0.4},
              "diagnostics": {"active_units": 1, "latent_dim": 16}}
    got = findings(report)
    assert [f["level"] for f in got][:1] == ["bad"]  # problems first
    sections = [f["section"] for f in got]
    assert sections.count("fidelity") == 4  # the by-chance relation is not flagged
    det = next(f for f in got if f["section"] == "detection")
    assert "'x' in class 'b'" in det["message"]  # the worst column, named
    assert {"privacy", "model"} <= set(sections)
    assert "--privacy-min-distance 0" in next(f for f in got if f["level"] == "bad")["advice"]
    assert any("--constraint 'a <= b'" in f["advice"] for f in got)
    near = _near_rows(got)
    assert near["advice"].startswith("--privacy-min-distance D")  # no model: no KL weight
    # a model fitted with a KL weight under 1 (the defaults' 0.5): --beta 1 is advised first
    for beta, first in ((0.5, "fit with --beta 1 (this model's KL weight is 0.5"),
                        (1.0, "--privacy-min-distance D")):
        near = _near_rows(findings({**report, "model_settings": {"beta": beta}}))
        assert near["advice"].startswith(first), near
        assert "--privacy-min-distance D drops rows" in near["advice"]
        assert "real rows beside them" not in near["message"]
    # the filter's distance named: the report's own p05 of real-test rows' distances, when
    # the report used the model's encoding (the filter's); without a model, "D"
    dcr = {**report, "privacy": {**report["privacy"], "dcr_holdout": {"p05": 0.48590549}}}
    for settings, first, filt in (
            ({"beta": 0.5}, "fit with --beta 1 (this model's KL weight is 0.5", "0.486"),
            ({"beta": 1.0}, "--privacy-min-distance 0.486", "0.486"),
            (None, "--privacy-min-distance D", "D")):
        given = {**dcr, "model_settings": settings} if settings else dcr
        near = _near_rows(findings(given))
        assert near["advice"].startswith(first), near
        assert f"--privacy-min-distance {filt} drop" in near["advice"], near
    assert near["advice"].endswith("drops rows within D of a real row")
    near = _near_rows(findings({**dcr, "model_settings": {"beta": 0.5}}))
    assert near["advice"].endswith(
        "SMOTE-NC's rows 70 %), then --privacy-min-distance 0.486 drops and redraws rows "
        "nearer a real row than 95 % of real-test rows are to real-train (bundled churn at "
        "--beta 1: 12 % of rows near -> 1.8 %)"), near
    # a `balance` output as SYNTHETIC: its real rows ship beside the synthetic ones, said
    near = _near_rows(findings({**report, "rows": {"real_beside_synthetic": 7000}}))
    assert near["message"].endswith(
        "(about 5 % is expected); SYNTHETIC's file holds 7,000 real rows beside them (a "
        "`balance` output), so they disclose little the file does not: this matters when "
        "synthetic rows are shared without the real ones"), near
    # rows nearer than real rows are: flagged too
    assert "copies" in findings({"detection": {"c2st_auc": 0.3}})[0]["message"]
    assert levels({"detection": {"c2st_auc": 0.55}}) == [("ok", "all")]


def test_format_and_the_cli_lines(capsys):
    from vae_augment.cli_evaluate import print_findings

    f = findings(util(0.40, 0.60, 0.60))[0]
    line = format_finding(f)
    assert line.startswith("vae-augment: problem (utility): ") and "; try: " in line
    assert "; try: " not in format_finding(f, advice=False)
    report = {**util(0.40, 0.60, 0.60), "detection": {"c2st_auc": 0.9}}
    report["findings"] = findings(report)
    print_findings(report)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("vae-augment: problem")
    assert "; try: " in err[0] and "; try: " not in err[1]  # the same advice once
    report["findings"] = findings({})
    print_findings(report)  # nothing flagged: nothing printed
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("settings", [None, {"guide_iterations": 0}])
def test_findings_without_sections(settings):
    report = {} if settings is None else {"model_settings": settings}
    assert findings(report) == [{"level": "ok", "section": "all",
                                 "message": "no check flagged anything", "advice": ""}]


def splits(ours, smote, none=0.30):
    """A utility section of len(ours) splits, the synthetic rows' and SMOTE's minority F1."""
    per = [{"logistic_regression": {"none": {"minority_f1": none},
                                    "smote": {"minority_f1": s},
                                    "vae_augment": {"minority_f1": o}}}
           for o, s in zip(ours, smote)]
    mean = {m: {"minority_f1": sum(p["logistic_regression"][m]["minority_f1"] for p in per)
                / len(per)} for m in ("none", "smote", "vae_augment")}
    return {"utility": {"classes": ["a", "b"], "minority_class": "b", "splits": len(per),
                        "per_split": per, "results": {"logistic_regression": mean}}}


def test_a_utility_gap_over_several_splits_must_hold_beyond_their_spread():
    # the same mean gap (-0.04, twice the margin): on every split, flagged; once a large
    # swing and otherwise ahead, not (two standard errors cover 0)
    steady = findings(splits([0.50, 0.52, 0.48], [0.54, 0.56, 0.52]))
    assert levels(splits([0.50, 0.52, 0.48], [0.54, 0.56, 0.52])) == [("warn", "utility")]
    assert "lower on 3 of 3 splits" in steady[0]["message"]
    assert "the mean of 3 splits" in steady[0]["message"]
    assert levels(splits([0.40, 0.56, 0.56], [0.60, 0.54, 0.50])) == [("ok", "all")]
    # one split: the margin alone, and the message says how to tell noise from a gap
    one = findings(util(0.50, 0.30, 0.50 + UTILITY_MARGIN + 0.01))
    assert "--utility-splits 5" in one[0]["message"]


def per_class(ours, none, grown=("b", "c")):
    """Three classes a, b, c over len(ours) splits: each split's per-class F1 with the
    synthetic rows (`ours`) and with none; `grown` the classes that got synthetic rows."""
    per = [{"gradient_boosting": {"none": {"macro_f1": 0.5, "f1_per_class": n},
                                  "vae_augment": {"macro_f1": 0.5, "f1_per_class": o}}}
           for o, n in zip(ours, none)]
    mean = {m: {"macro_f1": 0.5, "f1_per_class": [
        sum(p["gradient_boosting"][m]["f1_per_class"][i] for p in per) / len(per)
        for i in range(3)]} for m in ("none", "vae_augment")}
    train = {"none": {"a": 100, "b": 40, "c": 10},
             "vae_augment": {"a": 100, "b": 100 if "b" in grown else 40,
                             "c": 100 if "c" in grown else 10}}
    return {"utility": {"classes": ["a", "b", "c"], "splits": len(per), "per_split": per,
                        "results": {"gradient_boosting": mean}, "train_counts": train},
            "counts": {"real": {"a": 140, "b": 57, "c": 14}}}


def test_a_class_whose_own_f1_falls_is_named_with_a_strategy_that_leaves_it_out():
    # class c falls by 0.2 on every split, b is level: c is named, the advice balances b only
    got = findings(per_class([[0.9, 0.6, 0.3]] * 3, [[0.9, 0.6, 0.5]] * 3))
    assert [(f["level"], f["section"]) for f in got] == [("warn", "utility")]
    assert "'c' 0.300 against 0.500 (lower on 3 of 3 splits)" in got[0]["message"]
    assert "'b'" not in got[0]["message"]
    assert """--sampling-strategy '{"b": 140}'""" in got[0]["advice"]
    # a class that got no synthetic rows is not blamed; a fall within the splits' noise is
    # not flagged; two classes are not a class-level question
    assert levels(per_class([[0.9, 0.6, 0.3]] * 3, [[0.9, 0.6, 0.5]] * 3, grown=("b",))) == \
        [("ok", "all")]
    noisy = per_class([[0.9, 0.6, 0.1], [0.9, 0.6, 0.6], [0.9, 0.6, 0.6]], [[0.9, 0.6, 0.5]] * 3)
    assert levels(noisy) == [("ok", "all")]
    both = findings(per_class([[0.9, 0.3, 0.3]] * 3, [[0.9, 0.6, 0.5]] * 3))
    assert "these classes" in both[0]["message"] and "unbalanced" in both[0]["advice"]
    assert both[0]["message"].index("'b'") < both[0]["message"].index("'c'")  # worst first


def test_balancing_itself_lowering_a_figure_is_not_blamed_on_the_rows():
    """Macro F1 weighs the majority's F1, which balancing to equal classes lowers: when random
    oversampling (the same counts) scores no better, the finding says balancing lowers it,
    as a warning without --guided; rows worse than random oversampling stay a problem."""
    def with_ros(ours, none, ros, smote):
        report = util(ours, none, smote, metric="macro_f1", classes=("a", "b", "c"))
        report["utility"]["results"]["logistic_regression"]["random_oversampling"] = {
            "macro_f1": ros}
        return report

    got = findings(with_ros(0.658, 0.705, 0.599, 0.611))
    assert [(f["level"], f["section"]) for f in got] == [("warn", "utility")]
    assert "balancing the classes itself lowers this figure" in got[0]["message"]
    assert "0.599" in got[0]["message"] and "--guided" not in got[0]["advice"]
    # still under SMOTE beyond the margin: that is said as well
    both = findings(with_ros(0.60, 0.705, 0.599, 0.65))
    assert [f["level"] for f in both] == ["warn", "warn"] and "SMOTE's" in both[1]["message"]
    # under random oversampling too: the rows hurt it
    assert levels(with_ros(0.60, 0.705, 0.70, 0.60)) == [("bad", "utility")]


def test_a_class_that_random_oversampling_lowers_too_gets_no_guided_advice():
    report = per_class([[0.9, 0.6, 0.3]] * 3, [[0.9, 0.6, 0.5]] * 3)
    for run in report["utility"]["per_split"]:
        run["gradient_boosting"]["random_oversampling"] = {"macro_f1": 0.5,
                                                           "f1_per_class": [0.9, 0.6, 0.31]}
    got = findings(report)
    assert "(balancing lowers it: random oversampling lowers it as much" in got[0]["message"]
    assert "--sampling-strategy" in got[0]["advice"] and "--guided" not in got[0]["advice"]
    # without that reference (or with random oversampling unharmed) the guide is offered
    assert "--guided" in findings(per_class([[0.9, 0.6, 0.3]] * 3,
                                            [[0.9, 0.6, 0.5]] * 3))[0]["advice"]
    # one split: the message says how to tell a fall from noise
    one = per_class([[0.9, 0.6, 0.3]], [[0.9, 0.6, 0.5]])
    one["utility"].pop("per_split")
    one["utility"]["splits"] = 1
    assert "--utility-splits 5" in findings(one)[0]["message"]


def test_a_classifier_level_with_none_at_the_real_class_shares_blames_balancing():
    """At real-train's class shares (the probabilities reweighted) the classifier trained
    with the synthetic rows scores level with no balancing: the fall is the prior's."""
    report = util(0.537, 0.615, 0.55, metric="macro_f1", classes=("a", "b", "c"))
    res = report["utility"]["results"]["logistic_regression"]
    res["vae_augment"]["macro_f1_at_real_prior"] = 0.612
    res["none"]["macro_f1_at_real_prior"] = 0.615
    got = findings(report)
    assert [f["level"] for f in got] == ["warn"]
    assert "at real-train's class shares (its probabilities reweighted) the classifier " \
           "scores 0.612" in got[0]["message"]
    assert "--guided" not in got[0]["advice"]
    res["vae_augment"]["macro_f1_at_real_prior"] = 0.55  # still far under: the rows
    assert levels(report) == [("bad", "utility")]
    # per class: the class's F1 at the real shares level with none's
    per = per_class([[0.9, 0.6, 0.3]] * 3, [[0.9, 0.6, 0.5]] * 3)
    for run in per["utility"]["per_split"]:
        run["gradient_boosting"]["vae_augment"]["f1_per_class_at_real_prior"] = [0.9, 0.6, 0.49]
        run["gradient_boosting"]["none"]["f1_per_class_at_real_prior"] = [0.9, 0.6, 0.5]
    got = findings(per)
    assert "at real-train's class shares it does not fall" in got[0]["message"]
    assert "--guided" not in got[0]["advice"]


def test_a_null_rate_gap_of_a_tenth_is_named_with_its_classes():
    def col(real, syn):
        return {"score": 1.0 - abs(real - syn), "null_rate_real": real,
                "null_rate_synthetic": syn, "null_rate_gap": abs(real - syn)}

    fid = {"per_class": {
        "bad": {"columns": {"Income": col(0.173, 0.663), "Age": col(0.0, 0.05)}},
        "good": {"columns": {"Income": col(0.051, 0.614), "Age": col(0.0, 0.0)}}}}
    got = findings({"fidelity": fid})
    assert [(f["level"], f["section"]) for f in got] == [("warn", "fidelity")]
    assert got[0]["message"] == (
        "column 'Income' is null at another rate than in the real rows (class 'good': 61.4% "
        "of synthetic rows against 5.1% of real rows, class 'bad': 66.3% of synthetic rows "
        "against 17.3% of real rows)")
    assert "--exclude 'Income'" in got[0]["advice"] and "--constraint auto" in got[0]["advice"]
    assert "--beta" not in got[0]["advice"]  # no model: nothing known of its training rows
    # a model whose KL weight is above 0.5, with a class of fewer than 20 training rows
    # among those named: refit at 0.5 (quality.md, sessions 45-46); not at 0.5, nor for
    # classes of 20 rows or more
    for beta, rows, advice in ((1.0, {"bad": 12, "good": 300}, "--beta 0.5 (refit)"),
                               (0.5, {"bad": 12, "good": 300}, None),
                               (0.75, {"bad": 20, "good": 300}, None)):
        settings = {"beta": beta, "class_rows": rows}
        got = findings({"fidelity": fid, "model_settings": settings})[0]["advice"]
        if advice is None:
            assert "--beta" not in got
        else:
            assert got.endswith(
                "; the model trained with KL weight 1 and class(es) 'bad' (12 rows) had fewer "
                "than 20 training rows: a class that small keeps more of its own rows' traits "
                "at " + advice)
    # a class's marginals far under its real halves': the same advice, for that class
    marg = {"per_class": {"bad": {"score": 0.6, "real_reference": 0.9,
                                  "columns": {"Age": {"score": 0.6, "kind": "numeric"}}}}}
    got = findings({"fidelity": marg, "model_settings": {"beta": 1.0, "class_rows": {"bad": 9}}})
    assert "class 'bad': the synthetic marginals score" in got[0]["message"]
    assert "'bad' (9 rows) had fewer than 20 training rows" in got[0]["advice"]
    assert "--beta" not in findings({"fidelity": marg})[0]["advice"]
    # under the threshold: nothing
    fid["per_class"]["bad"]["columns"]["Income"] = col(0.17, 0.2)
    fid["per_class"]["good"]["columns"]["Income"] = col(0.05, 0.1)
    assert levels({"fidelity": fid}) == [("ok", "all")]


def test_many_columns_with_a_null_rate_gap_make_one_finding():
    """A wide table with many nullable columns printed a warning line per column; more than
    `NULL_GAP_COLUMNS` (3) make one finding naming the worst 10, each with its worst class,
    and every one in ``columns``; 3 keep their own findings."""
    from vae_augment.findings import NULL_GAP_COLUMNS

    def col(real, syn):
        return {"score": 1.0 - abs(real - syn), "null_rate_real": real,
                "null_rate_synthetic": syn, "null_rate_gap": abs(real - syn)}

    def fid(n):  # column cK has gap 0.1 + K/100 in class 'a', and in 'b' too for even K
        per = {"a": {"columns": {}}, "b": {"columns": {}}}
        for k in range(n):
            per["a"]["columns"][f"c{k}"] = col(0.0, 0.1 + k / 100)
            per["b"]["columns"][f"c{k}"] = col(0.0, 0.1 if k % 2 == 0 else 0.0)
        return {"per_class": per}

    assert NULL_GAP_COLUMNS == 3
    got = findings({"fidelity": fid(3)})
    assert [f["message"].split(" is null")[0] for f in got] == [
        "column 'c2'", "column 'c1'", "column 'c0'"]
    got = findings({"fidelity": fid(14)})
    assert len(got) == 1 and got[0]["level"] == "warn"
    msg = got[0]["message"]
    assert msg.startswith(
        "14 columns are null at other rates than in the real rows, furthest first: 'c13' "
        "(class 'a': 23.0% of synthetic rows against 0.0% of real rows); 'c12' (class 'a': "
        "22.0% of synthetic rows against 0.0% of real rows, and 1 more class); ")
    assert "'c4'" in msg and "'c3'" not in msg and "; ... (14 in all)" in msg
    assert msg.endswith(" (every class's rates: the fidelity table)")
    assert got[0]["columns"] == [f"c{k}" for k in range(13, -1, -1)]
    assert "--exclude COLUMN" in got[0]["advice"]
    assert len(format_finding(got[0])) < 1500


def test_the_copy_finding_states_the_headline_rate_and_the_real_test_copies():
    """SYNTHETIC a copy of REAL: the headline's 100 % (copies of any real row), how many copy
    real-test rows, and the data's own duplicate rate as the baseline."""
    priv = {"exact_copy_rate": 1.0, "train_exact_copy_rate": 0.7, "exact_copies": 1000,
            "test_exact_copies": 300, "test_exact_copy_rate": 0.3,
            "holdout_exact_copy_rate": 0.004}
    got = findings({"privacy": priv})
    assert [(f["level"], f["section"]) for f in got] == [("bad", "privacy")]
    assert got[0]["message"] == (
        "100.0% of synthetic rows are exact copies of real rows (real-train or real-test); "
        "300 of them (30.0% of the synthetic rows) copy real-test rows, which a model "
        "trained on all of REAL has seen; real rows themselves repeat at 0.4% (the "
        "real-test rows that equal a real-train row)")
    # copies of real-test rows only: still copies
    only_test = {**priv, "exact_copy_rate": 0.3, "train_exact_copy_rate": 0.0}
    assert levels({"privacy": only_test}) == [("bad", "privacy")]
    # at the data's own rate: not flagged
    assert levels({"privacy": {**priv, "exact_copy_rate": 0.01, "test_exact_copies": 0,
                               "train_exact_copy_rate": 0.01}}) == [("ok", "all")]


def test_synthetic_rows_equal_to_real_test_rows_are_a_utility_warning():
    got = findings({"utility": {"test_copies_dropped": [180]}})
    assert [(f["level"], f["section"]) for f in got] == [("warn", "utility")]
    assert got[0]["message"].startswith("180 synthetic rows equal a real-test row: the "
                                        "utility figures leave them out")
    assert "--holdout" in got[0]["advice"]
    assert levels({"utility": {"test_copies_dropped": [0, 0]}}) == [("ok", "all")]


def test_the_real_prior_does_not_excuse_rows_that_random_oversampling_beats():
    """hpc: logistic regression's macro F1 0.515 with the synthetic rows, 0.554 with none,
    0.590 with random oversampling (the same counts): level at the real class shares, but
    balancing by copying does better, so the rows are to blame, not balancing."""
    report = util(0.515, 0.554, 0.52, metric="macro_f1", classes=("a", "b", "c"))
    res = report["utility"]["results"]["logistic_regression"]
    res["random_oversampling"] = {"macro_f1": 0.590}
    res["vae_augment"]["macro_f1_at_real_prior"] = 0.552
    res["none"]["macro_f1_at_real_prior"] = 0.554
    got = findings(report)
    assert [(f["level"], f["section"]) for f in got] == [("bad", "utility")]
    assert "balancing the classes itself" not in got[0]["message"]
    # random oversampling level with the rows: the prior's evidence stands
    res["random_oversampling"] = {"macro_f1": 0.52}
    got = findings(report)
    assert [f["level"] for f in got] == ["warn"]
    assert "balancing the classes itself lowers this figure" in got[0]["message"]
    # per class (class L of hpc): 0.408 with the rows, 0.511 with none, 0.556 with random
    # oversampling, level at the real shares: not put down to balancing, --guided offered
    per = per_class([[0.9, 0.6, 0.408]] * 3, [[0.9, 0.6, 0.511]] * 3)
    for run in per["utility"]["per_split"]:
        gb = run["gradient_boosting"]
        gb["random_oversampling"] = {"macro_f1": 0.5, "f1_per_class": [0.9, 0.6, 0.556]}
        gb["vae_augment"]["f1_per_class_at_real_prior"] = [0.9, 0.6, 0.50]
        gb["none"]["f1_per_class_at_real_prior"] = [0.9, 0.6, 0.511]
    got = findings(per)
    assert "'c' 0.408 against 0.511" in got[0]["message"]
    assert "balancing lowers it" not in got[0]["message"] and "--guided" in got[0]["advice"]


def test_a_detected_joint_names_the_pair_when_the_marginals_match():
    """Columns shuffled within class: C2ST near 1, every marginal 1.000; the finding names the
    association that differs, not a marginal that does not."""
    fid = {"per_class": {
        "no": {"columns": {"a": {"score": 1.0}, "b": {"score": 0.99}},
               "association": {"max_abs_diff": 0.98, "worst_pair": ["a", "b"]}},
        "yes": {"columns": {"a": {"score": 1.0}, "b": {"score": 1.0}},
                "association": {"max_abs_diff": 0.4, "worst_pair": ["a", "b"]}}}}
    got = findings({"detection": {"c2st_auc": 0.998}, "fidelity": fid})
    assert got[0]["message"] == (
        "a classifier tells the synthetic rows from real ones with AUC 0.998 (0.5: "
        "indistinguishable); the marginals match (worst 0.990); the joint differs: the "
        "association of 'a' and 'b' in class 'no' is off by 0.980")
    # a marginal that differs: named as before
    fid["per_class"]["no"]["columns"]["b"]["score"] = 0.6
    assert "the marginal that differs most is 'b' in class 'no' (score 0.600)" in \
        findings({"detection": {"c2st_auc": 0.998}, "fidelity": fid})[0]["message"]


def test_a_class_whose_worst_column_is_an_image_gets_image_advice():
    """A low class fidelity advised --num-components (mixtures for numerics) whatever the
    column; for an image column it names the pixel options (session 32's image audit)."""
    def advice(kind):
        fid = {"per_class": {"b": {"score": 0.5, "real_reference": 0.9, "columns": {
            "img": {"score": 0.2, "kind": kind}, "x": {"score": 0.9, "kind": "numeric"}}}}}
        got = [f for f in findings({"fidelity": fid}) if f["section"] == "fidelity"]
        assert len(got) == 1 and "(worst: 'img', 0.200)" in got[0]["message"]
        return got[0]["advice"]

    assert "--image-likelihood beta_binomial" in advice("tensor")
    assert "--num-components" not in advice("tensor")
    assert "--num-components 3" in advice("numeric")


def test_training_cut_short_by_the_epoch_cap_is_a_model_warning():
    """The kept epoch within `patience` epochs of the cap: early stopping never ended the
    run, so the model may be under-trained; the validation loss's last fall is stated. A run
    that early stopping ended (or that stopped before the cap) is not flagged."""
    val = [30.0 - 0.1 * i for i in range(40)]  # still falling at the end
    curves = {"epochs_run": 40, "epochs_cap": 40, "best_epoch": 40, "patience": 20,
              "history": {"val_loss": val}}
    diag = {"active_units": 8, "latent_dim": 16, "curves": curves}
    got = [f for f in findings({"diagnostics": diag}) if f["section"] == "model"]
    assert len(got) == 1 and got[0]["level"] == "warn"
    assert "epoch cap (40)" in got[0]["message"] and "kept epoch is 40" in got[0]["message"]
    assert "fell 2.00 nats per row over the last 20 epochs" in got[0]["message"]
    assert got[0]["advice"].startswith("raise --epochs (Python: epochs=) above 40 (the default, 300")
    for ended in ({"best_epoch": 20}, {"epochs_run": 30}, {"epochs_cap": 300}):
        diag_ended = {**diag, "curves": {**curves, **ended}}
        assert levels({"diagnostics": diag_ended}) == [("ok", "all")], ended
    assert levels({"diagnostics": {"active_units": 8, "latent_dim": 16}}) == [("ok", "all")]


def test_training_cut_short_without_validation_rows_names_the_training_loss():
    """Fitted with no validation rows (--validation-split 0): early stopping watched the
    training loss, and the history has no val_* series; the warning spoke of the validation
    loss still improving, and never said by how much. One patience epoch is 'epoch'."""
    loss = [30.0 - 0.1 * i for i in range(10)]
    curves = {"epochs_run": 10, "epochs_cap": 10, "best_epoch": 10, "patience": 1,
              "history": {"loss": loss, "recon": loss, "kl": [1.0] * 10}}
    got = [f for f in findings({"diagnostics": {"active_units": 8, "latent_dim": 16,
                                                "curves": curves}}) if f["section"] == "model"]
    assert len(got) == 1
    message = got[0]["message"]
    assert "validation" not in message.replace("no validation rows", ""), message
    assert "with the training loss still improving" in message
    assert "after 1 epoch without improvement" in message
    assert "the training loss fell 0.10 nats per row over the last 1 epoch (no validation" in message


def test_training_cut_short_measures_what_early_stopping_watched_after_the_warm_up():
    """The fall was measured on ``loss``, whose KL weight rises over the warm-up, so a run a
    little past the warm-up read as not improving while the -ELBO that early stopping
    watches (from the epoch after the warm-up) fell; a run that ended within the warm-up
    was said to be 'still improving' though early stopping never watched it."""
    val_loss = [5.0 + 0.1 * i for i in range(12)]  # rises with the KL weight
    val_neg_elbo = [20.0 - i for i in range(12)]
    curves = {"epochs_run": 12, "epochs_cap": 12, "best_epoch": 12, "patience": 20,
              "kl_warmup_epochs": 10, "beta": 1.0,
              "history": {"val_loss": val_loss, "val_neg_elbo": val_neg_elbo}}

    def message(c):
        got = [f for f in findings({"diagnostics": {"active_units": 8, "latent_dim": 16,
                                                    "curves": c}}) if f["section"] == "model"]
        assert len(got) == 1
        return got[0]["message"]

    assert "the validation loss fell 1.00 nats per row over the last 1 epoch;" in \
        message(curves)
    # beta 0.5: the bound recon + 0.5 KL, not the -ELBO
    weighted = {**curves, "beta": 0.5, "history": {
        "val_loss": val_loss, "val_neg_elbo": val_neg_elbo,
        "val_recon": [10.0 - i for i in range(12)], "val_kl": [4.0] * 12}}
    assert "fell 1.00 nats per row over the last 1 epoch;" in message(weighted)
    within = message({**curves, "epochs_run": 10, "epochs_cap": 10, "best_epoch": 10,
                      "history": {"val_loss": val_loss[:10], "val_neg_elbo": val_neg_elbo[:10]}})
    assert "epoch cap (10) within the KL warm-up (10 epochs), before early stopping started " \
           "watching the validation loss:" in within and "fell" not in within


def test_training_curves_without_validation_rows_say_what_early_stopping_watched():
    """The report's training paragraph said the curves were on 'the validation rows early
    stopping watched' for a model fitted with none (no val_* series); a history without the
    trained loss or its terms is no plot (it raised matplotlib's 'Number of columns must be
    a positive integer')."""
    from vae_augment.report import _diagnostics_html
    from vae_augment.report_plots import _curves_plot

    def paragraph(history):
        curves = {"history": history, "best_epoch": 2, "epochs_run": 2, "epochs_cap": 2}
        diag = {"rows": 10, "iw_samples": 8, "elbo": -1.0, "iw_bound": -1.0,
                "neg_elbo_at_posterior_mean": 1.0, "kl_total": 1.0, "active_units": 2,
                "active_units_kl": 2, "latent_dim": 4, "curves": curves}
        h = []
        _diagnostics_html(h, diag, {}, {"curves": "AAAA"})
        return next(x for x in h if x.startswith("<h3>Training</h3>"))

    train = {"loss": [2.0, 1.0], "recon": [1.5, 0.5], "kl": [0.5, 0.5]}
    assert "validation rows early stopping watched" in paragraph(
        {**train, "val_loss": [2.0, 1.5]})
    text = paragraph(train)
    assert "validation rows early stopping watched" not in text
    assert "early stopping watched the training loss" in text
    assert _curves_plot({"diagnostics": {"curves": {"history": {"val_loss": [1.0, 2.0]}}}}) \
        is None


def test_training_cut_short_while_early_stopping_waits_does_not_say_still_improving():
    """A patience longer than the run (--epochs 10, patience 20) and the validation loss
    worse for the 7 epochs after the kept one: the warning said 'with the validation loss
    still improving', which the history contradicts."""
    val = [30.0, 29.0, 28.0, 28.5, 28.6, 28.7, 28.8, 28.9, 29.0, 29.1]
    curves = {"epochs_run": 10, "epochs_cap": 10, "best_epoch": 3, "patience": 20,
              "history": {"loss": val, "val_loss": val}}
    got = [f for f in findings({"diagnostics": {"active_units": 8, "latent_dim": 16,
                                                "curves": curves}}) if f["section"] == "model"]
    assert len(got) == 1
    message = got[0]["message"]
    assert "still improving" not in message, message
    assert ("training stopped at the epoch cap (10) before early stopping could end it (the "
            "validation loss last improved 7 epochs before it): the kept epoch is 3") in message


def test_rows_left_out_are_said_when_the_model_diagnostics_are_skipped():
    """Every real-test row unencodable (a small REAL): the diagnostics were skipped ('no
    held-out rows') and the rows left out, though counted in the JSON, went unsaid in the
    findings and the HTML."""
    from vae_augment.report import _diagnostics_html

    diag = {"skipped": "no held-out rows", "left_out": {
        "real": 4, "synthetic": 0, "why": "a category value or a class the model was not "
                                         "trained on"}}
    got = [f for f in findings({"diagnostics": diag}) if f["section"] == "model"]
    assert len(got) == 1 and got[0]["message"].startswith("4 rows of REAL and 0 of SYNTHETIC")
    h = []
    _diagnostics_html(h, diag, {}, {})
    assert any(x.startswith("<p class='warn'>Left out of this section: 4 rows") for x in h), h


def test_the_training_plot_calls_the_trained_loss_the_bound_only_after_the_warm_up():
    """Within the KL warm-up the trained loss weights the KL term up from 0, so the first
    panel's title "−ELBO (the trained loss)" was wrong for those epochs."""
    from vae_augment.report_plots import _curve_panels

    titles = {k: t for k, t in _curve_panels({"beta": 1.0, "kl_warmup_epochs": 10})}
    assert titles["loss"] == "trained loss: −ELBO after the warm-up"
    assert dict(_curve_panels({"beta": 0.5, "kl_warmup_epochs": 0}))["loss"] == \
        "trained loss: recon + β·KL"
    assert dict(_curve_panels({}))["loss"] == "trained loss: −ELBO"


def test_one_split_weighs_a_gap_against_the_noise_of_real_tests_rows():
    """One split: a gap past the margin is flagged only beyond two of the standard errors
    that resampling real-test gives it (`utility._bootstrap_se`); a report without them
    keeps the margin alone."""
    def with_se(se, ref="vae_augment-smote"):
        report = util(0.50, 0.30, 0.56)
        report["utility"]["bootstrap_se"] = {"logistic_regression": {ref: {"minority_f1": se}}}
        return report

    assert levels(util(0.50, 0.30, 0.56)) == [("warn", "utility")]
    assert levels(with_se(0.04)) == [("ok", "all")]  # 0.06 within 2 x 0.04
    got = findings(with_se(0.02))
    assert [(f["level"], f["section"]) for f in got] == [("warn", "utility")]
    assert "on one split, by 0.060, past the ± 0.040 that real-test's rows alone give it" \
        in got[0]["message"] and "--utility-splits 5" in got[0]["message"]
    assert levels(with_se(0.04, ref="vae_augment-none")) == [("warn", "utility")]  # not SMOTE's
    # per class: class c's fall of 0.2 on one split, against its own standard error
    one = per_class([[0.9, 0.6, 0.3]], [[0.9, 0.6, 0.5]])
    one["utility"].pop("per_split")
    one["utility"]["splits"] = 1
    se = {"vae_augment-none": {"f1_per_class": [0.01, 0.01, 0.15]}}
    one["utility"]["bootstrap_se"] = {"gradient_boosting": se}
    assert levels(one) == [("ok", "all")]
    se["vae_augment-none"]["f1_per_class"][2] = 0.05
    got = findings(one)
    assert "on one split, past the noise of real-test's rows" in got[0]["message"]
    assert "'c' 0.300 against 0.500" in got[0]["message"]


def test_the_bootstrap_matches_resampling_real_test_row_by_row():
    """`_bootstrap_se` resamples (class, predictions) cells; the same figures as resampling
    the rows and scoring each resample with scikit-learn, up to Monte Carlo noise."""
    import numpy as np
    from sklearn.metrics import f1_score

    from vae_augment.utility import _bootstrap_se

    rng = np.random.default_rng(1)
    y = rng.choice([0, 1, 2], 300, p=[0.7, 0.2, 0.1])
    a = np.where(rng.random(300) < 0.8, y, rng.integers(0, 3, 300))
    b = np.where(rng.random(300) < 0.7, y, rng.integers(0, 3, 300))
    got = _bootstrap_se(y, {"vae_augment": {"pred": a}, "none": {"pred": b},
                            "smote": {"pred": a}}, [0, 1, 2], 2, seed=0)
    assert set(got) == {"vae_augment-none", "vae_augment-smote"}
    assert got["vae_augment-smote"]["minority_f1"] == 0.0  # the same predictions
    gaps = []
    for _ in range(1000):
        i = rng.integers(0, 300, 300)
        f = [f1_score(y[i], p[i], labels=[0, 1, 2], average=None, zero_division=0)
             for p in (a, b)]
        gaps.append(f[0] - f[1])
    want = np.std(gaps, axis=0, ddof=1)
    se = got["vae_augment-none"]
    assert se["minority_f1"] == pytest.approx(want[2], rel=0.2)
    assert se["f1_per_class"] == pytest.approx(list(want), rel=0.2)
    assert se["macro_f1"] == pytest.approx(np.std(np.mean(gaps, axis=1), ddof=1), rel=0.2)
    assert se["minority_f1_at_real_prior"] is None  # no reweighted predictions kept
    # a class real-test lacks: no figure of its own
    assert _bootstrap_se(y[y < 2], {"vae_augment": {"pred": a[y < 2]}, "none": {
        "pred": b[y < 2]}}, [0, 1, 2], 1, seed=0)["vae_augment-none"]["f1_per_class"][2] is None


def test_each_figures_bootstrap_error_matches_resampling_rows():
    """`_figure_se` (one split's error bars in the utility plots): each method's F1 and
    balanced accuracy over the same resamples, against scikit-learn on row resamples."""
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score, f1_score

    from vae_augment.utility import _bootstrap, _figure_se

    rng = np.random.default_rng(2)
    y = rng.choice([0, 1, 2], 300, p=[0.7, 0.2, 0.1])
    a = np.where(rng.random(300) < 0.8, y, rng.integers(0, 3, 300))
    got = _figure_se(_bootstrap(y, {"vae_augment": {"pred": a}}, [0, 1, 2], 2, seed=0))
    f1s, bal = [], []
    for _ in range(1000):
        i = rng.integers(0, 300, 300)
        f1s.append(f1_score(y[i], a[i], labels=[0, 1, 2], average=None, zero_division=0))
        bal.append(balanced_accuracy_score(y[i], a[i]))
    se = got["vae_augment"]
    assert set(se) == {"minority_f1", "macro_f1", "balanced_accuracy", "f1_per_class"}
    assert se["minority_f1"] == pytest.approx(np.std(f1s, axis=0, ddof=1)[2], rel=0.2)
    assert se["f1_per_class"] == pytest.approx(list(np.std(f1s, axis=0, ddof=1)), rel=0.2)
    assert se["macro_f1"] == pytest.approx(np.std(np.mean(f1s, axis=1), ddof=1), rel=0.2)
    assert se["balanced_accuracy"] == pytest.approx(np.std(bal, ddof=1), rel=0.2)
    # perfect predictions: no noise in any figure
    exact = _figure_se(_bootstrap(y, {"none": {"pred": y}}, [0, 1, 2], 2, seed=0))["none"]
    assert exact["minority_f1"] == exact["balanced_accuracy"] == 0.0


def test_a_c2st_auc_within_chance_for_its_rows_is_not_called_copies_or_detectable():
    """REAL against a disjoint sample of REAL itself on 10-20 rows a table scored C2ST AUC
    under 0.4 or over 0.75 in 7-12 of 20 draws, and the findings called it copies or
    detectable. The detection section now keeps the rows a side and chance's spread at that
    many (3 Mann-Whitney standard deviations), and the findings say the figure cannot be read
    instead; on enough rows the same AUC is called what it is."""
    from vae_augment.detection import chance_band

    assert chance_band(10) == pytest.approx(0.397, abs=1e-3)
    assert chance_band(40) == pytest.approx(0.195, abs=1e-3)
    assert chance_band(1000) == pytest.approx(0.0388, abs=1e-3)
    for auc, word in ((0.3, "copies"), (0.85, "tells the synthetic rows")):
        few = findings({"detection": {"c2st_auc": auc, "rows_per_side": 10,
                                      "chance_band": chance_band(10)}})
        assert [f["level"] for f in few] == ["warn"]
        assert "within chance's spread for 10 rows a side" in few[0]["message"]
        assert word not in few[0]["message"]
        many = findings({"detection": {"c2st_auc": auc, "rows_per_side": 1000,
                                       "chance_band": chance_band(1000)}})
        assert word in many[0]["message"]
    # end to end: two disjoint samples of one table, 12 rows each
    import numpy as np
    import pyarrow as pa

    from vae_augment.evaluation import evaluate

    rng = np.random.default_rng(0)
    both = pa.table({"x": rng.normal(size=24), "c": rng.choice(["u", "v"], size=24),
                     "label": ["a", "b"] * 12})
    report = evaluate(both.slice(0, 12), both.slice(12), label="label", seed=0,
                      sections=["detection"])
    det = report["detection"]
    assert det["rows_per_side"] == 12 and det["chance_band"] == pytest.approx(
        chance_band(12), abs=1e-4)
    for f in report["findings"]:
        assert "copies" not in f["message"] and "tells the synthetic" not in f["message"]


def test_an_int_labels_classes_are_named_as_ints_not_as_their_text():
    """The report keys classes by their text (JSON's keys are strings), so an int label's
    class 28 is '28' in it; its ``class_type`` gives the type back, and the findings name
    class 28 as the rest of the report shows it (a string class stays quoted)."""
    def col(real, syn):
        return {"score": 1.0 - abs(real - syn), "null_rate_real": real,
                "null_rate_synthetic": syn, "null_rate_gap": abs(real - syn)}

    def report(class_type, cls):
        return {"class_type": class_type,
                "fidelity": {"per_class": {
                    cls: {"score": 0.6, "real_reference": 0.9,
                          "columns": {"Age": {**col(0.0, 0.3), "kind": "numeric"}}}}},
                "model_settings": {"beta": 1.0, "class_rows": {cls: 9}}}

    got = findings(report("int", "28"))
    messages = " ".join(f["message"] + " " + f["advice"] for f in got)
    assert "class 28: 30.0% of synthetic rows" in messages
    assert "class 28: the synthetic marginals score" in messages
    assert "class(es) 28 (9 rows)" in messages
    assert "'28'" not in messages
    # a bool label's class True; a string label's class, and a report without the type,
    # as before
    assert "class True: the synthetic marginals" in findings(report("bool", "True"))[-1][
        "message"]
    for typed in (report("str", "28"), {k: v for k, v in report("int", "28").items()
                                        if k != "class_type"}):
        assert "class '28': the synthetic marginals" in findings(typed)[-1]["message"]
    # the per-class utility finding and the minority class
    gaps = per_class([[0.9, 0.6, 0.3]] * 3, [[0.9, 0.6, 0.5]] * 3)
    gaps["utility"]["classes"] = ["1", "2", "3"]
    gaps["utility"]["train_counts"] = {
        m: {str(i + 1): n for i, n in enumerate(c.values())}
        for m, c in gaps["utility"]["train_counts"].items()}
    gaps["counts"]["real"] = {"1": 140, "2": 57, "3": 14}
    gaps["class_type"] = "int"
    assert "these classes" not in findings(gaps)[0]["message"]
    assert ": 3 0.300 against 0.500" in findings(gaps)[0]["message"]
    minority = util(0.50, 0.60, 0.60, classes=("1", "2"))
    minority["utility"]["minority_class"] = "2"
    assert "minority-class (2) F1" in findings({**minority, "class_type": "int"})[0]["message"]


def test_a_long_tailed_labels_lists_name_the_first_and_how_many():
    """A long-tailed label's classes (and a wide table's columns) made findings kilobytes
    long: each list names its first (worst) 10 or 20 and how many there are, as
    `errors.columns_note` does."""
    def col(real, syn):
        return {"score": 1.0 - abs(real - syn), "null_rate_real": real,
                "null_rate_synthetic": syn, "null_rate_gap": abs(real - syn)}

    classes = [str(c) for c in range(1, 35)]
    # class c: a null-rate gap that narrows with c, marginals far under real halves
    fid = {"per_class": {c: {"score": 0.5, "real_reference": 0.9,
                             "columns": {"x2": {**col(0.0, 0.9 - int(c) / 100),
                                                "kind": "numeric"}}}
                         for c in classes}}
    report = {"class_type": "int", "fidelity": fid,
              "model_settings": {"beta": 1.0, "class_rows": {c: 5 for c in classes}},
              "utility": {"synthetic_shortfall": {c: int(c) for c in classes}}}
    got = {f["message"].split(" ")[0]: f for f in findings(report)}
    nulls = got["column"]
    assert "class 10: 80.0% of synthetic rows" in nulls["message"]
    assert "class 11:" not in nulls["message"]  # the 10 widest gaps, then the count
    assert nulls["message"].endswith(", ... (34 in all))")
    # the small classes of the advice: 20 of them
    assert "class(es) 1 (5 rows), 2 (5 rows)" in nulls["advice"]
    assert "20 (5 rows), ... (34 in all) had fewer than 20 training rows" in nulls["advice"]
    # one finding for the classes whose marginals fall short, not one a class
    low = got["34"]
    assert low["message"].startswith(
        "34 classes' synthetic marginals score well under two halves of their real rows, "
        "furthest first: class 1 0.500 against 0.900 (worst: 'x2', 0.110), class 2 ")
    assert low["message"].endswith(", ... (34 in all)") and "classes' columns" in low["advice"]
    assert len([f for f in findings(report) if f["section"] == "fidelity"]) == 2
    # the shortfall: the classes short of the most rows first
    short = got["SYNTHETIC"]["message"]
    assert "(34: 34, 33: 33," in short and "15: 15, ... (34 in all) missing)" in short
    assert len(" ".join(f["message"] + f["advice"] for f in findings(report))) < 3000


def test_many_classes_whose_own_f1_falls_are_named_worst_first_and_counted():
    n = 30
    classes = [str(c) for c in range(1, n + 1)]
    ours = [0.9] + [0.5 - i / 100 for i in range(1, n)]  # class 30 falls the most
    none = [0.9] + [0.6] * (n - 1)
    per = [{"gradient_boosting": {"none": {"macro_f1": 0.5, "f1_per_class": none},
                                  "vae_augment": {"macro_f1": 0.5, "f1_per_class": ours}}}] * 3
    train = {"none": {c: 10 for c in classes}, "vae_augment": {c: 100 for c in classes}}
    train["none"]["1"] = train["vae_augment"]["1"] = 100
    report = {"class_type": "int",
              "utility": {"classes": classes, "splits": 3, "per_split": per,
                          "results": per[0], "train_counts": train},
              "counts": {"real": {c: 140 if c == "1" else 14 for c in classes}}}
    got = findings(report)[0]["message"]
    assert "these classes" in got and ": 30 0.210 against 0.600 (lower on 3 of 3 splits), " \
        "29 0.220" in got
    assert got.endswith(", ... (29 in all)") and " 20 0.310" not in got


def _one_class_falls(n=30, real=None):
    """`n` classes "1".."n" (an int label), class 1 the majority; class `n` alone falls with
    its synthetic rows, so the advice balances the other n - 2 (`real`: REAL's counts)."""
    classes = [str(c) for c in range(1, n + 1)]
    ours = [0.9] * (n - 1) + [0.2]
    none = [0.9] * (n - 1) + [0.6]
    per = [{"gradient_boosting": {"none": {"macro_f1": 0.5, "f1_per_class": none},
                                  "vae_augment": {"macro_f1": 0.5, "f1_per_class": ours}}}] * 3
    train = {"none": {c: 10 for c in classes}, "vae_augment": {c: 100 for c in classes}}
    real = real or {c: 140 if c == "1" else 14 for c in classes}
    return {"class_type": "int", "counts": {"real": real},
            "utility": {"classes": classes, "splits": 3, "per_split": per,
                        "results": per[0], "train_counts": train}}


def test_a_long_sampling_strategy_is_written_to_a_file_not_inlined(tmp_path):
    """148 classes to balance made a 3 KB --sampling-strategy in the advice: a long one is
    in the finding's ``sampling_strategy`` (report.json) and, with a report folder, in its
    sampling_strategy.json, which the advice reads; a short one stays inline."""
    import json

    report = _one_class_falls()
    keep = {str(c): 140 for c in range(2, 30)}
    where = tmp_path / "my report"
    got = findings(report, report_dir=where)[0]
    assert got["sampling_strategy"] == keep  # as the CLI takes it, machine-readable
    path = where / "sampling_strategy.json"
    assert ("balance the other classes only: grow each class but 30 to the majority's 140 "
            f"rows (28 classes): --sampling-strategy '{path}' (Python: ") in got["advice"]
    assert len(got["advice"].split("; or ")[0].replace(str(path), "")) < 250
    assert '"2": 140' not in got["advice"]
    # no report folder: the finding's field
    got = findings(report)[0]
    assert "(28 classes): its --sampling-strategy JSON is this finding's " \
           "\"sampling_strategy\" in the report" in got["advice"]
    assert len(got["advice"].split("; or ")[0]) < 250
    # a short one, inline as before
    short = findings(_one_class_falls(5))[0]
    assert """--sampling-strategy '{"2": 140, "3": 140, "4": 140}'""" in short["advice"]
    assert short["sampling_strategy"] == {"2": 140, "3": 140, "4": 140}
    # the class that falls is the minority: imbalanced-learn's 'not minority' is the same
    tail = _one_class_falls(real={**{str(c): 14 for c in range(1, 31)}, "1": 140, "30": 3})
    got = findings(tail, report_dir=where)[0]
    assert "balance the other classes only: --sampling-strategy 'not minority' " \
           "(every class but the minority, 30" in got["advice"]
    assert json.dumps(got["sampling_strategy"]).count(": 140") == 28
