"""The evaluation report: metrics that move the right way, files that stand alone, CLI errors."""

import base64
import json
import math
import re
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST, make_mixed_table, run_cli
from vae_augment.cli import main
from vae_augment.errors import InputError, SchemaError
from vae_augment.evaluation import c2st_auc, evaluate
from vae_augment.training import fit_encoding


@pytest.fixture(scope="module")
def two_samples():
    """Two independent draws from the same distribution (no tensor column: faster)."""
    return (make_mixed_table(600, seed=1, with_tensor=False),
            make_mixed_table(600, seed=2, with_tensor=False))


@pytest.fixture(scope="module")
def same_report(two_samples):
    a, b = two_samples
    return evaluate(a, b, label="label", seed=0)


@pytest.fixture(scope="module")
def model_report(tmp_path_factory, mixed_table, mixed_artifact):
    """One full report: the tiny session model's synthetic rows against its training table."""
    from vae_augment.api import sample

    synthetic = sample(str(mixed_artifact), {"a": 40, "b": 80, "c": 80}, seed=3)
    out = tmp_path_factory.mktemp("report")
    report = evaluate(mixed_table, synthetic, label="label", model=str(mixed_artifact),
                      report_dir=str(out), seed=0, iw_samples=4)
    return report, out


def mixed_table_rows(report) -> int:
    return sum(report["counts"]["real"].values())


def _shift(table: pa.Table) -> pa.Table:
    """Obviously different rows: a numeric column moved far away, one category everywhere."""
    i = table.schema.get_field_index("f")
    table = table.set_column(i, "f", pc.add(table.column("f"), 100.0))
    i = table.schema.get_field_index("s")
    return table.set_column(i, "s", pa.array(["x"] * table.num_rows))


# ---------------------------------------------------------------------------- c2st
def test_c2st_same_distribution_near_half(two_samples):
    a, b = two_samples
    enc = fit_encoding(pa.concat_tables([a, b]), "label")
    assert abs(c2st_auc(enc, a, b, seed=0) - 0.5) < 0.1


def test_c2st_shifted_data_near_one(two_samples):
    a, b = two_samples
    shifted = _shift(b)
    enc = fit_encoding(pa.concat_tables([a, shifted]), "label")
    assert c2st_auc(enc, a, shifted, seed=0) > 0.95


def test_c2st_class_mix_alone_is_not_detected(two_samples):
    """Synthetic rows of the minority class only: same-class real rows are matched to them."""
    a, b = two_samples
    only_c = b.filter(pc.equal(b.column("label"), "c"))
    enc = fit_encoding(pa.concat_tables([a, b]), "label")
    assert abs(c2st_auc(enc, a, only_c, seed=0) - 0.5) < 0.2


def test_c2st_rejects_too_few_rows(two_samples):
    from vae_augment.errors import VAEAugmentError

    a, b = two_samples
    enc = fit_encoding(pa.concat_tables([a, b]), "label")
    with pytest.raises(VAEAugmentError, match="at least 5 comparable rows"):
        c2st_auc(enc, a, b.slice(0, 3))


# ---------------------------------------------------------------------------- metrics
def test_same_distribution_scores_well_and_shift_scores_badly(two_samples, same_report):
    a, b = two_samples
    good = same_report
    assert good["fidelity"]["score"] > 0.85
    assert good["fidelity"]["association_mean_abs_diff"] < 0.1
    assert abs(good["detection"]["c2st_auc"] - 0.5) < 0.1
    assert good["privacy"]["exact_copy_rate"] == 0.0
    # the distance of an independent sample to real-train is like real-test's
    share = good["privacy"]["share_closer_than_holdout_p05"]
    assert 0.0 <= share < 0.2

    bad = evaluate(a, _shift(b), label="label", seed=0)
    for cls, entry in bad["fidelity"]["per_class"].items():
        assert entry["columns"]["f"]["score"] < 0.05, cls
        assert entry["columns"]["f"]["metric"] == "ks_complement"
        assert entry["columns"]["s"]["metric"] == "tv_complement"
        assert entry["score"] < good["fidelity"]["per_class"][cls]["score"]
    assert bad["detection"]["c2st_auc"] > 0.95


def test_exact_copies_are_counted(two_samples, copies_report):
    """REAL against itself (the CLI run's report.json: the same `evaluate(a, a, seed=0)`)."""
    a, _ = two_samples
    report = copies_report["report"]
    assert report["privacy"]["exact_copy_rate"] == 1.0
    # like for like with real-test's rate (against real-train): the 70 % that are train rows
    split = report["split"]
    assert report["privacy"]["train_exact_copy_rate"] == pytest.approx(
        split["real_train"] / a.num_rows, abs=0.02)
    assert report["privacy"]["holdout_exact_copy_rate"] == 0.0
    # the real-test rows' copies are counted too, and said: the model may have seen them
    assert report["privacy"]["test_exact_copies"] == split["real_test"]
    assert report["privacy"]["exact_copies"] == a.num_rows
    # the finding states the headline's rate, the copies of real-test rows, and the data's
    # own duplicate rate as the baseline
    first = report["findings"][0]
    assert first["message"].startswith("100.0% of synthetic rows are exact copies of real "
                                       "rows (real-train or real-test); "
                                       f"{split['real_test']:,} of them (30.0% of the")
    assert "real rows themselves repeat at 0.0%" in first["message"]
    assert report["privacy"]["dcr_synthetic"]["median"] == pytest.approx(0.0, abs=1e-6)
    assert report["fidelity"]["score"] == pytest.approx(1.0)
    # copies give themselves away: a copy in the training folds votes against its twin
    assert report["detection"]["c2st_auc"] < 0.3


def test_progress_bar_counts_the_sections(two_samples, same_report, capsys):
    """`evaluate` is long work: a bar of its sections on stderr (forced on here; by default
    only on a terminal, so the other tests' captured stderr has none)."""
    a, b = two_samples
    capsys.readouterr()
    report = evaluate(a, b, label="label", seed=0, progress=True)
    err = capsys.readouterr().err
    assert "evaluate" in err and "4/4" in err and "privacy" in err, err
    assert list(report["timings"]) == ["fidelity", "detection", "utility", "privacy"]
    assert report["detection"] == same_report["detection"]  # the bar changes nothing else


def test_null_rate_gap(two_samples):
    a, b = two_samples
    i = b.schema.get_field_index("f")
    nulled = b.set_column(i, b.schema.field(i), pa.nulls(b.num_rows, pa.float64()))
    # 'f' null in every synthetic row stays in the metrics (leaving it out raised the
    # fidelity): no value score, its null-rate gap scores it, and a finding names it
    report = evaluate(a, nulled, label="label", seed=0, sections=["fidelity"])
    assert "f" not in report["skipped_columns"]
    for e in report["fidelity"]["per_class"].values():
        col = e["columns"]["f"]
        assert col["value_score"] is None and col["null_rate_synthetic"] == 1.0
        assert col["score"] == pytest.approx(1.0 - col["null_rate_gap"]) and col["score"] < 0.95
    same = evaluate(a, b, label="label", seed=0, sections=["fidelity"])
    assert report["fidelity"]["score"] < same["fidelity"]["score"] - 0.05
    named = [f for f in report["findings"] if f["message"].startswith("column 'f' is null")]
    assert len(named) == 1 and named[0]["level"] == "warn"
    assert "class 'c': 100.0% of synthetic rows against" in named[0]["message"]
    # half the rows null: the values alone match, the score is 1 - the gap, not the values'
    values = b.column("f").to_numpy(zero_copy_only=False)
    half = pa.array(values, mask=(np.arange(b.num_rows) % 2 == 0) | np.isnan(values))
    # the gap is a fidelity figure: the other sections are not needed for it
    report = evaluate(a, b.set_column(i, b.schema.field(i), half), label="label", seed=0,
                      sections=["fidelity"])
    for e in report["fidelity"]["per_class"].values():
        col = e["columns"]["f"]
        assert 0.3 < col["null_rate_gap"] < 0.7 and col["value_score"] > 0.7
        assert col["score"] == pytest.approx(1.0 - col["null_rate_gap"])
    assert any(f["message"].startswith("column 'f' is null") for f in report["findings"])


def test_utility_section(two_samples, same_report):
    a, _ = two_samples
    report = same_report
    u = report["utility"]
    assert u["minority_class"] == "c"
    assert set(u["results"]) == {"logistic_regression", "gradient_boosting"}
    counts = u["train_counts"]
    # oversamplers bring real-train to the 'auto' target; vae_augment as far as the synthetic
    # rows go, and the report says how many were missing
    assert counts["random_oversampling"] == counts["smote"]
    target = counts["smote"]["a"]
    assert set(counts["smote"].values()) == {target} and counts["none"]["a"] == target
    available = report["counts"]["synthetic"]
    for c in ("b", "c"):
        expect = min(target, counts["none"][c] + available[c])
        assert counts["vae_augment"][c] == expect
        assert u["synthetic_shortfall"].get(c, 0) == target - expect
    assert u["synthetic_shortfall"]
    for res in u["results"].values():
        assert set(res) == {"none", "random_oversampling", "smote", "vae_augment"}
        for m in res.values():
            for k in ("balanced_accuracy", "macro_f1", "minority_f1",
                      "minority_average_precision"):
                assert 0.0 <= m[k] <= 1.0
    split = report["split"]
    assert split["real_train"] + split["real_test"] == a.num_rows
    assert split["real_test"] == pytest.approx(0.3 * a.num_rows, abs=3)
    # one split: the gaps' standard errors from resampling real-test (findings weigh them)
    assert set(u["bootstrap_se"]) == {"logistic_regression", "gradient_boosting"}
    for pairs in u["bootstrap_se"].values():
        assert set(pairs) == {"vae_augment-none", "vae_augment-smote",
                              "vae_augment-random_oversampling", "random_oversampling-none"}
        for se in pairs.values():
            assert 0.0 <= se["minority_f1"] < 0.5 and 0.0 <= se["macro_f1"] < 0.5
            assert len(se["f1_per_class"]) == 3
        # 30 % of 300 rows leave real-test a handful of minority rows: noisy figures
        assert pairs["vae_augment-none"]["macro_f1"] > 0.01
    # each method's own figures' errors: the utility plots' bars on one split
    assert set(u["figure_se"]) == set(u["results"])
    for clf, methods in u["figure_se"].items():
        assert set(methods) == set(u["results"][clf])
        # (a method predicting no minority row, or one class only, has figures that no
        # resample moves)
        assert max(se["balanced_accuracy"] for se in methods.values()) > 0.01
        for m, se in methods.items():
            assert 0.0 <= se["minority_f1"] < 0.5 and 0.0 <= se["balanced_accuracy"] < 0.5
            assert len(se["f1_per_class"]) == 3
            assert (se["minority_f1"] > 0.01) == (u["results"][clf][m]["minority_f1"] > 0)


def test_holdout_replaces_the_split(two_samples):
    a, b = two_samples
    holdout = make_mixed_table(200, seed=5, with_tensor=False)
    # utility is the section whose rows the split decides (and the one asserted on)
    report = evaluate(a, b, label="label", holdout=holdout, seed=0, sections=["utility"])
    assert report["split"]["holdout_given"]
    assert report["split"]["real_test"] == 200
    assert report["utility"]["train_rows"] == a.num_rows


# ---------------------------------------------------------------------------- with a model
def test_model_report_fields(model_report):
    report, out = model_report
    assert report["rows"]["synthetic"] == 200
    assert report["rows"]["real_beside_synthetic"] == 0  # a `sample` output: no real rows
    assert report["counts"]["synthetic"] == {"a": 40, "b": 80, "c": 80}
    assert report["columns"]["img"] == "tensor"
    # the model's training rows per class (the findings' small-class advice reads them)
    assert report["model_settings"]["class_rows"] == {"a": 186, "b": 71, "c": 43}
    diag = report["diagnostics"]
    assert diag["latent_dim"] == 4 and len(diag["kl_per_dim"]) == 4
    assert all(v >= 0 for v in diag["kl_per_dim"])
    assert 0 <= diag["active_units"] <= 4 and 0 <= diag["active_units_kl"] <= 4
    assert math.isfinite(diag["elbo"]) and math.isfinite(diag["iw_bound"])
    # the importance-weighted bound is the tighter one (up to Monte Carlo noise)
    assert diag["iw_bound"] >= diag["elbo"] - 0.5
    assert diag["kl_total"] == pytest.approx(sum(diag["kl_per_dim"]), rel=1e-5)
    # the defaults fit a class guide: its floors and pass rates (tests/test_guide.py)
    assert diag["guide"]["iterations"] == FAST["guide_iterations"]
    assert diag["guide"]["candidates"] == FAST["candidates"]
    curves = diag["curves"]  # the training history, as the artifact keeps it
    assert curves["epochs_run"] == curves["epochs_cap"] == 2 and curves["patience"] == 1
    assert len(curves["history"]["val_loss"]) == 2 and curves["best_epoch"] in (1, 2)
    labels = report["labels"]
    assert labels["rows"] == labels["rows_with_label"] == mixed_table_rows(report)
    assert [c["class"] for c in labels["classes"]] == ["a", "b", "c"]
    assert sum(c["rows"] for c in labels["classes"]) == labels["rows"]
    assert len(labels["examples"]) == 10
    p = [e["p_label"] for e in labels["examples"]]
    assert p == sorted(p) and all(0.0 <= v <= 1.0 for v in p)
    assert labels["examples"][0]["values"]["img"].endswith("values]")  # a tensor by its size
    assert len(report["latent"]["explained_variance_ratio"]) == 2
    assert 0.0 <= report["detection"]["c2st_auc"] <= 1.0
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["detection"] == report["detection"]
    for key in ("fidelity", "detection", "utility", "privacy", "diagnostics", "latent", "split"):
        assert key in on_disk


def test_report_html_is_self_contained(model_report):
    report, out = model_report
    text = (out / "report.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    # no external resources: every src is an inline data URI, no links, scripts or stylesheets
    srcs = re.findall(r'src="([^"]*)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "href=" not in text and "<script" not in text and "@import" not in text
    pngs = [base64.b64decode(s.split(",", 1)[1]) for s in srcs]
    assert all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    # fidelity, marginals, associations, image grid, latents, utility (and, with three
    # classes, F1 per class), privacy, KL, training curves
    assert set(report["plots"]) == {"fidelity", "marginals", "association", "images", "latent",
                                    "utility", "utility_classes", "privacy", "kl", "curves"}
    assert len(pngs) == 10
    for heading in ("Fidelity", "Detection (C2ST)", "Utility", "Privacy", "Model diagnostics",
                    "Labels the model doubts"):
        assert heading in text
    # the KL chart under its own heading, after the training curves' (it was under theirs)
    kl_at = text.index('alt="KL per dimension"')
    assert text.rindex("<h3>", 0, kl_at) == text.index("<h3>Latent dimensions</h3>") \
        > text.index("<h3>Training</h3>")
    # one split: how far real-test's rows move a gap, as the findings weigh it (3 classes:
    # macro F1), the numbers report.json keeps
    se = report["utility"]["bootstrap_se"]["logistic_regression"]["vae_augment-none"]
    assert "One split: the gap between the vae_augment row's macro F1 and another row's " \
        "moves with which rows real-test holds" in text
    assert f"logistic regression, against none ± {2 * se['macro_f1']:.3f}" in text
    # the page's training rows are the informative ones (report.json keeps every figure)
    assert "training: best epoch" in text and "training: validation −ELBO" in text
    assert "shaded warm-up" not in text  # a warm-up of 1 epoch: nothing shaded, nothing said
    for clutter in ("global_step", "replicas", "steps_per_epoch", "streaming"):
        assert f"training: {clutter}" not in text
        assert clutter in report["diagnostics"]["training"]


# ---------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, two_samples):
    d = tmp_path_factory.mktemp("cli")
    a, b = two_samples
    pq.write_table(a, d / "real.parquet")
    pq.write_table(b, d / "synthetic.parquet")
    pq.write_table(b.drop_columns(["label"]), d / "nolabel.parquet")
    pq.write_table(b.drop_columns(["f"]), d / "nof.parquet")
    i = b.schema.get_field_index("i")
    pq.write_table(b.set_column(i, "i", pc.add(pc.cast(b.column("i"), pa.float64()), 0.5)),
                   d / "itype.parquet")  # not whole numbers: no lossless cast to int64
    pq.write_table(b.set_column(i, "i", pc.cast(b.column("i"), pa.int32())),
                   d / "int32.parquet")  # another tool's narrower integers: cast
    return d


@pytest.mark.parametrize("synthetic, message", [
    ("nolabel.parquet", "`--label` column 'label' not found in SYNTHETIC"),
    ("nof.parquet", r"SYNTHETIC columns do not match REAL: missing \['f'\]"),
    ("itype.parquet", "column 'i' is int64 in REAL but double in SYNTHETIC, which does not "
                      "convert without changing values"),
    ("missing.parquet", "does not exist"),
])
def test_cli_bad_input_exits_2_with_one_line(cli_files, capsys, synthetic, message):
    code = main(["evaluate", str(cli_files / "real.parquet"), str(cli_files / synthetic),
                 "--label", "label", "--report", str(cli_files / "bad")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("vae-augment: error:")
    assert re.search(message, err)
    assert not (cli_files / "bad" / "report.json").exists()


def test_cli_report_path_is_a_file(cli_files, capsys):
    code = main(["evaluate", str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet"),
                 "--label", "label", "--report", str(cli_files / "real.parquet")])
    assert code == 2
    assert "is not a directory" in capsys.readouterr().err


def test_cli_missing_label_in_real(cli_files, capsys):
    code = main(["evaluate", str(cli_files / "nolabel.parquet"),
                 str(cli_files / "synthetic.parquet"), "--label", "label",
                 "--report", str(cli_files / "bad")])
    assert code == 2
    assert "not found in REAL" in capsys.readouterr().err


@pytest.fixture(scope="module")
def copies_report(cli_files):
    """One CLI run of REAL against itself, all sections (test_exact_copies_are_counted reads
    its report.json: the same computation as `evaluate(a, a, label="label", seed=0)`)."""
    out = cli_files / "rep"
    code, stdout, stderr = run_cli(["evaluate", cli_files / "real.parquet",
                                    cli_files / "real.parquet", "--label", "label",
                                    "--report", out, "--quiet"])
    report = json.loads((out / "report.json").read_text()) if code == 0 else None
    return {"code": code, "out": out, "stdout": stdout, "stderr": stderr, "report": report}


def test_cli_evaluate_writes_report(copies_report):
    out = copies_report["out"]
    code = copies_report["code"]
    assert code == 0
    summary = json.loads(copies_report["stdout"].strip().splitlines()[-1])
    assert summary["exact_copy_rate"] == 1.0 and summary["fidelity"] == pytest.approx(1.0)
    assert summary["report"] == str(out / "report.html")
    assert (out / "report.html").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["privacy"]["exact_copy_rate"] == 1.0
    # the findings call the copies a problem, first, with the flag that drops them
    first = report["findings"][0]
    assert (first["level"], first["section"]) == ("bad", "privacy")
    assert "--privacy-min-distance 0" in first["advice"]
    assert "<h2>Findings</h2>" in (out / "report.html").read_text()
    # --quiet silences progress and the "wrote" line, not the warnings and problems
    err = copies_report["stderr"]
    assert err.startswith("vae-augment: problem (privacy): 100.0% of synthetic rows"), err
    assert "wrote " not in err


def test_balance_report(tmp_path, mixed_parquet, mixed_artifact, capsys):
    """`balance --report` evaluates exactly the synthetic rows of the run, with its model."""
    out = tmp_path / "balanced.parquet"
    code = main(["balance", str(mixed_parquet), str(out), "--label", "label",
                 "--model-dir", str(mixed_artifact), "--report", str(tmp_path / "rep"),
                 "--utility-splits", "2", "--quiet"])
    assert code == 0
    captured = capsys.readouterr()
    assert "report.html" in captured.out
    balanced = pq.read_table(out)
    flags = balanced.column("is_synthetic").to_numpy()
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["rows"]["synthetic"] == int(flags.sum())
    assert report["rows"]["real"] == int((~flags).sum())
    # the output's own real rows, beside its synthetic ones (REAL here is the input file)
    assert report["rows"]["real_beside_synthetic"] == int((~flags).sum())
    assert report["model"] == str(mixed_artifact)
    assert report["counts"]["synthetic"]["a"] == 0  # the majority class gets no new rows
    assert report["diagnostics"]["latent_dim"] == 4
    assert (tmp_path / "rep" / "report.html").exists()
    assert report["utility"]["splits"] == 2 and len(report["utility"]["per_split"]) == 2
    # --quiet silences progress, not the report's warnings and problems
    flagged = [f for f in report["findings"] if f["level"] != "ok"]
    assert flagged
    for f in flagged:
        assert f"({f['section']}): {f['message']}" in captured.err
    # the splits are a setting of the report: without one, an error before any work
    assert main(["balance", str(mixed_parquet), str(tmp_path / "b2.parquet"), "--label",
                 "label", "--model-dir", str(mixed_artifact), "--utility-splits", "3"]) == 2
    assert "give --report DIR" in capsys.readouterr().err
    assert not (tmp_path / "b2.parquet").exists()


def test_sections_compute_only_what_is_asked(cli_files, mixed_table, mixed_artifact, capsys,
                                             monkeypatch):
    from vae_augment import evaluation

    def not_called(*a, **k):
        raise AssertionError("a section left out was computed")

    monkeypatch.setattr(evaluation, "_utility_over_splits", not_called)
    monkeypatch.setattr(evaluation, "_privacy", not_called)
    monkeypatch.setattr(evaluation, "_diagnostics", not_called)
    out = cli_files / "some"
    code = main(["evaluate", str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet"),
                 "--label", "label", "--report", str(out), "--sections", "detection,fidelity",
                 "--quiet"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary) == {"report", "fidelity", "fidelity_real_halves", "c2st_auc"}  # no figure of a skipped section
    report = json.loads((out / "report.json").read_text())
    assert report["sections"] == ["fidelity", "detection"]
    assert report["utility"] is None and report["privacy"] is None
    assert 0.0 <= report["detection"]["c2st_auc"] <= 1.0 and report["fidelity"]["score"] > 0.5
    page = (out / "report.html").read_text()
    assert page.count("Not computed") == 2 and "<h2>Utility</h2>" in page
    # with a model, leaving "model" out says so instead of "no model given"
    from vae_augment.api import sample

    synthetic = sample(str(mixed_artifact), {"b": 30}, seed=1)
    rep = evaluate(mixed_table, synthetic, label="label", model=str(mixed_artifact),
                   report_dir=str(cli_files / "nomodel"), sections=["detection"], progress=False)
    assert rep["diagnostics"] is None and rep["sections"] == ["detection"]
    page = (cli_files / "nomodel" / "report.html").read_text()
    assert page.count("Not computed") == 4 and "No model given" not in page
    code = main(["evaluate", str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet"),
                 "--label", "label", "--report", str(out), "--sections", "detection,speed"])
    err = capsys.readouterr().err
    assert code == 2 and "`--sections` must be a non-empty subset of" in err and "'speed'" in err
    code = main(["evaluate", str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet"),
                 "--label", "label", "--report", str(out), "--sections", "model"])
    assert code == 2 and "needs the model" in capsys.readouterr().err
    # an in-memory model (no directory) left out by `sections` is "not computed" either
    from vae_augment.artifact import load_artifact

    art = load_artifact(str(mixed_artifact))
    art.path = None
    rep = evaluate(mixed_table, synthetic, label="label", model=art, sections="fidelity, detection",
                   report_dir=str(cli_files / "inmem"), progress=False)
    assert rep["sections"] == ["fidelity", "detection"] and rep["model_given"]
    page = (cli_files / "inmem" / "report.html").read_text()
    assert "No model given" not in page and page.count("Not computed") == 3


def test_report_dir_follows_the_output_rules(cli_files, capsys, tmp_path):
    """An existing report is replaced only with --overwrite; a missing parent is refused;
    both before any work."""
    real, syn = str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet")
    out = tmp_path / "rep"
    argv = ["evaluate", real, syn, "--label", "label", "--report", str(out), "--quiet",
            "--sections", "fidelity"]
    assert main(argv) == 0
    before = (out / "report.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"report '{out / 'report.json'}' already exists; pass --overwrite" in err
    assert (out / "report.json").stat().st_mtime_ns == before
    assert main([*argv, "--overwrite"]) == 0
    capsys.readouterr()
    assert main(["evaluate", real, syn, "--label", "label", "--quiet",
                 "--report", str(tmp_path / "no" / "such" / "rep")]) == 2
    assert "output directory" in capsys.readouterr().err and not (tmp_path / "no").exists()
    with pytest.raises(InputError, match=r"pass overwrite=True"):
        evaluate(real, syn, label="label", report_dir=out, sections=["fidelity"])


def test_classes_synthetic_rows_share_with_real_ones_are_checked(two_samples):
    a, b = two_samples
    only = lambda t, c: t.filter(pc.equal(t.column("label"), c))  # noqa: E731
    with pytest.raises(SchemaError, match=r"no SYNTHETIC row has a class that REAL has"):
        evaluate(only(a, "a"), only(b, "b"), label="label", sections=["fidelity"])
    with pytest.warns(UserWarning, match=r"SYNTHETIC has classes REAL lacks \(\['c'\]\)"):
        evaluate(a.filter(pc.not_equal(a.column("label"), "c")), b, label="label",
                 sections=["fidelity"])


def test_report_header_names_a_model_that_was_not_saved():
    from vae_augment.report import _model_text

    assert _model_text({"model": "runs/x", "model_given": True}) == "runs/x"
    assert _model_text({"model": None, "model_given": True}) == "in memory (not saved)"
    assert _model_text({"model": None, "model_given": False}) == "not given"


def test_c2st_detects_a_shifted_column_on_small_samples(two_samples):
    """With scikit-learn's 20-row leaves the classifier cannot split 21 rows a side and read
    a 10-sd shift as 0.46, "indistinguishable"; the leaves now shrink with the sample."""
    from vae_augment.detection import c2st_min_leaf

    a, _ = two_samples
    small = pa.concat_tables([a.filter(pc.equal(a.column("label"), c)).slice(0, 21)
                              for c in ("a", "b")])
    sd = float(np.nanstd(small.column("f").to_numpy(zero_copy_only=False)))
    shifted = small.set_column(small.schema.get_field_index("f"), "f",
                               pc.add(small.column("f"), 10 * sd))  # nulls stay null
    det = evaluate(small, shifted, label="label", sections=["detection"])["detection"]
    assert det["c2st_auc"] > 0.9 and det["per_class"]["a"] > 0.9 and det["per_class"]["b"] > 0.9
    same = evaluate(small, small, label="label", sections=["detection"])["detection"]
    assert same["c2st_auc"] < 0.75  # copies are not "detected" by the smaller leaves
    assert [c2st_min_leaf(n) for n in (42, 250, 10_000)] == [3, 20, 20]


def test_utility_cap_keeps_a_single_row_class_and_says_so(two_samples, tmp_path):
    a, b = two_samples
    real = pa.concat_tables([a.filter(pc.equal(a.column("label"), "a")),
                             a.filter(pc.equal(a.column("label"), "b")).slice(0, 1)])
    from vae_augment import VAEAugmentWarning

    with pytest.warns(VAEAugmentWarning, match=r"SYNTHETIC has classes REAL lacks \(\['c'\]\)"):
        report = evaluate(real, b, label="label", sections=["utility"], max_rows=100, seed=0,
                          report_dir=tmp_path / "rep")
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "a stratified random 100 of the" in page
    assert "Real-test has no row of the minority class" in page
    util = report["utility"]
    assert util["train_rows"] == 100 and util["real_train_rows"] > 100
    assert util["train_counts"]["none"]["b"] == 1 and report["max_rows"] == 100
    assert util["test_counts"]["b"] == 0 and sum(util["test_counts"].values()) == util["test_rows"]


# ------------------------------------------------------------- association and plots
def test_cramers_v_is_bias_corrected():
    from vae_augment.fidelity import _cramers_v

    rng = np.random.default_rng(0)
    # independent columns, 51 and 2 categories on 400 rows: the plain V reads about 0.35
    v = [_cramers_v(rng.integers(0, 51, 400), rng.integers(0, 2, 400)) for _ in range(20)]
    assert np.mean(v) < 0.1
    a = rng.integers(0, 5, 1000)
    assert _cramers_v(a, a) == pytest.approx(1.0)
    noisy = np.where(rng.random(1000) < 0.3, (a + 1) % 5, a)
    assert 0.5 < _cramers_v(a, noisy) < 0.9


def test_image_grid_shows_every_class_with_synthetic_rows(tmp_path, monkeypatch):
    """digits has 10 classes: the grid shows each (it showed the 6 smallest)."""
    from vae_augment import report_plots

    def table(n, seed):
        r = np.random.default_rng(seed)
        label = np.repeat([f"k{i}" for i in range(9)], n)
        img = r.integers(0, 17, size=(len(label), 16)).astype(np.uint8)
        cols = {"x": pa.array(r.normal(size=len(label))),
                "img": pa.FixedSizeListArray.from_arrays(pa.array(img.reshape(-1)), 16),
                "label": pa.array(label)}
        return pa.Table.from_arrays(list(cols.values()), schema=pa.schema(
            [pa.field(k, v.type) for k, v in cols.items()], metadata={"image_shape": "4,4"}))

    figs = []
    real_png = report_plots._png
    monkeypatch.setattr(report_plots, "_png", lambda fig, **k: figs.append(fig) or real_png(fig, **k))
    evaluate(table(30, 1), table(30, 2), label="label", seed=0, report_dir=str(tmp_path),
             sections=["fidelity"], progress=False)
    grids = [f for f in figs if f._suptitle is not None and "img" in f._suptitle.get_text()]
    assert len(grids) == 1
    labels = [t.get_text() for ax in grids[0].axes for t in ax.texts]
    assert labels == [f"k{i}" for i in range(9)]
    # a class of 3 real rows (too few for fidelity statistics), the one augmented most, is
    # shown too: its synthetic images are what a user must look at (session 32's audit)
    figs.clear()
    real = table(30, 1)
    keep = np.flatnonzero(np.asarray(real["label"]) != "k8")
    real = pa.concat_tables([real.take(keep), real.take(
        np.flatnonzero(np.asarray(real["label"]) == "k8")[:3])])
    evaluate(real, table(30, 2), label="label", seed=0, report_dir=str(tmp_path / "r2"),
             sections=["fidelity"], progress=False)
    grids = [f for f in figs if f._suptitle is not None and "img" in f._suptitle.get_text()]
    assert [t.get_text() for ax in grids[0].axes for t in ax.texts] == [f"k{i}" for i in range(9)]


# ------------------------------------------------------------- session 21 audit
def test_a_text_column_with_too_many_values_is_left_out_with_a_warning(two_samples, tmp_path,
                                                                       capsys):
    """An ID-like text column is left out of the metrics (it gave an error that named
    `--max-categories`, an option `evaluate` has not); the CLI says so on stderr."""
    a, b = two_samples
    real = a.append_column("id", pa.array([f"r{i}" for i in range(a.num_rows)]))
    syn = b.append_column("id", pa.array([f"s{i}" for i in range(b.num_rows)]))
    report = evaluate(real, syn, label="label", sections=["fidelity"], seed=0)
    assert report["skipped_columns"]["id"].startswith("more than 200 distinct values")
    assert report["columns"].get("id") in (None, "excluded")
    pq.write_table(real, tmp_path / "r.parquet")
    pq.write_table(syn, tmp_path / "s.parquet")
    code = main(["evaluate", str(tmp_path / "r.parquet"), str(tmp_path / "s.parquet"),
                 "--label", "label", "--report", str(tmp_path / "rep"), "--sections",
                 "fidelity"])
    err = capsys.readouterr().err
    assert code == 0
    assert "warning: column 'id' is left out of the metrics: more than 200" in err


def test_a_model_with_a_higher_category_limit_can_be_evaluated(two_samples, tmp_path):
    from vae_augment.api import fit

    a, b = two_samples
    rng = np.random.default_rng(0)
    zips = lambda n: pa.array([f"z{v}" for v in rng.integers(0, 250, n)])  # noqa: E731
    real, syn = a.append_column("zip", zips(a.num_rows)), b.append_column("zip", zips(b.num_rows))
    art = fit(real, label="label", model_dir=str(tmp_path / "m"), max_categories=300,
              epochs=1, hidden=(8,), latent_dim=2, seed=0)
    report = evaluate(real, syn, label="label", model=art, sections=["fidelity"], seed=0)
    assert report["columns"]["zip"] == "categorical" and "zip" not in report["skipped_columns"]


def test_a_model_that_saw_real_test_is_told_apart(two_samples, same_report):
    """Rows drawn around every real row (a model fitted on all of REAL, as `balance` does)
    sit as near real-test rows as real-train ones, and the utility figures learn from them:
    a finding says so. An independent sample, or near copies of real-train with a holdout
    the rows never saw, sit no nearer real-test than real-train rows do (about 5 %)."""
    a, b = two_samples
    i = a.schema.get_field_index("f")
    near = a.set_column(i, "f", pc.add(a.column("f"), 0.001))
    seen = evaluate(a, near, label="label", sections=["privacy"], seed=0)
    assert seen["privacy"]["share_closer_to_test_than_train_p05"] > 0.25  # the test share
    [warning] = [f for f in seen["findings"] if "likely seen" in f["message"]]
    assert warning["level"] == "warn" and warning["section"] == "utility"
    assert "the real-test rows" in warning["message"] and "--holdout" in warning["advice"]
    assert same_report["privacy"]["share_closer_to_test_than_train_p05"] < 0.1
    clean = evaluate(a, near, label="label", holdout=b, sections=["privacy"], seed=0)
    assert clean["privacy"]["share_closer_than_holdout_p05"] > 0.9  # copies of real-train
    assert clean["privacy"]["share_closer_to_test_than_train_p05"] < 0.1
    for report in (same_report, clean):
        assert not [f for f in report["findings"] if "likely seen" in f["message"]]
    # rows drawn around the holdout's (a model fitted on it)
    leaked = evaluate(b, near, label="label", holdout=a, sections=["privacy"], seed=0)
    [warning] = [f for f in leaked["findings"] if "likely seen" in f["message"]]
    assert "the holdout's rows" in warning["message"]


def test_copies_are_graded_bad_not_good(two_samples, tmp_path):
    """A C2ST far under 0.5 means copies: the card is red, and so is the near-copy share."""
    from vae_augment.report import render_html

    a, _ = two_samples
    i = a.schema.get_field_index("f")
    near = a.set_column(i, "f", pc.add(a.column("f"), 0.001))
    report = evaluate(a, near, label="label", sections=["detection", "privacy"], seed=0)
    assert report["detection"]["c2st_auc"] < 0.3
    assert report["privacy"]["share_closer_than_holdout_p05"] > 0.5
    page = render_html(report, {})
    grades = re.findall(r'class="v ([a-z]*)">([^<]*)</div><div class="k">([^<]*)', page)
    by_key = {k.split(" (")[0]: g for g, _, k in grades}
    assert by_key["C2ST AUC"] == "bad"
    assert by_key["share nearer real-train than 95 % of real-test rows"] == "bad"


def test_near_copy_share_counts_ties_at_distance_zero():
    from vae_augment.privacy import _closer_than_p05

    holdout = np.r_[np.zeros(60), np.ones(40)]  # 60 % of unseen rows repeat a train row
    assert _closer_than_p05(holdout, holdout) / 100 == pytest.approx(0.05)
    copies = np.zeros(100)
    assert _closer_than_p05(copies, holdout) / 100 == pytest.approx(0.05 / 0.6)
    assert _closer_than_p05(np.ones(100), holdout) == 0.0
    spread = np.linspace(0.0, 1.0, 101)  # no ties: a plain "below the 5 % quantile"
    assert _closer_than_p05(np.array([0.01, 0.2]), spread) == 1.0


def test_small_real_gives_one_line_and_the_sections_that_need_no_split_still_run(
        two_samples, tmp_path, capsys):
    a, b = two_samples
    real = pa.concat_tables([a.filter(pc.equal(a.column("label"), c)).slice(0, n)
                             for c, n in (("a", 6), ("b", 2), ("c", 2))])
    pq.write_table(real, tmp_path / "r.parquet")
    pq.write_table(b, tmp_path / "s.parquet")
    args = ["evaluate", str(tmp_path / "r.parquet"), str(tmp_path / "s.parquet"), "--label",
            "label", "--report", str(tmp_path / "rep"), "--quiet", "--test-size", "0.2"]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "too few for a stratified split" in err and "--sections fidelity,detection" in err
    assert main(args + ["--sections", "fidelity,detection"]) == 0


def test_a_minority_class_missing_from_real_test_is_not_scored(two_samples):
    """A single-row class stays in real-train: the minority scored is the rarest class real
    test has, macro F1 leaves the untested class out, and SMOTE still runs on the others."""
    a, b = two_samples
    x = a.filter(pc.equal(a.column("label"), "c")).slice(0, 1)
    x = x.set_column(x.schema.get_field_index("label"), "label", pa.array(["x"]))
    real = pa.concat_tables([a, x])
    report = evaluate(real, b, label="label", sections=["utility"], seed=0)
    u = report["utility"]
    assert u["test_counts"]["x"] == 0 and u["minority_class"] == "c"
    assert "x left as it is" in u["smote_skipped"]
    for res in u["results"].values():
        assert set(res) == {"none", "random_oversampling", "smote", "vae_augment"}
        none = res["none"]
        assert none["f1_per_class"][u["classes"].index("x")] is None
        scored = [v for v in none["f1_per_class"] if v is not None]
        assert none["macro_f1"] == pytest.approx(np.mean(scored))


def test_names_with_dollar_signs_plot(two_samples, tmp_path):
    a, b = two_samples
    rename = {"f": "cost_$_usd_$_x", "s": "income ($)"}
    a = a.rename_columns([rename.get(c, c) for c in a.column_names])
    b = b.rename_columns([rename.get(c, c) for c in b.column_names])
    report = evaluate(a, b, label="label", sections=["fidelity"], seed=0,
                      report_dir=tmp_path / "rep")
    assert "marginals" in report["plots"]


def test_an_unwritable_report_directory_fails_before_the_work(two_samples, monkeypatch):
    import tempfile

    from vae_augment import evaluation

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    monkeypatch.setattr(evaluation, "_evaluation_encoding",
                        lambda *a, **k: pytest.fail("work began"))
    a, b = two_samples
    with pytest.raises(InputError, match="cannot write a report into .*Permission denied"):
        evaluate(a, b, label="label", report_dir="/tmp/nowhere-report", seed=0)


def test_the_cli_headline_leaves_out_relations_broken_by_chance():
    from vae_augment.cli_evaluate import summary_line

    report = {"fidelity": {"score": 0.9, "relations": [
        {"relation": "a <= b", "violation_rate": 0.004}]}}
    assert "relation_broken" not in summary_line(report)
    report["fidelity"]["relations"].insert(0, {"relation": "c <= d", "violation_rate": 0.05})
    assert summary_line(report)["relation_broken"] == "c <= d"


def test_evaluate_takes_dataframes(two_samples):
    a, b = two_samples
    report = evaluate(a.to_pandas(), b.to_pandas(), label="label", sections=["fidelity"],
                      seed=0)
    assert report["fidelity"]["score"] == pytest.approx(
        evaluate(a, b, label="label", sections=["fidelity"], seed=0)["fidelity"]["score"])


def test_small_shares_are_not_printed_as_zero():
    from vae_augment.report import _f

    assert _f(0.0004) == "0.0004" and _f(0.0) == "0.000" and _f(0.1234) == "0.123"
    # float32 noise (an exact copy's distance) is 0, not "1e-08"
    assert _f(1e-8) == "0.000" and _f(-3e-7) == "0.000" and _f(2e-6) == "2e-06"


def test_lossless_type_differences_are_cast(cli_files):
    report = evaluate(str(cli_files / "real.parquet"), str(cli_files / "int32.parquet"),
                      label="label", sections=["fidelity"], seed=0)
    same = evaluate(str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet"),
                    label="label", sections=["fidelity"], seed=0)
    assert report["fidelity"]["score"] == same["fidelity"]["score"]


def test_fidelity_has_a_real_vs_real_reference_per_class(two_samples, same_report):
    """Each class's figure comes with two real halves' figure: an independent real sample
    (what perfect synthetic rows are) scores at or above it, a shifted one far below."""
    a, b = two_samples
    fid = same_report["fidelity"]
    for cls, entry in fid["per_class"].items():
        ref = entry["real_reference"]
        assert 0.5 < ref < 1.0, cls
        assert entry["score"] > ref - 0.01, cls  # halves have half the rows: noisier
    assert fid["real_reference"] == pytest.approx(
        np.mean([e["real_reference"] for e in fid["per_class"].values()]))
    bad = evaluate(a, _shift(b), label="label", seed=0, sections=("fidelity",))
    for cls, entry in bad["fidelity"]["per_class"].items():
        assert entry["score"] < entry["real_reference"] - 0.1, cls
        # the reference is real against real: the synthetic rows do not move it
        assert entry["real_reference"] == fid["per_class"][cls]["real_reference"]
    # too few real rows for two halves: no reference, and the card keeps the fixed bars
    small = evaluate(a.slice(0, 12), b, label="label", seed=0, sections=("fidelity",))
    assert all(e.get("real_reference") is None for e in small["fidelity"]["per_class"].values())


def test_correlation_ratio_is_bias_corrected():
    from vae_augment.fidelity import _corr_ratio

    rng = np.random.default_rng(0)
    # an independent number against 51 categories on 400 rows: the plain eta reads about 0.35
    eta = [_corr_ratio(rng.normal(size=400), rng.integers(0, 51, 400)) for _ in range(20)]
    assert np.mean(eta) < 0.12
    cats = rng.integers(0, 4, 2000)
    assert _corr_ratio(cats * 1.0, cats) == pytest.approx(1.0)
    assert 0.6 < _corr_ratio(cats + rng.normal(size=2000), cats) < 0.9


@pytest.mark.parametrize("n_classes, n_cols", [(3, 4), (51, 4), (12, 8), (51, 16)])
def test_fidelity_heatmap_stays_readable_with_many_classes(n_classes, n_cols):
    """The page shows figures at most 1,100 px wide: 51 classes go down the side, and the
    cells narrow to fit many classes or columns (16 columns by 51 classes were 1,506 px)."""
    import base64
    import io

    from PIL import Image

    from vae_augment.report_plots import _fidelity_heatmap

    cols = {f"MonthlyCharges{i}": {"score": 0.9} for i in range(n_cols)}
    per = {f"state_{c}": {"score": 0.9, "n_synthetic": 40, "columns": cols}
           for c in range(n_classes)}
    png = _fidelity_heatmap({"fidelity": {"per_class": per}})
    width, height = Image.open(io.BytesIO(base64.b64decode(png))).size
    assert width < 1100, width
    if n_classes > 12:
        assert height > width  # one row per class


def test_a_synthetic_file_with_no_flagged_row_says_why_it_is_empty(two_samples):
    a, b = two_samples
    unflagged = b.append_column("is_synthetic", pa.array([False] * b.num_rows))
    with pytest.raises(InputError, match=r"SYNTHETIC has an `is_synthetic` column and none of "
                                         r"its 600 rows has it true"):
        evaluate(a, unflagged, label="label", sections=("fidelity",))
    all_synthetic = a.append_column("is_synthetic", pa.array([True] * a.num_rows))
    with pytest.raises(InputError, match=r"REAL has an `is_synthetic` column and none of its "
                                         r"600 rows has it false"):
        evaluate(all_synthetic, b, label="label", sections=("fidelity",))


def test_utility_over_several_splits(two_samples, same_report, cli_files, tmp_path, capsys):
    """`utility_splits`: the first split is the one-split report's, the results are the
    splits' means, and the report shows their spread."""
    a, b = two_samples
    out = tmp_path / "rep"
    code = main(["evaluate", str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet"),
                 "--label", "label", "--report", str(out), "--sections", "utility",
                 "--utility-splits", "3", "--seed", "0", "--quiet"])
    assert code == 0
    u = json.loads((out / "report.json").read_text())["utility"]
    one = same_report["utility"]  # seed 0, one split, all sections
    assert u["splits"] == 3 and u["split_seeds"] == [0, 1, 2] and one["splits"] == 1
    assert "per_split" not in one and "sd" not in one
    # each split's bootstrap errors, the first split's those of the one-split report (the
    # findings weigh the splits' spread, not them)
    assert "bootstrap_se" not in u and len(u["per_split_bootstrap_se"]) == 3
    assert "figure_se" not in u and "figure_se" in one  # several: the splits' spread
    assert u["per_split_bootstrap_se"][0] == one["bootstrap_se"]
    keys = ("balanced_accuracy", "macro_f1", "minority_f1", "minority_average_precision")
    for clf, res in u["results"].items():
        for m, scores in res.items():
            first = u["per_split"][0][clf][m]
            assert all(first[k] == pytest.approx(one["results"][clf][m][k]) for k in keys)
            for k in keys:
                values = [s[clf][m][k] for s in u["per_split"]]
                assert scores[k] == pytest.approx(np.mean(values))
                assert u["sd"][clf][m][k] == pytest.approx(np.std(values, ddof=1))
            assert len(scores["f1_per_class"]) == 3
    # the splits differ (else the spread is no spread)
    assert len({s["logistic_regression"]["none"]["minority_average_precision"]
                for s in u["per_split"]}) == 3
    html_text = (out / "report.html").read_text()
    assert "mean over 3 stratified splits" in html_text and " ± " in html_text
    assert 'alt="F1 per class"' in html_text  # three classes: each class's F1, plotted
    # a holdout is the one real-test; and a number of splits must be a count
    holdout = make_mixed_table(200, seed=5, with_tensor=False)
    from vae_augment.errors import VAEAugmentError

    with pytest.raises(VAEAugmentError, match="needs REAL to be split"):
        evaluate(a, b, label="label", holdout=holdout, utility_splits=2)
    with pytest.raises(VAEAugmentError, match="which sections leaves out"):
        evaluate(a, b, label="label", utility_splits=2, sections=["fidelity"])
    for bad in (0, 1.5, True):
        with pytest.raises(VAEAugmentError, match="utility_splits"):
            evaluate(a, b, label="label", utility_splits=bad, sections=["utility"])
    capsys.readouterr()
    assert main(["evaluate", str(cli_files / "real.parquet"),
                 str(cli_files / "synthetic.parquet"), "--label", "label", "--report",
                 str(tmp_path / "r0"), "--utility-splits", "0"]) == 2
    assert "--utility-splits must be a whole number" in capsys.readouterr().err


def test_utility_features_standard_is_the_baselines_preprocessing(two_samples, same_report,
                                                                   cli_files, tmp_path, capsys):
    """`utility_features`: "standard" (the default) trains the classifiers on the public
    baselines' preprocessing, as a ColumnTransformer over the table would; "encoding" on the
    model's encoding; the two give different scores, and the report says which it used."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from vae_augment.errors import VAEAugmentError
    from vae_augment.evaluation import _split

    a, b = two_samples
    u = same_report["utility"]
    assert u["features"] == "standard"
    enc = fit_encoding(a, "label")
    y = enc.encode(a)["y"]
    tr, te = _split(y, 0.3, 0)
    frame = a.drop_columns(["label"]).to_pandas()
    num = [c for c in frame.columns
           if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool]
    cat = [c for c in frame.columns if c not in num]
    for c in cat:  # missing as NaN, which the imputer fills
        frame[c] = frame[c].astype(object).where(frame[c].notna(), np.nan)
    assert frame["f"].isna().any() and frame["s"].isna().any()  # both imputers have work
    pre = ColumnTransformer(
        [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
         ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                               OneHotEncoder(handle_unknown="ignore")), cat)],
        sparse_threshold=0.0)
    x_tr = pre.fit_transform(frame.iloc[tr])
    x_te = pre.transform(frame.iloc[te])
    lr = LogisticRegression(max_iter=3000).fit(x_tr, y[tr])
    minority = enc.classes.index("c")
    ap = average_precision_score(y[te] == minority,
                                 lr.predict_proba(x_te)[:, list(lr.classes_).index(minority)])
    got = u["results"]["logistic_regression"]["none"]["minority_average_precision"]
    assert got == pytest.approx(ap, abs=1e-9)

    with pytest.raises(VAEAugmentError, match="utility_features must be one of standard, "
                                              "encoding, got 'raw'"):
        evaluate(a, b, label="label", sections=["utility"], utility_features="raw")
    # "encoding": the CLI run is `evaluate(a, b, seed=0, sections=["utility"],
    # utility_features="encoding")` (REAL and SYNTHETIC are a and b, the seed its default 0)
    out = tmp_path / "rep"
    assert main(["evaluate", str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet"),
                 "--label", "label", "--report", str(out), "--sections", "utility",
                 "--utility-features", "encoding", "--quiet"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["utility"]["features"] == "encoding" and rep["seed"] == 0
    other = rep["utility"]["results"]["logistic_regression"]["none"]["minority_average_precision"]
    assert other != pytest.approx(ap, abs=1e-6)
    assert "--utility-features encoding" in (out / "report.html").read_text()
    capsys.readouterr()
    assert main(["balance", str(cli_files / "real.parquet"), str(tmp_path / "out.parquet"),
                 "--label", "label", "--utility-features", "encoding"]) == 2
    assert "--utility-features is a setting of the report" in capsys.readouterr().err
    assert not (tmp_path / "out.parquet").exists()


def test_report_edge_cases_of_the_utility_section(tmp_path):
    """A column with no value in real-train, an empty or foreign-class holdout, fewer rows
    allowed than classes, a minority class real-test lacks, ties in the HTML tables."""
    import warnings

    from vae_augment.errors import InputError, VAEAugmentError
    from vae_augment.evaluation import _split

    rng = np.random.default_rng(0)
    n = 400
    y = rng.choice(["a", "b"], n, p=[0.75, 0.25])
    y[:2] = ["a", "b"]
    tr, te = _split(np.asarray(y == "b", np.int32), 0.3, 0)
    # 'note' has values only in real-test rows: nothing for the standard imputers to fit
    note = [None] * n
    for i in te[:3]:
        note[i] = "rare"
    real = pa.table({"x": rng.normal(size=n), "note": pa.array(note, pa.string()), "y": y})
    syn = pa.table({"x": rng.normal(size=300),
                    "note": pa.array(["rare"] * 5 + [None] * 295, pa.string()),
                    "y": rng.choice(["a", "b"], 300)})
    rep = evaluate(real, syn, label="y", sections=["utility"], seed=0)
    assert rep["utility"]["features"] == "standard" and "results" in rep["utility"]
    # only that column: nothing to train on, the section says so and the findings too
    only = evaluate(real.drop_columns(["x"]), syn.drop_columns(["x"]), label="y",
                    sections=["utility"], seed=0)
    assert only["utility"]["skipped"] == "no feature column has a value in any real-train row"
    assert "skipped utility: no feature column" in only["findings"][0]["message"]
    # a holdout without labelled rows is an error; one with a class REAL lacks, a warning
    empty = real.slice(0, 0)
    with pytest.raises(InputError, match="HOLDOUT has no row with a 'y' value"):
        evaluate(real, syn, label="y", holdout=empty, sections=["utility"])
    foreign = pa.table({"x": rng.normal(size=40), "note": pa.array([None] * 40, pa.string()),
                        "y": ["a"] * 20 + ["b"] * 10 + ["zz"] * 10})
    with pytest.warns(UserWarning, match=r"HOLDOUT has classes REAL lacks \(\['zz'\]\)"):
        evaluate(real, syn, label="y", holdout=foreign, sections=["utility"])
    # fewer utility rows than classes: one line, before any work
    many = pa.table({"x": rng.normal(size=1500), "y": [f"k{i % 150}" for i in range(1500)]})
    with pytest.raises(InputError, match="max_rows=100 is under REAL's 150 classes"):
        evaluate(many, many.slice(0, 300), label="y", max_rows=100, sections=["utility"])
    # the feature space is a setting of the utility section
    with pytest.raises(VAEAugmentError, match="utility_features='encoding' is a setting"):
        evaluate(real, syn, label="y", sections=["fidelity"], utility_features="encoding")
    # a minority class with a single row stays in real-train: real-test has none of it
    lone = real.set_column(real.schema.get_field_index("y"), "y",
                           pa.array(["b"] + ["a"] * (n - 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        rep = evaluate(lone, syn, label="y", sections=["utility"], seed=0,
                       report_dir=str(tmp_path / "lone"))
    assert rep["utility"]["test_counts"]["b"] == 0
    assert any("real-test has no row of the minority class 'b'" in f["message"]
               for f in rep["findings"])
    page = (tmp_path / "lone" / "report.html").read_text()
    assert "Real-test has no row of the minority class" in page
    assert "only 0 rows" not in page
    # the column of minority F1 is all "–": no cell marked best; a tie marks every top row
    lr = page[page.index("<h3>logistic regression</h3>"):]
    table = lr[:lr.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)[1:]
    cells = [re.findall(r"<td( class=\"best\")?>(.*?)</td>", r) for r in rows]
    assert all(c[3] == ("", "–") for c in cells)  # minority F1: undefined, unmarked
    top = max(float(c[1][1]) for c in cells)
    assert all((c[1][0] != "") == (float(c[1][1]) == top) for c in cells)


def test_figures_at_the_real_class_shares(two_samples, same_report):
    """`*_at_real_prior`: the predictions with the probabilities reweighted to real-train's
    class shares; for no balancing the shares are real-train's, so they are its figures."""
    u = same_report["utility"]
    for res in u["results"].values():
        none = res["none"]
        assert none["macro_f1_at_real_prior"] == pytest.approx(none["macro_f1"])
        assert none["minority_f1_at_real_prior"] == pytest.approx(none["minority_f1"])
        assert none["f1_per_class_at_real_prior"] == pytest.approx(none["f1_per_class"])
        for m in ("random_oversampling", "smote", "vae_augment"):
            assert 0.0 <= res[m]["macro_f1_at_real_prior"] <= 1.0
    # balanced training sets move predictions toward the minority; reweighting undoes some
    lr = u["results"]["logistic_regression"]
    assert lr["random_oversampling"]["macro_f1_at_real_prior"] != \
        pytest.approx(lr["random_oversampling"]["macro_f1"])


def test_null_tensor_rows_raise_no_warning_about_generating_them():
    """The fit-time warning (a model generates null tensors that Parquet cannot take) does not
    apply to an evaluation, which generates nothing."""
    import warnings

    table = make_mixed_table(200, seed=0)
    img = table.column("img").combine_chunks()
    mask = np.zeros(200, bool)
    mask[3] = True
    holed = table.set_column(table.schema.get_field_index("img"), pa.field("img", img.type),
                             pa.FixedSizeListArray.from_arrays(img.values, 64,
                                                               mask=pa.array(mask)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate(holed, table, label="label", sections=["fidelity"])
    assert not [w for w in caught if "null tensors" in str(w.message)]


def test_the_exact_copy_search_reuses_the_real_train_one(two_samples, monkeypatch):
    """The distance to all of REAL is the nearer of the real-train and real-test searches
    (with a holdout, REAL is real-train: no third search), and it equals a search over REAL.
    Whether the model saw real-test reuses the synthetic rows' real-test search: one more,
    real-train rows to real-test."""
    from vae_augment import privacy
    from vae_augment.privacy import distance_to_closest

    a, b = two_samples
    b = pa.concat_tables([b, a.slice(0, 30)])  # some exact copies
    seen = []

    def spy(encoding, reference, query, **kwargs):
        seen.append(reference.num_rows)
        return distance_to_closest(encoding, reference, query, **kwargs)

    monkeypatch.setattr(privacy, "distance_to_closest", spy)
    rep = evaluate(a, b, label="label", sections=["privacy"], seed=0)
    split = rep["split"]
    assert seen == [split["real_train"], split["real_train"], split["real_test"],
                    split["real_test"]]
    enc = fit_encoding(pa.concat_tables([a, b]), "label")
    direct = distance_to_closest(enc, a, b)
    assert rep["privacy"]["exact_copy_rate"] == pytest.approx(
        float(np.mean(direct <= privacy.EXACT_TOLERANCE)))
    assert rep["privacy"]["exact_copy_rate"] > 0
    seen.clear()
    evaluate(a, b, label="label", sections=["privacy"], seed=0,
             holdout=make_mixed_table(200, seed=5, with_tensor=False))
    assert seen == [a.num_rows, a.num_rows, 200, 200]  # the holdout's two: seen or not


def test_names_the_fonts_cannot_draw_give_one_warning(two_samples, tmp_path):
    """Column and class names in a script the installed fonts lack (CJK here) warned once per
    glyph and plot from matplotlib; now once, saying where the exact names are."""
    import warnings

    a, b = two_samples
    rename = {"f": "收入", "s": "城市"}
    a = a.rename_columns([rename.get(c, c) for c in a.column_names])
    b = b.rename_columns([rename.get(c, c) for c in b.column_names])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate(a, b, label="label", sections=["fidelity"], seed=0,
                          report_dir=tmp_path / "rep")
    assert "marginals" in report["plots"]
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "missing from font" in m], messages
    from matplotlib import font_manager

    from vae_augment.report_plots import _FALLBACK_FONTS

    installed = {f.name for f in font_manager.fontManager.ttflist}
    glyphs = [m for m in messages if "cannot draw" in m]
    if not installed & set(_FALLBACK_FONTS):  # this machine: DejaVu only, no CJK glyphs
        assert len(glyphs) == 1 and "收" in glyphs[0], messages


def test_a_report_on_huge_ints_half_floats_and_a_three_row_class(tmp_path):
    """Three crashes of session 31's audit, each on a valid input: an int64 column past
    2**53 (a safe cast in the utility features), a float16 column of a few values taken as
    a category (no value_counts kernel), and a class of 3 rows (C2ST skipped: the HTML's
    card took None for a number and left a 0-byte report.html)."""
    def table(seed):
        t = make_mixed_table(300, seed=seed, with_tensor=False)
        rng = np.random.default_rng(seed)
        labels = t.column("label").to_pylist()
        labels[:3] = ["tiny"] * 3
        i = t.schema.get_field_index("label")
        t = t.set_column(i, "label", pa.array(labels))
        t = t.append_column("big_id", pa.array(2**62 + rng.integers(0, 10**6, 300), pa.int64()))
        return t.append_column("flag16", pa.array(rng.integers(0, 2, 300).astype(np.float16)))

    synthetic = table(2).slice(0, 3)  # rows of the 3-row class only: no C2ST
    report = evaluate(table(1), synthetic, label="label", seed=0, report_dir=tmp_path / "rep")
    assert report["detection"]["c2st_auc"] is None and report["detection"]["skipped"]
    assert report["utility"]["results"]  # scored, the huge ids included
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "C2ST AUC (0.5 is ideal); skipped" in html and html.rstrip().endswith("</html>")
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["report.html",
                                                                    "report.json"]


def test_standard_features_take_values_near_the_float_limit():
    """A column of +-1e300 overflowed the scaler's variance, and SMOTE then refused the NaN
    features: the utility section crashed. Such a column is divided by its peak first
    (standardising is scale-free); ordinary columns are scaled exactly as before."""
    from sklearn.preprocessing import StandardScaler

    from vae_augment.preparation import fit_encoding
    from vae_augment.utility import StandardFeatures

    rng = np.random.default_rng(0)
    n = 300
    t = pa.table({"h": rng.choice([-1e300, 1e300, 0.0], n), "x": rng.normal(size=n),
                  "y": rng.choice(["a", "b", "b"], n)})
    x = StandardFeatures(fit_encoding(t, "y")).fit_transform(t)
    assert np.isfinite(x).all()
    h = t.column("h").to_numpy()
    np.testing.assert_allclose(x[:, 0], (h / 1e300 - np.mean(h / 1e300)) / np.std(h / 1e300))
    np.testing.assert_array_equal(
        x[:, 1], StandardScaler().fit_transform(t.column("x").to_numpy()[:, None])[:, 0])
    report = evaluate(t, t.slice(0, 100), label="y", seed=0, sections=["utility"])
    assert report["utility"]["results"]


def test_the_exact_copy_rate_counts_the_rows_of_classes_real_has(two_samples):
    """Synthetic rows of a class REAL lacks have no real row to copy: left out of the rate
    (and counted), not counted as rows that copy nothing."""
    a, _ = two_samples
    real = a.filter(pc.not_equal(a.column("label"), "c"))
    with pytest.warns(UserWarning, match="classes REAL lacks"):
        report = evaluate(real, a, label="label", sections=["privacy"], seed=0)
    priv = report["privacy"]
    lacking = int(pc.sum(pc.equal(a.column("label"), "c")).as_py())
    assert priv["exact_copy_rate"] == 1.0
    assert priv["exact_copy_left_out"] == lacking
    assert priv["exact_copy_rows"] == a.num_rows - lacking


def test_synthetic_copies_of_real_test_rows_are_left_out_of_the_utility_figures(two_samples,
                                                                               same_report):
    """SYNTHETIC a copy of REAL: the copies of real-test rows would hand the classifiers the
    answers; they are dropped before training, counted per split, and a finding says so."""
    from vae_augment.utility import _copies_of

    a, _ = two_samples
    report = evaluate(a, a, label="label", sections=["utility"], seed=0, utility_splits=2)
    u = report["utility"]
    test_rows = report["split"]["real_test"]
    assert u["test_copies_dropped"] == [test_rows, test_rows]
    # the synthetic rows the classifiers got: real-train's copies only (a shortfall follows)
    train = u["train_counts"]
    grown = sum(train["vae_augment"].values()) - sum(train["none"].values())
    assert grown <= report["rows"]["synthetic"] - test_rows
    warned = [f for f in report["findings"] if "equal a real-test row" in f["message"]]
    assert len(warned) == 1 and warned[0]["level"] == "warn"
    assert f"{test_rows} on the 2 splits" in warned[0]["message"]
    # one split: a list of one; no copy, nothing dropped (`evaluate(a, b, seed=0)`, all
    # sections: the same utility section as sections=["utility"] gives, and more findings)
    one = same_report
    assert one["utility"]["test_copies_dropped"] == [0]
    assert not any("real-test row" in f["message"] for f in one["findings"])
    # nulls equal nulls, -0.0 equals 0.0, dictionaries with other dictionaries, tensors
    rows = pa.table({"x": pa.array([None, -0.0, 1.0]),
                     "d": pa.array(["p", "q", "r"]).dictionary_encode(),
                     "t": pa.FixedSizeListArray.from_arrays(pa.array([1, 2, 3, 4, 5, 6]), 2),
                     "y": ["u", "u", "v"]})
    syn = pa.table({"x": pa.array([None, 0.0, 1.0, 1.0, None]),
                    "d": pa.array(["r", "q", "r", "r", "p"]).dictionary_encode(),
                    "t": pa.FixedSizeListArray.from_arrays(pa.array([1, 2, 3, 4, 5, 6, 5, 6,
                                                                     1, 2]), 2),
                    "y": ["u", "u", "v", "u", "u"]})
    assert _copies_of(rows, syn, ["x", "d", "t"], "y").tolist() == [False, True, True,
                                                                    False, True]


def test_rows_with_a_null_label_are_left_out_with_a_warning(two_samples):
    a, b = two_samples
    i = b.schema.get_field_index("label")
    labels = b.column("label").to_pylist()
    labels[:7] = [None] * 7
    unlabelled = b.set_column(i, b.schema.field(i), pa.array(labels))
    with pytest.warns(UserWarning, match=r"rows with a null 'label' are left out of every "
                                         r"figure: 7 of SYNTHETIC's"):
        report = evaluate(a, unlabelled, label="label", sections=["fidelity"], seed=0)
    assert report["rows"]["synthetic"] == b.num_rows - 7
    assert report["rows"]["null_label_dropped"] == {"real": 0, "synthetic": 7}


def test_fidelity_is_also_given_over_the_classes_real_halves_scores(two_samples):
    """A class of 7 real rows is scored but has no real halves (10 rows needed): the headline
    averages it in, real halves does not; `score_same_classes` is the like-for-like figure,
    and the card and the CLI summary show it."""
    from vae_augment.cli_evaluate import summary_line
    from vae_augment.report import render_html

    a, b = two_samples
    c_rows = np.flatnonzero(pc.equal(a.column("label"), "c").to_numpy(zero_copy_only=False))
    keep = np.setdiff1d(np.arange(a.num_rows), c_rows[7:])
    report = evaluate(a.take(pa.array(keep)), b, label="label", sections=["fidelity"], seed=0)
    fid = report["fidelity"]
    per = fid["per_class"]
    assert per["c"]["score"] is not None and per["c"].get("real_reference") is None
    assert fid["score_same_classes"] == pytest.approx(np.mean([per["a"]["score"],
                                                               per["b"]["score"]]))
    assert fid["score_same_classes"] != pytest.approx(fid["score"])
    assert summary_line(report)["fidelity_same_classes"] == round(fid["score_same_classes"], 4)
    page = render_html(report, {})
    assert (f"real halves {fid['real_reference']:.3f}, against "
            f"{fid['score_same_classes']:.3f} for the same classes") in page


def test_the_cli_summary_names_figures_as_report_json_does():
    """The near-copy share under report.json's name; with more than two classes the macro
    F1 (what the findings judge), with two the minority F1."""
    from vae_augment.cli_evaluate import summary_line

    lr = {m: {"minority_f1": 0.1, "macro_f1": 0.5} for m in ("none", "smote", "vae_augment")}
    report = {"privacy": {"share_closer_than_holdout_p05": 0.06},
              "utility": {"classes": ["a", "b", "c"],
                          "results": {"logistic_regression": lr}}}
    got = summary_line(report)
    assert got["share_closer_than_holdout_p05"] == 0.06
    assert got["macro_f1_lr_vae_augment"] == 0.5 and "minority_f1_lr_none" not in got
    report["utility"]["classes"] = ["a", "b"]
    assert summary_line(report)["minority_f1_lr_smote"] == 0.1


def test_cli_errors_name_flags_and_the_input_with_a_nan(cli_files, two_samples, capsys):
    a, b = two_samples
    i = b.schema.get_field_index("f32")
    values = b.column("f32").to_numpy().copy()
    values[3] = np.nan
    pq.write_table(b.set_column(i, "f32", pa.array(values)), cli_files / "nan.parquet")
    base = ["evaluate", str(cli_files / "real.parquet"), str(cli_files / "synthetic.parquet"),
            "--label", "label", "--report", str(cli_files / "flags")]
    for flags, message in ((["--test-size", "1.5"], "`--test-size` must be in (0, 1)"),
                           (["--max-rows", "10"], "`--max-rows` must be at least 100"),
                           (["--sections", "foo"], "`--sections` must be a non-empty subset"),
                           (["--exclude", "nope"], "`--exclude` names unknown columns")):
        assert main(base + flags) == 2
        assert message in capsys.readouterr().err, flags
    base[2] = str(cli_files / "nan.parquet")
    assert main(base) == 2
    assert "error: SYNTHETIC: column 'f32' contains NaN" in capsys.readouterr().err
    base[1], base[2] = base[2], str(cli_files / "synthetic.parquet")
    assert main(base) == 2
    assert "error: REAL: column 'f32' contains NaN" in capsys.readouterr().err


def test_a_nan_is_traced_to_its_input_by_column_not_by_message(two_samples):
    """The input holding a NaN is found from the error's column (a name with a newline or a
    quote broke the old parse of the message), and the error pickles with it."""
    import pickle

    from vae_augment.errors import NonFiniteError

    a, b = two_samples
    i = b.schema.get_field_index("f32")
    values = b.column("f32").to_numpy().copy()
    values[3] = np.nan
    name = "f'32\nnew"
    a = a.rename_columns([name if c == "f32" else c for c in a.column_names])
    b = b.set_column(i, name, pa.array(values))
    with pytest.raises(NonFiniteError, match=r"^SYNTHETIC: column 'f'32") as err:
        evaluate(a, b, label="label", seed=0, sections=["fidelity"])
    assert err.value.column == name
    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is NonFiniteError and again.column == name and str(again) == str(err.value)


# ------------------------------------------------------------- session 34: many categories
def _with_zips(two_samples, n_values=400):
    """The two samples with a 'zip' column of `n_values` Zipf-ish values (more than the
    classifiers' FEATURE_MAX_CATEGORIES), and an encoding that models it as a category."""
    a, b = two_samples
    rng = np.random.default_rng(0)
    p = 1.0 / np.arange(1, n_values + 1) ** 0.5
    p /= p.sum()

    def zips(n):
        return pa.array([f"z{v:03d}" for v in rng.choice(n_values, n, p=p)])

    real, syn = a.append_column("zip", zips(a.num_rows)), b.append_column("zip", zips(b.num_rows))
    enc = fit_encoding(pa.concat_tables([real, syn]), "label", max_categories=1000)
    assert next(s for s in enc.categorical if s.name == "zip").n_categories > 200
    return real, syn, enc


def test_classifier_features_of_a_column_of_many_categories_are_capped(two_samples,
                                                                       monkeypatch):
    """C2ST and both utility feature spaces one-hot a column of more categories than
    FEATURE_MAX_CATEGORIES as its most frequent ones plus one for the rest (a 5,000-value
    column made 5,000 features and a report of minutes); the report says so."""
    import sklearn.model_selection
    from sklearn.linear_model import LogisticRegression

    from vae_augment import detection, privacy, utility

    FEATURE_MAX_CATEGORIES = 200  # noqa: N806 (privacy.FEATURE_MAX_CATEGORIES, checked last)
    real, syn, enc = _with_zips(two_samples)
    zip_values = next(s for s in enc.categorical if s.name == "zip").n_categories
    width = sum(min(s.n_categories, FEATURE_MAX_CATEGORIES) for s in enc.categorical) \
        + 2 * len(enc.numeric) + 3  # numbers, their null flags, the label one-hot
    seen = []
    cvp = sklearn.model_selection.cross_val_predict

    def spy(clf, x, *args, **kwargs):
        seen.append(x.shape[1])
        return cvp(clf, x, *args, **kwargs)

    monkeypatch.setattr(sklearn.model_selection, "cross_val_predict", spy)
    assert 0.0 <= detection.c2st_auc(enc, real, syn, seed=0, max_rows=300) <= 1.0
    assert seen and max(seen) <= width
    # the section names the bucketed column (the classifier itself is checked above)
    monkeypatch.setattr(detection, "c2st_auc", lambda *a, **k: 0.5)
    y_r, y_s = enc.encode(real)["y"], enc.encode(syn)["y"]
    det = detection._detection(enc, real, syn, y_r, y_s, seed=0)
    assert det["bucketed_columns"] == {"zip": {"categories": zip_values,
                                               "features": FEATURE_MAX_CATEGORIES}}

    class Recording(LogisticRegression):  # a cheap stand-in that records its features
        def fit(self, x, y, sample_weight=None):
            seen.append(x.shape[1])
            return super().fit(x, y, sample_weight)

    monkeypatch.setattr(utility, "_classifiers", lambda seed, features="standard": {
        "logistic_regression": lambda: Recording(max_iter=50),
        "gradient_boosting": lambda: Recording(max_iter=50)})
    train, test = real.slice(0, 450), real.slice(450)
    for features in utility.FEATURES:
        seen.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter=50 does not converge
            out = utility._utility(enc, train, test, syn, y_s, seed=0, max_rows=20000,
                                   features=features)
        assert len(seen) == 8 and max(seen) <= width
        assert out["bucketed_columns"]["zip"]["features"] == FEATURE_MAX_CATEGORIES
        assert out["bucketed_columns"]["zip"]["categories"] > FEATURE_MAX_CATEGORIES
    standard = utility.StandardFeatures(enc)
    standard.fit(train)
    assert standard.bucketed().keys() == {"zip"}
    # a value real-train lacks goes to the shared column (the last of the one-hot)
    unseen = train.slice(0, 2).set_column(train.schema.get_field_index("zip"), "zip",
                                          pa.array(["never seen", "z000"]))
    x = standard.transform(unseen)
    assert x[0, -1] == 1.0 and x[1, -1] == 0.0
    assert privacy.FEATURE_MAX_CATEGORIES == FEATURE_MAX_CATEGORIES


def test_ordinary_columns_are_not_bucketed(two_samples, same_report):
    """Columns of at most FEATURE_MAX_CATEGORIES categories: features as before, no note."""
    from vae_augment import utility
    from vae_augment.privacy import category_buckets, feature_matrix

    a, b = two_samples
    enc = fit_encoding(pa.concat_tables([a, b]), "label")
    assert category_buckets(enc, (a, b)) == {}
    assert feature_matrix(enc, a, buckets={}).shape == feature_matrix(enc, a).shape
    assert "bucketed_columns" not in same_report["detection"]
    assert "bucketed_columns" not in same_report["utility"]
    assert utility.StandardFeatures(enc).fit(a).bucketed() == {}


def test_distances_with_many_categories_are_the_dense_ones(two_samples):
    """The privacy distances keep every category (no bucketing: two different rare values
    are not copies) and use sparse features: the same distances as the dense one-hot."""
    import scipy.sparse as sp

    from vae_augment.privacy import distance_to_closest, feature_matrix

    real, syn, enc = _with_zips(two_samples)
    dense, sparse = feature_matrix(enc, syn), feature_matrix(enc, syn, sparse=True)
    assert sp.issparse(sparse) and sparse.shape == dense.shape
    np.testing.assert_allclose(sparse.toarray(), dense, atol=1e-7)
    d = distance_to_closest(enc, real, syn)
    from sklearn.neighbors import NearestNeighbors

    y_r, y_s = enc.encode(real)["y"], enc.encode(syn)["y"]
    xr = feature_matrix(enc, real)
    for c in np.unique(y_s):
        nn = NearestNeighbors(n_neighbors=1).fit(xr[y_r == c])
        np.testing.assert_allclose(d[y_s == c], nn.kneighbors(dense[y_s == c])[0][:, 0],
                                   atol=1e-5)
    # a copy is at distance 0; the same row with another rare zip is not a copy
    copy = real.slice(10, 1)
    assert distance_to_closest(enc, real, copy)[0] <= 1e-5
    other = copy.set_column(copy.schema.get_field_index("zip"), "zip",
                            pa.array(["z399" if copy.column("zip")[0].as_py() != "z399"
                                      else "z398"]))
    assert distance_to_closest(enc, real.slice(10, 1), other)[0] > 0.1


def test_a_column_of_200_values_and_nulls_is_not_bucketed(two_samples):
    """The cap counts values, not the null category: what a default fit models stays whole."""
    from vae_augment.privacy import category_buckets, wide_categories

    a, _ = two_samples
    values = [f"v{i % 200}" if i % 7 else None for i in range(a.num_rows)]
    table = a.append_column("v", pa.array(values))
    enc = fit_encoding(table, "label", max_categories=1000)
    assert next(s for s in enc.categorical if s.name == "v").n_categories == 201
    assert wide_categories(enc) == {} and category_buckets(enc, (table,)) == {}
    more = a.append_column("v", pa.array([f"v{i % 201}" for i in range(a.num_rows)]))
    enc = fit_encoding(more, "label", max_categories=1000)
    assert wide_categories(enc) == {"v": 201}
    assert category_buckets(enc, (more,))["v"].max() == 199


def test_a_category_score_is_the_same_in_every_process():
    """The total-variation complement summed a dict's values in string-hash order, so the
    same report differed in its last digits between runs (PYTHONHASHSEED)."""
    import subprocess
    import sys

    code = (
        "import numpy as np, pyarrow as pa\n"
        "from vae_augment.fidelity import _tv_complement\n"
        "rng = np.random.default_rng(0)\n"
        "a = pa.array([f'v{i}' for i in rng.zipf(1.3, 3000) % 997])\n"
        "b = pa.array([f'v{i}' for i in rng.zipf(1.2, 2711) % 991])\n"
        "print(repr(_tv_complement(a, b)))\n"
    )
    import os

    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)},
                           ).stdout.strip() for seed in range(1, 5)}
    assert len(outs) == 1, outs


def test_the_rows_whose_labels_the_model_doubts_most_are_the_flipped_ones(tmp_path):
    """The report's ``labels``: the model as a classifier of REAL's rows. On two well apart
    classes with 6 labels flipped, the flipped rows have the lowest p(label | x), the model's
    most probable class is the label for nearly every other row, and the doubted rows of a
    class look like the other class; the HTML shows them."""
    from vae_augment.api import fit

    rng = np.random.default_rng(0)
    n = 300
    y = np.array(["a"] * n + ["b"] * n, dtype=object)
    centre = np.where(y == "a", -3.0, 3.0)
    x1, x2 = centre + rng.normal(size=2 * n), centre + rng.normal(size=2 * n)
    flip = np.r_[rng.choice(n, 3, replace=False), n + rng.choice(n, 3, replace=False)]
    y[flip] = np.where(y[flip] == "a", "b", "a")
    table = pa.table({"x1": x1, "x2": x2, "label": pa.array(list(y))})
    art = fit(table, label="label", seed=0, epochs=30, batch_size=64, latent_dim=2,
              hidden=(16,), verbose=0)
    report = evaluate(table, table.slice(0, 50), label="label", model=art, seed=0,
                      sections=["model"], report_dir=str(tmp_path / "r"))
    labels = report["labels"]
    assert labels["rows"] == 2 * n and labels["doubt_threshold"] == 0.05
    top = labels["examples"][:6]
    # a flipped row sits in the other class's blob: x1's sign disagrees with its label
    wrong = [(e["values"]["x1"] > 0) == (e["label"] == "a") for e in top]
    assert sum(wrong) >= 5, top
    assert all(e["model_class"] != e["label"] for e, w in zip(top, wrong) if w)
    assert labels["agreement"] >= 0.97
    by_class = {c["class"]: c for c in labels["classes"]}
    assert by_class["a"]["doubted"] >= 2 and set(by_class["a"]["looks_like"]) == {"b"}
    assert by_class["b"]["doubted"] >= 2 and set(by_class["b"]["looks_like"]) == {"a"}
    text = (tmp_path / "r" / "report.html").read_text()
    assert "Labels the model doubts" in text and "--kind label" in text
    assert "shaded warm-up" in text  # 10 epochs of KL warm-up, shaded in the curves


def _list_images(table: pa.Table, short: tuple[int, ...] = ()) -> pa.Table:
    """`table` with its image column as a variable-length list<uint8> (the rows `short`
    holding 10 values)."""
    rows = table.column("img").to_pylist()
    for i in short:
        rows[i] = rows[i][:10]
    i = table.schema.get_field_index("img")
    return table.set_column(i, pa.field("img", pa.list_(pa.uint8())),
                            pa.array(rows, pa.list_(pa.uint8())))


def test_a_variable_length_image_column_is_compared_with_a_fixed_size_one():
    """An image column stored as list<uint8> on one side (a `balance --model-dir` output
    keeps it so) and as a fixed-size list of as many values on the other was refused when
    REAL held the list ("unsupported type"): both sides are compared as the fixed-size list,
    as when both hold it; a row of another length is an error naming the column, the table
    and the row."""
    real, syn = make_mixed_table(200, seed=1), make_mixed_table(200, seed=2)
    want = evaluate(real, syn, label="label", seed=0, sections=["fidelity"])["fidelity"]
    for a, b in ((_list_images(real), syn), (real, _list_images(syn)),
                 (_list_images(real), _list_images(syn))):
        got = evaluate(a, b, label="label", seed=0, sections=["fidelity"])["fidelity"]
        assert got["score"] == want["score"] and got["per_class"] == want["per_class"]
    with pytest.raises(SchemaError, match=r"^column 'img' in REAL has lists of another length "
                                          r"than SYNTHETIC's 64 values \(1 row; the first is "
                                          r"row 4\)$"):
        evaluate(_list_images(real, short=(4,)), syn, label="label", sections=["fidelity"])
    with pytest.raises(SchemaError, match=r"^column 'img' in SYNTHETIC has lists of another "
                                          r"length than REAL's 64 values \(2 rows; the first "
                                          r"is row 5\)$"):
        evaluate(real, _list_images(syn, short=(5, 9)), label="label", sections=["fidelity"])


def test_labels_rank_rows_whose_label_probability_underflows(mixed_table, mixed_artifact,
                                                             monkeypatch):
    """Rows the model finds hundreds of nats less likely under their label (images do)
    have p(label | x) = 0.0 in float64: the 'labels the model doubts' examples came in row
    order, not least likely first, and all read 0. They are ranked by log p(label | x)."""
    import vae_augment.scoring as scoring
    from vae_augment.artifact import load_artifact
    from vae_augment.diagnostics import _labels
    from vae_augment.report import _labels_html

    art = load_artifact(mixed_artifact)
    table = mixed_table.slice(0, 30)
    y = art.encoding._encode_label(table.column("label").combine_chunks())

    def per_class(artifact, t, fn):  # -log p(x | c): row i is 1000 + 10 i nats off its label
        out = np.zeros((t.num_rows, len(artifact.encoding.classes)))
        out[np.arange(t.num_rows), y[:t.num_rows]] = 1000.0 + 10.0 * np.arange(t.num_rows)
        return out

    monkeypatch.setattr(scoring, "_per_class", per_class)
    labels = _labels(art, table, seed=0, max_rows=1000, examples=5)
    ints = table.column("i").to_pylist()
    assert [e["values"]["i"] for e in labels["examples"]] == ints[29:24:-1]
    shown = [e["log_p_label"] for e in labels["examples"]]
    assert shown == sorted(shown) and shown[0] < -1280, shown  # rows 29, 28, ... first
    assert all(e["p_label"] == 0.0 for e in labels["examples"])
    h = []
    _labels_html(h, labels)
    assert f"<td>e^{shown[0]:.0f}</td>" in "".join(h)


def test_overall_label_agreement_weights_capped_classes_by_their_rows(mixed_table,
                                                                      mixed_artifact):
    """With a class over `max_rows`, the overall agreement was the mean over the capped
    subsample, which tilts it towards the small classes; each class now counts by its rows
    in REAL, and the per-class figures are unchanged."""
    from vae_augment.artifact import load_artifact
    from vae_augment.diagnostics import _labels

    art = load_artifact(mixed_artifact)
    counts = dict(zip(*np.unique(mixed_table.column("label").to_pylist(), return_counts=True)))
    cap = min(counts.values()) // 2
    capped = _labels(art, mixed_table, seed=0, max_rows=cap)
    per = {c["class"]: c for c in capped["classes"]}
    assert all(c["rows"] == cap for c in per.values())
    weighted = sum(per[k]["agreement"] * n for k, n in counts.items()) / sum(counts.values())
    assert capped["agreement"] == pytest.approx(weighted)
    # the rows are not all in one class's proportion: the plain mean differs
    plain = np.mean([per[k]["agreement"] for k in counts])
    assert abs(weighted - plain) > 1e-6 or len(set(counts.values())) == 1
    whole = _labels(art, mixed_table, seed=0, max_rows=10 ** 6)
    assert whole["agreement"] == pytest.approx(
        sum(c["agreement"] * c["rows"] for c in whole["classes"]) / mixed_table.num_rows)


def _model_section(real, synthetic, artifact) -> dict:
    """`evaluate`'s model section alone (its warnings about the rows left out silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate(real, synthetic, label="label", model=str(artifact), seed=0,
                        sections=["model"], iw_samples=2)


def test_rows_the_model_cannot_encode_are_left_out_of_the_model_section(mixed_table,
                                                                         mixed_artifact):
    """A REAL row with a category value the model never saw, or a class it does not know,
    used to skip the whole model section (naming a row of a subsample); those rows are now
    left out of it and counted, a finding says so, and the rest is computed on the others."""
    from vae_augment.api import sample

    real = mixed_table
    cats = real.column("s").to_pylist()
    cats[17] = "never-seen"
    labels = real.column("label").to_pylist()
    labels[20] = "zzz"
    real = real.set_column(real.schema.get_field_index("s"), "s", pa.array(cats))
    real = real.set_column(real.schema.get_field_index("label"), "label", pa.array(labels))
    synthetic = sample(str(mixed_artifact), {"a": 30, "b": 30, "c": 30}, seed=1)
    report = _model_section(real, synthetic, mixed_artifact)
    diag = report["diagnostics"]
    assert "skipped" not in diag, diag
    assert diag["left_out"]["real"] == 2 and diag["left_out"]["synthetic"] == 0
    assert report["labels"]["rows"] == real.num_rows - 2
    assert math.isfinite(diag["elbo"])
    found = [f for f in report["findings"] if f["section"] == "model"]
    assert any("2 rows of REAL and 0 of SYNTHETIC hold a category value or a class the "
               "model was not trained on" in f["message"] for f in found), found
    # every row unknown: the section says why it was skipped
    unknown = real.take(pa.array([17, 20] * 5))  # 10 rows: evaluate's least
    report = _model_section(unknown, synthetic, mixed_artifact)
    assert "every row of REAL holds a category value or a class" in \
        report["diagnostics"]["skipped"]


def test_rows_null_where_the_model_saw_no_nulls_are_left_out_of_the_model_section(
        mixed_table, mixed_artifact):
    """A REAL row null in a column the model had no nulls in (a number, or a list image,
    which Parquet holds null) cannot be encoded: the whole model section was skipped ('has
    nulls but had none when the model was trained'); the row is now left out and counted,
    as a row with an unseen category is."""
    from vae_augment.api import sample

    values = mixed_table.column("i").to_pylist()
    values[9] = None
    real = mixed_table.set_column(mixed_table.schema.get_field_index("i"), "i",
                                  pa.array(values, pa.int64()))
    synthetic = sample(str(mixed_artifact), {"a": 30, "b": 30, "c": 30}, seed=1)
    report = _model_section(real, synthetic, mixed_artifact)
    diag = report["diagnostics"]
    assert "skipped" not in diag, diag
    assert diag["left_out"] == {"real": 1, "synthetic": 0, "why": (
        "a category value or a class the model was not trained on, or a null in a column "
        "that had none in training")}
    assert report["labels"]["rows"] == real.num_rows - 1


def test_a_real_table_null_in_every_row_where_the_model_saw_no_nulls_is_said_so(
        mixed_table, mixed_artifact):
    """Every REAL row null in a column the model had no nulls in: the skipped model section
    said every row held 'a category value or a class the model was not trained on', which
    none did."""
    from vae_augment.api import sample

    real = mixed_table.set_column(mixed_table.schema.get_field_index("i"), "i",
                                  pa.nulls(mixed_table.num_rows, pa.int64()))
    synthetic = sample(str(mixed_artifact), {"a": 30, "b": 30, "c": 30}, seed=1)
    report = _model_section(real, synthetic, mixed_artifact)
    assert report["diagnostics"] == {"skipped": (
        "the model cannot encode these rows: every row of REAL holds a category value or a "
        "class the model was not trained on, or a null in a column that had none in "
        "training")}
    # the CLI prints the findings: a model asked for and skipped was said in the report only
    from vae_augment.findings import findings

    model = [f for f in findings(report) if f["section"] == "model"]
    assert model and model[0]["level"] == "warn" and model[0]["message"].startswith(
        "the model section is skipped: cannot encode these rows: every row of REAL holds")


def test_the_doubted_rows_name_their_row_of_real(mixed_table, mixed_artifact, tmp_path):
    """The 10 rows likeliest to be mislabelled were shown by their values only: an image
    shows as '[64 values]', and a row of a subsample, after rows flagged synthetic, with a
    null label or an unseen category were left out, could not be found in REAL. Each now
    names its position in REAL as given (``row``), in the JSON and the HTML."""
    from vae_augment.api import sample

    flagged = mixed_table.slice(0, 40)  # a `balance` output's synthetic rows, first
    real = pa.concat_tables([flagged, mixed_table])
    labels = real.column("label").to_pylist()
    cats = real.column("s").to_pylist()
    labels[50] = labels[61] = None
    cats[70] = "never-seen"
    real = real.set_column(real.schema.get_field_index("label"), "label", pa.array(labels))
    real = real.set_column(real.schema.get_field_index("s"), "s", pa.array(cats))
    real = real.append_column("is_synthetic", pa.array([True] * 40 + [False] * 300))
    synthetic = sample(str(mixed_artifact), {"a": 30, "b": 30, "c": 30}, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate(real, synthetic, label="label", model=str(mixed_artifact), seed=0,
                          sections=["model"], iw_samples=2, report_dir=str(tmp_path / "r"))
    examples = report["labels"]["examples"]
    assert len(examples) == 10
    rows = real.to_pylist()
    for e in examples:
        r = rows[e["row"]]
        assert e["row"] >= 40 and e["row"] not in (50, 61, 70), e["row"]
        assert (r["label"], r["i"], r["small"], r["f32"]) == (
            e["label"], e["values"]["i"], e["values"]["small"], e["values"]["f32"])
    text = (tmp_path / "r" / "report.html").read_text()
    assert "<th>row of REAL</th>" in text and f"<tr><td>{examples[0]['row']}</td>" in text


def test_utility_classifier_not_converging_is_noted_not_printed_raw(two_samples, monkeypatch):
    """A logistic regression stopping at max_iter (digits_longtail's balance --report) printed
    sklearn's ConvergenceWarning raw: nine lines from sklearn's source, advising a max_iter
    no flag takes. The section lists the classifiers instead; other warnings go on."""
    from sklearn.linear_model import LogisticRegression

    from vae_augment import utility

    monkeypatch.setattr(utility, "_classifiers", lambda seed, features="standard": {
        "logistic_regression": lambda: LogisticRegression(max_iter=1)})
    a, b = two_samples
    enc = fit_encoding(pa.concat_tables([a, b]), "label")
    y_b = enc.encode(b)["y"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = utility._utility(enc, a.slice(0, 450), a.slice(450), b, y_b, seed=0,
                               max_rows=20000)
    assert not [w for w in caught if w.category.__name__ == "ConvergenceWarning"]
    assert "logistic_regression (none)" in out["not_converged"]
    # over several splits, any split's
    calls = iter([[], ["logistic_regression (smote)"]])
    real_utility = utility._utility

    def second_split_only(*args, **kwargs):
        out = real_utility(*args, **kwargs)
        out.pop("not_converged", None)
        if nc := next(calls):
            out["not_converged"] = nc
        return out

    monkeypatch.setattr(utility, "_utility", second_split_only)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = utility._utility_over_splits(
            enc, [(a.slice(0, 450), a.slice(450)), (a.slice(150), a.slice(0, 150))], b, y_b,
            [0, 1], 20000)
    assert out["not_converged"] == ["logistic_regression (smote)"]


def test_a_column_of_many_values_only_in_synthetic_is_scored_not_left_out():
    """Whether a text column is an ID (left out of the metrics) is decided by the real rows:
    a 7-valued column that SYNTHETIC fills with a new value a row stays in, and scores as
    the failure it is (it was left out, and the rows scored above a faithful copy); a column
    of a value a row in REAL is still left out."""
    rng = np.random.default_rng(0)
    n = 400
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    def table(seed, day):
        r = np.random.default_rng(seed)
        return pa.table({"x": r.normal(size=n), "day": day,
                         "id": [f"row{seed}-{i}" for i in range(n)],
                         "label": r.choice(["a", "b"], size=n, p=[0.7, 0.3])})

    real = table(1, rng.choice(days, size=n).tolist())
    faithful = table(2, rng.choice(days, size=n).tolist())
    junk = table(2, [f"junk{i}" for i in range(n)])
    sections = ["fidelity", "detection"]
    good = evaluate(real, faithful, label="label", seed=0, sections=sections)
    bad = evaluate(real, junk, label="label", seed=0, sections=sections)
    for report in (good, bad):
        assert "day" not in report["skipped_columns"]
        assert "more than 200 distinct values" in report["skipped_columns"]["id"]
    for cls in ("a", "b"):
        assert bad["fidelity"]["per_class"][cls]["columns"]["day"]["score"] < 0.05
        assert good["fidelity"]["per_class"][cls]["columns"]["day"]["score"] > 0.8
    assert bad["fidelity"]["score"] < good["fidelity"]["score"] - 0.2
    assert bad["detection"]["c2st_auc"] > 0.9 > 0.7 > good["detection"]["c2st_auc"]


@pytest.mark.parametrize("rows", ["balanced", "eight"])
def test_balance_report_refuses_what_it_cannot_evaluate_before_writing(
        tmp_path, mixed_table, mixed_artifact, rows):
    """`balance --report` of an input it would add no rows to, or of fewer than 10 labelled
    rows, exits 2 with nothing written: it wrote the output, then failed in `evaluate`
    naming a SYNTHETIC argument balance has none of."""
    labels = np.asarray(mixed_table.column("label").to_pylist())
    if rows == "balanced":
        take = np.concatenate([np.flatnonzero(labels == c)[:15] for c in ("a", "b", "c")])
        message = "already meet --sampling-strategy auto: balance would add no rows"
    else:
        take = np.arange(8)
        message = "--report needs at least 10 input rows with a label to evaluate, got 8"
    src = tmp_path / "in.parquet"
    pq.write_table(mixed_table.take(take), src)
    out, rep = tmp_path / "out.parquet", tmp_path / "rep"
    code, stdout, err = run_cli(["balance", str(src), str(out), "--label", "label",
                                 "--model-dir", str(mixed_artifact), "--report", str(rep),
                                 "--quiet"])
    assert code == 2 and message in err and "SYNTHETIC" not in err, err
    assert "Traceback" not in err and not out.exists() and not rep.exists()
    # without --report the same input balances (to itself, for the balanced one)
    code, stdout, err = run_cli(["balance", str(src), str(out), "--label", "label",
                                 "--model-dir", str(mixed_artifact), "--quiet"])
    assert code == 0, err
    assert pq.read_table(out).num_rows >= len(take)


@pytest.mark.parametrize("test_size,advice", [(0.95, "a smaller"), (0.05, "a larger")])
def test_a_split_too_small_on_one_side_advises_the_size_that_helps(test_size, advice):
    """On 12 rows of two classes, a test share of 0.95 leaves the training side short and
    0.05 the test side: the error advises a smaller and a larger share respectively (it
    advised a larger one for both)."""
    rng = np.random.default_rng(0)
    real = pa.table({"x": rng.normal(size=12), "label": ["a", "b"] * 6})
    with pytest.raises(InputError, match=f"{advice} test_size"):
        evaluate(real, real, label="label", seed=0, test_size=test_size,
                 sections=["utility"])


def test_the_utility_card_shows_the_figure_the_summary_judges(tmp_path):
    """With more than two classes the findings and the command's summary judge macro F1;
    the report's card showed minority F1 beside them. Now it shows macro F1 (and minority
    F1 for two classes)."""
    real, synthetic = (make_mixed_table(300, seed=1, with_tensor=False),
                       make_mixed_table(300, seed=2, with_tensor=False))
    report = evaluate(real, synthetic, label="label", seed=0, sections=["utility"],
                      report_dir=str(tmp_path / "three"))
    assert len(report["utility"]["classes"]) == 3
    page = (tmp_path / "three" / "report.html").read_text()
    lr = report["utility"]["results"]["logistic_regression"]
    assert "macro F1, logistic regression" in page and "minority F1, logistic" not in page
    assert f"{lr['vae_augment']['macro_f1']:.3f}" in page
    two = real.filter(pc.not_equal(real.column("label"), "c"))
    report = evaluate(two, synthetic.filter(pc.not_equal(synthetic.column("label"), "c")),
                      label="label", seed=0, sections=["utility"],
                      report_dir=str(tmp_path / "two"))
    page = (tmp_path / "two" / "report.html").read_text()
    assert "minority F1, logistic regression" in page


@pytest.mark.parametrize("n_classes", [5, 150])
def test_class_f1_plot_stays_readable_with_many_classes(n_classes):
    """The page shows figures at most 1,100 px wide: the F1-per-class plot of 150 classes
    was 14,985 px wide (shrunk to an unreadable strip); they go down the side instead."""
    import base64
    import io

    from PIL import Image

    from vae_augment.report_plots import _class_f1_plot

    classes = [f"c{i:03d}" for i in range(n_classes)]
    f1 = {"f1_per_class": [0.5] * (n_classes - 1) + [None]}  # one class absent from real-test
    methods = {m: f1 for m in ("none", "random_oversampling", "smote", "vae_augment")}
    report = {"utility": {"classes": classes, "results": {"logistic_regression": methods,
                                                          "gradient_boosting": methods}}}
    png = _class_f1_plot(report)
    width, height = Image.open(io.BytesIO(base64.b64decode(png))).size
    assert width < 1100, width
    if n_classes > 12:
        assert height > width  # one row of bars per class


@pytest.mark.parametrize("n_classes", [5, 150])
def test_class_f1_plot_tells_f1_zero_from_no_test_rows(monkeypatch, n_classes):
    """Both drew no bar: a class F1 0 for one training set and a class with no real-test row
    looked alike. The class with no test rows is named so; an F1 of 0 is a mark at 0."""
    from vae_augment import report_plots

    figs = []
    real_png = report_plots._png
    monkeypatch.setattr(report_plots, "_png",
                        lambda fig, **k: figs.append(fig) or real_png(fig, **k))
    classes = [f"c{i:03d}" for i in range(n_classes)]
    scored = [0.5] * (n_classes - 1) + [None]
    zero = [0.0] + scored[1:]  # vae_augment's F1 of class c000 is 0
    methods = {m: {"f1_per_class": zero if m == "vae_augment" else scored}
               for m in ("none", "random_oversampling", "smote", "vae_augment")}
    report_plots._class_f1_plot({"utility": {"classes": classes, "results": {
        "logistic_regression": methods, "gradient_boosting": methods}}})
    down = n_classes > 12
    for ax in figs[0].axes:
        if not down or ax is figs[0].axes[0]:  # down the side, the classifiers share names
            ticks = ax.get_yticklabels() if down else ax.get_xticklabels()
            names = [t.get_text() for t in ticks]
            assert names[-1] == f"c{n_classes - 1:03d} (no test rows)" and names[0] == "c000"
        marks = ax.get_lines()  # the bars' error bars are not Line2D in ax.lines
        assert len(marks) == 1 and marks[0].get_color() == report_plots._METHOD_COLORS[
            "vae_augment"]
        level = marks[0].get_xdata() if down else marks[0].get_ydata()
        span = marks[0].get_ydata() if down else marks[0].get_xdata()
        assert list(level) == [0.0, 0.0] and -0.5 < span[0] < span[1] < 0.5  # c000, F1 0


def _latent_figure(monkeypatch, y_r, y_s, n_classes):
    """The latent plot's figure for real labels `y_r` and synthetic labels `y_s`."""
    from types import SimpleNamespace

    from vae_augment import report_plots

    figs = []
    real_png = report_plots._png
    monkeypatch.setattr(report_plots, "_png",
                        lambda fig, **k: figs.append(fig) or real_png(fig, **k))
    rng = np.random.default_rng(0)
    plots = {"latent": (rng.normal(size=(len(y_r), 2)), y_r, rng.normal(size=(len(y_s), 2)),
                        y_s),
             "encoding": SimpleNamespace(classes=[f"class_{i:03d}" for i in range(n_classes)])}
    assert report_plots._latent_plot({}, plots) is not None
    return figs[0]


def test_latent_plot_shows_each_augmented_class_over_its_own_real_rows(monkeypatch):
    """Churn: one panel of all real rows buried 707 'yes' rows under 4,293 'no' rows, so
    whether the synthetic 'yes' rows cover the real ones could not be seen. One panel per
    class with synthetic rows, its real rows on top of them; the other classes grey."""
    from vae_augment.report_plots import _latent_classes

    y_r = np.r_[np.zeros(860, int), np.ones(140, int)]
    fig = _latent_figure(monkeypatch, y_r, np.ones(1000, int), 2)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 1 and panels[0].get_title().startswith("class class_001: 140 real")
    other, syn, real = (len(c.get_offsets()) for c in panels[0].collections)
    assert (other, syn, real) == (860, 1000, 140)  # the class's real rows drawn last
    # every class with synthetic rows, the fewest real rows first, at most 6, model order
    y_r = np.repeat(np.arange(10), np.arange(10, 0, -1) * 10)
    assert _latent_classes(y_r, np.arange(1, 10)) == [4, 5, 6, 7, 8, 9]
    assert _latent_classes(y_r, np.array([9, 2, 2])) == [2, 9]
    assert _latent_classes(y_r, np.zeros(0, int)) == []


@pytest.mark.parametrize("n_classes", [4, 5, 150])
def test_latent_plot_keeps_its_panels_and_titles_apart_with_many_classes(n_classes,
                                                                         monkeypatch):
    """With 150 classes the legend beside the plots took 63 % of the figure's width: the
    two panels shrank to 1.5 inches each and their titles ran into each other. With one
    panel per class (at most 6), the titles stay apart and each lowest panel is labelled."""
    y = np.arange(3 * n_classes) % n_classes
    fig = _latent_figure(monkeypatch, y, y, n_classes)
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == min(6, n_classes)
    renderer = fig._get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in panels]
    for a, b in zip(boxes, boxes[1:]):
        assert a.x1 < b.x0 or a.y0 > b.y1, (a, b)
    for ax in panels:
        assert ax.get_position().width > 0.2, ax.get_position()
    # a column whose lowest panel sits above an empty slot still names its axis
    assert sum(ax.get_xlabel() == "PC 1" for ax in panels) == {4: 2, 5: 3, 150: 3}[n_classes]


def test_marginal_bars_of_numbers_go_in_numeric_order():
    """Churn's customer-service calls read 1, 2, 0, 4, 3 (share order): the shape of a count's
    distribution could not be seen. Numbers go in their order, other categories by share."""
    from vae_augment.report_plots import _bar_keys

    real = {"1": 0.3, "2": 0.2, "0": 0.25, "10": 0.05, "3": 0.2}
    assert _bar_keys(real, {"7": 0.1}) == ["0", "1", "2", "3", "7", "10"]
    assert _bar_keys(real, {}, limit=3) == ["0", "1", "2"]  # the largest shares, in order
    assert _bar_keys({"no": 0.7, "yes": 0.3, "2": 0.0}, {}) == ["no", "yes", "2"]


@pytest.mark.parametrize("n_classes", [1, 3])
def test_association_plot_keeps_its_names_inside_the_figure(n_classes, monkeypatch):
    """Churn's 19 columns: `tight_layout` cut the bottom matrix's names
    (number_customer_service_calls) off at the figure's edge; hpc's 3 classes had matrices
    shrunk to 2/3 of their size with an inch of white between the rows."""
    from vae_augment import report_plots

    figs = []
    real_png = report_plots._png
    monkeypatch.setattr(report_plots, "_png",
                        lambda fig, **k: figs.append(fig) or real_png(fig, **k))
    names = ["state", "account_length", "international_plan", "total_day_minutes",
             "total_night_charge", "number_customer_service_calls"] + [
                 f"c{i}" for i in range(13)]
    m = np.eye(len(names))
    classes = [f"k{i}" for i in range(n_classes)]
    report = {"fidelity": {"association_columns": names, "per_class": {
        c: {"score": 0.9, "n_real": 10 + i, "n_synthetic": 5} for i, c in enumerate(classes)}}}
    assert report_plots._association_plot(report, {"association": {c: (m, m) for c in
                                                                   classes}}) is not None
    fig = figs[0]
    renderer = fig._get_renderer()
    page = fig.bbox
    for ax in fig.axes:
        box = ax.get_tightbbox(renderer)
        assert box.x0 >= page.x0 and box.y0 >= page.y0, (box, page)
        assert box.x1 <= page.x1 and box.y1 <= page.y1, (box, page)
    matrices = fig.axes[::2]
    assert len(matrices) == 3 * n_classes
    assert all(ax.get_position().width * fig.get_figwidth() > 2.0 for ax in matrices)
    assert fig.get_figwidth() <= 11.5  # the page's width: no shrinking


def test_fidelity_plots_come_before_the_constraint_subsections():
    """The heatmap, marginals and association plots sat after the relation, derived and
    linked columns' tables, under the last one's heading, as if they were its figures."""
    from vae_augment.report import _fidelity_html

    links = [{"link": "a = x <=> b = 0", "real_rows": 10, "real_broken_rate": 0.0,
              "synthetic_rows": 10, "broken": 1, "broken_rate": 0.1}]
    h: list[str] = []
    _fidelity_html(h, {"per_class": {}, "links": links}, {},
                   {"fidelity": "AAAA", "marginals": "BBBB"})
    page = "".join(h)
    assert page.index('alt="fidelity heatmap"') < page.index('alt="marginals"') < page.index(
        "<h3>Linked columns</h3>")


def test_the_report_says_the_type_of_its_classes(two_samples):
    """report.json keys classes by their text (JSON's keys are strings); ``class_type`` says
    what they were, so the findings name an int label's class 28 as 28, not '28'."""
    a, b = two_samples

    def as_ints(t):
        codes = {"a": 0, "b": 1, "c": 28}
        labels = [codes[v] for v in t.column("label").to_pylist()]
        return t.set_column(t.schema.get_field_index("label"), "label",
                            pa.array(labels, pa.int64()))

    report = evaluate(as_ints(a), as_ints(b), label="label", sections=["fidelity"], seed=0)
    assert report["classes"] == ["0", "1", "28"] and report["class_type"] == "int"
    assert evaluate(a, b, label="label", sections=["fidelity"], seed=0)["class_type"] == "str"
    as_bool = lambda t: t.set_column(t.schema.get_field_index("label"), "label",  # noqa: E731
                                     t.column("flag"))
    assert evaluate(as_bool(a), as_bool(b), label="label", sections=["fidelity"],
                    seed=0)["class_type"] == "bool"


def test_long_lists_of_classes_and_columns_name_the_first_and_how_many():
    """A long-tailed label's classes and a wide table's columns: the messages and the page's
    text name the first 20 and how many there are (`errors.columns_note`); the tables keep
    every class."""
    from vae_augment.evaluation import _check_classes, _check_schemas
    from vae_augment.report import _bucketed_html, _fidelity_html, _labels_html, render_html

    classes = list(range(150))
    with pytest.warns(UserWarning, match=r"lacks \(\[2, 3, .*, 21\] \.\.\. \(148 in all\)\)"):
        _check_classes(classes, np.array([0, 1]), np.arange(150))
    with pytest.raises(SchemaError, match=r"REAL's \[2, 3, .*, 21\] \.\.\. \(148 in all\)$"):
        _check_classes(classes, np.arange(2, 150), np.array([0, 1]))
    wide = pa.table({f"c{i}": [1] for i in range(30)})
    other = pa.table({f"d{i}": [1] for i in range(30)})
    with pytest.raises(SchemaError, match=r"'c19'\] \.\.\. \(30 in all\), unexpected \['d0'"):
        _check_schemas(wide, other, "SYNTHETIC")

    h: list[str] = []
    _bucketed_html(h, {"bucketed_columns": {f"c{i}": {"features": 200, "categories": 300}
                                            for i in range(30)}}, "real-train")
    assert "<code>c19</code> (300 categories), ... (30 in all)." in h[0]
    relations = [{"relation": f"a{i} <= b{i}", "by_chance": True, "violation_rate": 0.02}
                 for i in range(30)]
    h = []
    _fidelity_html(h, {"per_class": {}, "relations": relations}, {}, {})
    assert "<code>a19 &lt;= b19</code> (0.020 broken), ... (30 in all).</p>" in "".join(h)
    h = []
    _labels_html(h, {"rows": 10, "doubt_threshold": 0.1, "examples": [], "classes": [
        {"class": "1", "rows": 5, "agreement": 0.5, "doubted": 1, "doubted_share": 0.2,
         "looks_like": {str(c): 1 + (c == 40) for c in range(2, 42)}}]})
    assert "<td>40 2, 2 1, 3 1," in "".join(h) and "... (40 in all)</td>" in "".join(h)
    report = {"label": "y", "rows": {"real": 2, "synthetic": 1}, "seed": 0, "seconds": 1,
              "model": None, "classes": ["a"], "counts": {"real": {"a": 2},
                                                          "synthetic": {"a": 1}},
              "fidelity": None, "detection": None, "utility": None, "privacy": None,
              "sections": ["fidelity"],
              "skipped_columns": {f"id{i}": "always null" for i in range(30)}}
    page = render_html(report, {})
    assert "<code>id19</code>" in page and "<code>id20</code>" not in page
    assert "(30 in all: report.json's <code>skipped_columns</code> names each)" in page


def test_a_long_sampling_strategy_the_findings_advise_is_written_beside_the_report(
        tmp_path, monkeypatch):
    """A finding's long ``sampling_strategy`` goes into the report folder's
    sampling_strategy.json, whose path its advice gives to ``--sampling-strategy`` (no
    ``$(cat ...)``: any shell): the file parses back to the same strategy."""
    import subprocess

    from vae_augment import report as report_module
    from vae_augment.balancing import parse_sampling_strategy
    from vae_augment.findings import findings

    monkeypatch.setattr(report_module, "draw", lambda report, plots: {})
    classes = [str(c) for c in range(1, 31)]
    ours, none = [0.9] * 29 + [0.2], [0.9] * 29 + [0.6]
    per = [{"gradient_boosting": {"none": {"macro_f1": 0.5, "f1_per_class": none},
                                  "vae_augment": {"macro_f1": 0.5, "f1_per_class": ours}}}] * 3
    real = {c: 140 if c == "1" else 14 for c in classes}
    report = {"label": "y", "rows": {"real": 546, "synthetic": 1}, "seed": 0, "seconds": 1,
              "model": None, "classes": classes, "class_type": "int",
              "counts": {"real": real, "synthetic": {c: 1 for c in classes}},
              "fidelity": None, "detection": None, "privacy": None, "skipped_columns": {},
              "sections": ["fidelity"],
              "utility": {"classes": classes, "splits": 3, "per_split": per,
                          "results": per[0], "train_counts": {
                              "none": {c: 10 for c in classes},
                              "vae_augment": {c: 100 for c in classes}}}}
    where = tmp_path / "a report"
    report["findings"] = findings(report, where)
    report["utility"] = None  # the page's section needs more than the findings do
    files = report_module.write_report(where, report, {})
    assert files["sampling_strategy"] == str(where / "sampling_strategy.json")
    text = (where / "sampling_strategy.json").read_text()
    assert parse_sampling_strategy(text, classes=list(range(1, 31))) == {
        c: 140 for c in range(2, 30)}
    # the advice's command line, as a shell runs it: the argument is the file's path
    advice = report["findings"][0]["advice"]
    arg = re.search(r"--sampling-strategy ('[^']*'|\S+)", advice).group(1)
    echoed = subprocess.run(["bash", "-c", f"printf %s {arg}"], capture_output=True,
                            text=True, check=True).stdout
    assert echoed == str(where / "sampling_strategy.json")
    assert parse_sampling_strategy(echoed, classes=list(range(1, 31))) == {
        c: 140 for c in range(2, 30)}
    assert "sampling_strategy.json" in (where / "report.html").read_text()


def test_the_fidelity_table_says_why_a_class_has_no_figures():
    """A class of fewer than 5 real or synthetic rows shows "–" in the fidelity table, and
    one of fewer than 10 real rows has no real halves: a note under the table says why."""
    from vae_augment.report import _fidelity_html

    def entry(n_real, score, ref, skipped=False):
        e = {"n_real": n_real, "n_synthetic": 50, "score": score, "real_reference": ref,
             "max_null_rate_gap": None if skipped else 0.0, "columns": {}}
        return {**e, "skipped": "fewer than 5 real or synthetic rows"} if skipped else e

    per = {"1": entry(200, 0.9, 0.95), "2": entry(7, 0.8, None),
           "3": entry(3, None, None, skipped=True), "4": entry(1, None, None, skipped=True)}
    h: list[str] = []
    _fidelity_html(h, {"per_class": per}, {}, {})
    page = "".join(h)
    assert ("–: 2 classes have fewer than 5 real or synthetic rows, too few to compare; "
            "real halves –: 1 class has fewer than 10 real rows, too few to halve") in page
    h = []
    _fidelity_html(h, {"per_class": {"1": per["1"]}}, {}, {})
    assert "too few" not in "".join(h)


def test_a_report_that_cannot_be_written_whole_leaves_the_previous_one(tmp_path, monkeypatch):
    """A full disk (or Ctrl-C) while the page is written: the previous report.json and
    report.html stay as they were, no temporary file is left, and a new folder is gone again
    (report.json was replaced first: a new report.json beside the old page, or on a first run
    a report.json alone that the next run refused to overwrite)."""
    import errno
    import os

    from vae_augment import report as report_module

    monkeypatch.setattr(report_module, "draw", lambda report, plots: {})

    def a_report(seed):
        return {"label": "y", "rows": {"real": 20, "synthetic": 20}, "seed": seed,
                "seconds": 1, "model": None, "classes": ["a", "b"], "class_type": "string",
                "counts": {"real": {"a": 10, "b": 10}, "synthetic": {"a": 10, "b": 10}},
                "fidelity": None, "detection": None, "privacy": None, "utility": None,
                "skipped_columns": {}, "sections": ["fidelity"], "findings": []}

    where = tmp_path / "report"
    report_module.write_report(where, a_report(0), {})
    before = {name: (where / name).read_bytes() for name in os.listdir(where)}
    assert sorted(before) == ["report.html", "report.json"]
    real_open = open

    def full_disk(path, *args, **kwargs):
        if str(path).endswith(".html.tmp"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(report_module, "open", full_disk, raising=False)
    for folder in (where, tmp_path / "new"):
        with pytest.raises(InputError, match="could not write the report into .*: No space"):
            report_module.write_report(folder, a_report(1), {})
    assert {name: (where / name).read_bytes() for name in os.listdir(where)} == before
    assert sorted(os.listdir(tmp_path)) == ["report"]


# ------------------------------------------------------- fidelity metrics, exact values
def _img(rows) -> pa.Array:
    """A fixed-size-list (tensor) column of float rows."""
    rows = np.asarray(rows, dtype=np.float64)
    return pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1)), rows.shape[1])


def test_the_ks_complement_is_one_minus_the_ks_statistic():
    from vae_augment.fidelity import _ks_complement

    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert _ks_complement(a, a) == 1.0
    assert _ks_complement(a, a + 2) == 0.5  # half of each sample beyond the other's
    assert _ks_complement(a, a + 10) == 0.0
    # no value on a side: alike only if neither side has one
    assert _ks_complement(a[:0], a[:0]) == 1.0
    assert _ks_complement(a[:0], a) == 0.0 and _ks_complement(a, a[:0]) == 0.0


def test_the_tv_complement_compares_category_shares_without_nulls():
    from vae_augment.fidelity import _tv_complement

    # shares 1/2, 1/2 against 1/4, 3/4: total variation 0.25
    assert _tv_complement(pa.array(["x", "x", "y", "y"]), pa.array(["x", "y", "y", "y"])) == 0.75
    assert _tv_complement(pa.array(["x", "x"]), pa.array(["y", "y"])) == 0.0
    assert _tv_complement(pa.array(["x", None]), pa.array(["x", "x"])) == 1.0  # nulls apart
    assert _tv_complement(pa.array([0.0, -0.0]), pa.array([0.0, 0.0])) == 1.0  # one zero
    assert _tv_complement(pa.array([1, 2], pa.float16()), pa.array([1, 1], pa.float16())) == 0.5
    none, one = pa.array([None], pa.string()), pa.array(["x"])
    assert _tv_complement(none, none) == 1.0
    assert _tv_complement(none, one) == 0.0 and _tv_complement(one, none) == 0.0


def test_a_tensor_is_scored_by_the_mean_ks_complement_of_its_elements():
    from vae_augment.fidelity import _element_ks_complement

    real = _img([[i, i, i, i] for i in range(4)])
    # element 3 moved past every real value, the other three alike: (1 + 1 + 1 + 0) / 4
    syn = _img([[i, i, i, i + 10] for i in range(4)])
    assert _element_ks_complement(real, syn) == 0.75
    # at most `max_elements`, evenly spaced from the first to the last: elements 0 and 3
    assert _element_ks_complement(real, syn, max_elements=2) == 0.5
    assert _element_ks_complement(real, syn, max_elements=1) == 1.0  # element 0 only
    # the same mean with more elements than `max_elements` asks for none twice
    assert _element_ks_complement(real, syn, max_elements=8) == 0.75
    empty = real.filter(pa.array([False] * 4))
    assert _element_ks_complement(empty, empty) == 1.0
    assert _element_ks_complement(empty, syn) == 0.0 and _element_ks_complement(real, empty) == 0.0


def test_a_columns_score_is_the_worse_of_its_values_and_its_null_rate_gap():
    from types import SimpleNamespace

    from vae_augment.fidelity import _column_fidelity

    numeric, categorical = SimpleNamespace(kind="numeric"), SimpleNamespace(kind="categorical")
    real = pa.array([1.0, 2.0, 3.0, 4.0])
    # the values alike, a fifth of the synthetic rows null: the gap decides
    col = _column_fidelity(numeric, real, pa.array([1.0, 2.0, 3.0, 4.0, None]))
    assert col == {"kind": "numeric", "metric": "ks_complement", "score": pytest.approx(0.8),
                   "value_score": 1.0, "null_rate_real": 0.0, "null_rate_synthetic": 0.2,
                   "null_rate_gap": pytest.approx(0.2)}
    # the values apart, no null: the values decide
    col = _column_fidelity(numeric, real, pa.array([5.0, 6.0, 7.0, 8.0]))
    assert col["score"] == 0.0 and col["value_score"] == 0.0 and col["null_rate_gap"] == 0.0
    # REAL's nulls count as the synthetic rows' do
    col = _column_fidelity(numeric, pa.array([1.0, 2.0, None, None]), pa.array([1.0, 2.0]))
    assert col["null_rate_real"] == 0.5 and col["score"] == 0.5 and col["value_score"] == 1.0
    # no synthetic value at all: no value score, the gap alone
    col = _column_fidelity(numeric, real, pa.nulls(4, pa.float64()))
    assert col["value_score"] is None and col["score"] == 0.0 and col["null_rate_gap"] == 1.0
    col = _column_fidelity(numeric, pa.array([1.0, None, None, None]), pa.nulls(2, pa.float64()))
    assert col["value_score"] is None and col["score"] == 0.75  # 1 - |0.75 - 1|
    col = _column_fidelity(categorical, pa.array(["x", "x", "y", "y"]), pa.array(["x", "y", "y", "y"]))
    assert (col["metric"], col["score"], col["value_score"]) == ("tv_complement", 0.75, 0.75)
    col = _column_fidelity(SimpleNamespace(kind="tensor"), _img([[i, i] for i in range(4)]),
                           _img([[i, i + 10] for i in range(4)]))
    assert (col["metric"], col["score"]) == ("element_ks_complement", 0.5)


def test_the_association_measures_at_their_edges():
    from vae_augment.fidelity import _corr_ratio, _cramers_v, _pearson

    x = np.arange(6.0)
    assert _pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert _pearson(x, -x) == pytest.approx(-1.0)
    assert _pearson(x, np.ones(6)) == 0.0 and _pearson(np.ones(6), x) == 0.0
    assert _pearson(x, np.array([0.0, 1, 0, 1, 0, 1])) == pytest.approx(0.29277002, abs=1e-8)
    # two identical binary columns: V is 1 (the corrected V is defined from 2 x 2 up)
    b = np.array([0, 1] * 20)
    assert _cramers_v(b, b) == pytest.approx(1.0)
    assert _cramers_v(b, 1 - b) == pytest.approx(1.0)
    assert _cramers_v(np.zeros(8), b[:8]) == 0.0 and _cramers_v(b[:8], np.zeros(8)) == 0.0
    assert _cramers_v(b[:2], b[:2]) == 0.0  # two rows: the correction leaves nothing
    # one value per category: no rows left to judge the categories by (0, not a division
    # by zero that gave nan, 0 or inf as the last bit of the sums fell)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _corr_ratio(np.array([1.0, 2.0, 3.0]), np.array([0, 1, 2])) == 0.0
        assert _corr_ratio(np.array([0.3, -1.2, 2.5, 0.7]), np.array([3, 0, 2, 1])) == 0.0
    assert _corr_ratio(np.ones(4), np.array([0, 0, 1, 1])) == 0.0
    assert _corr_ratio(np.array([1.0, 1.0, 5.0, 5.0]), np.array([0, 0, 1, 1])) == 1.0


def test_the_fidelity_summary_is_made_of_the_per_class_figures():
    """`_fidelity` on hand-made classes: 10 real rows (compared, with a real-halves
    reference: the least for one), 5 (compared: the least there is, without a reference) and
    4 (skipped); the
    summary is the mean over the compared classes, a class's score the mean over its columns,
    and the association figures are the off-diagonal differences of the two matrices."""
    from vae_augment.fidelity import _fidelity

    rng = np.random.default_rng(0)

    def table(n_per_class, related):
        label = np.repeat(["a", "b", "c"], n_per_class)
        x = rng.normal(size=len(label))
        y = x + 0.1 * rng.normal(size=len(label)) if related else rng.normal(size=len(label))
        s = np.where(x > 0, "hi", "lo") if related else rng.choice(["hi", "lo"], len(label))
        return pa.table({"x": x, "y": pa.array(y, mask=(np.arange(len(label)) % 3 == 0) & related),
                         "s": s, "label": label})

    real, syn = table([10, 5, 4], related=True), table([10, 5, 9], related=False)
    enc = fit_encoding(pa.concat_tables([real, syn]), "label")
    y_real, y_syn = enc.encode(real)["y"], enc.encode(syn)["y"]
    fid, matrices = _fidelity(enc, real, syn, y_real, y_syn, 10**6, 0)
    a, b, c = (fid["per_class"][k] for k in "abc")
    assert (a["n_real"], b["n_real"], c["n_real"], c["n_synthetic"]) == (10, 5, 4, 9)
    assert c["score"] is None and c["columns"] == {} and "association" not in c
    assert c["skipped"] == "fewer than 5 real or synthetic rows"
    assert "skipped" not in b and b["real_reference"] is None and a["real_reference"] is not None
    for e in (a, b):
        cols = e["columns"].values()
        assert set(e["columns"]) == {"x", "y", "s"}
        assert e["score"] == pytest.approx(np.mean([col["score"] for col in cols]))
        assert e["max_null_rate_gap"] == max(col["null_rate_gap"] for col in cols) > 0
    assert fid["score"] == pytest.approx((a["score"] + b["score"]) / 2)
    assert fid["real_reference"] == a["real_reference"]
    assert fid["score_same_classes"] == a["score"]
    assert fid["association_columns"] == ["x", "y", "s"]
    assert set(matrices) == {"a", "b"}
    for key, e in (("a", a), ("b", b)):
        diff = np.abs(matrices[key][0] - matrices[key][1])
        off = diff[~np.eye(3, dtype=bool)]
        assert e["association"]["mean_abs_diff"] == pytest.approx(off.mean())
        assert e["association"]["max_abs_diff"] == off.max() > 0.3  # x ~ y in real only
        i, j = e["association"]["worst_pair"]
        names = ["x", "y", "s"]
        assert i != j and diff[names.index(i), names.index(j)] == off.max()
    assert fid["association_mean_abs_diff"] == pytest.approx(
        (a["association"]["mean_abs_diff"] + b["association"]["mean_abs_diff"]) / 2)
    # a class of exactly `max_rows` rows is taken whole, as without a cap: the same figures
    capped, _ = _fidelity(enc, real, syn, y_real, y_syn, 10, 0)
    assert capped["per_class"] == fid["per_class"]
    # under the cap, a sample of `max_rows` rows: other figures, the counts still the whole
    capped, _ = _fidelity(enc, real, syn, y_real, y_syn, 9, 0)
    assert capped["per_class"]["a"]["n_real"] == 10
    assert capped["per_class"]["a"]["columns"] != a["columns"]
    # two columns are enough for an association
    two, matrices = _fidelity(enc, real, syn, y_real, y_syn, 10**6, 0, max_assoc_cols=2)
    assert two["association_columns"] == ["x", "y"] and matrices["a"][0].shape == (2, 2)
    assert two["per_class"]["a"]["association"]["worst_pair"] == ["x", "y"]
    one = _fidelity(enc, real, syn, y_real, y_syn, 10**6, 0, max_assoc_cols=1)[0]
    assert one["association_columns"] == [] and one["association_mean_abs_diff"] is None
    # no class to compare: no score, no reference, no association
    few = _fidelity(enc, real.slice(0, 4), syn, y_real[:4], y_syn, 10**6, 0)[0]
    assert few["score"] is None and few["real_reference"] is None
    assert few["score_same_classes"] is None and few["association_mean_abs_diff"] is None


def test_cramers_v_takes_bergsmas_correction_exactly():
    """The corrected V of a 3 x 4 table against Bergsma's formula, chi-squared from SciPy:
    the bias-correction tests above only bound it (a wrong correction passed them)."""
    from scipy.stats import chi2_contingency

    from vae_augment.fidelity import _cramers_v

    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 60)
    b = np.where(rng.random(60) < 0.5, a, rng.integers(0, 4, 60))
    table = np.zeros((3, 4))
    np.add.at(table, (a, b), 1)
    n, r, c = 60, 3, 4
    phi2 = max(0.0, chi2_contingency(table, correction=False)[0] / n - (r - 1) * (c - 1) / (n - 1))
    want = np.sqrt(phi2 / min(r - (r - 1) ** 2 / (n - 1) - 1, c - (c - 1) ** 2 / (n - 1) - 1))
    assert 0.2 < want < 0.9
    assert _cramers_v(a, b) == pytest.approx(want, rel=1e-12)
    assert _cramers_v(b, a) == pytest.approx(want, rel=1e-12)  # symmetric: either side fewer
