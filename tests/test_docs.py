"""The docs' runnable examples run: README's Python API block and the examples/ scripts
(models shortened to a few epochs; the text of each is executed as written)."""

import importlib.util
import re

import pyarrow.parquet as pq

from .conftest import BUNDLED, FAST, REPO


def _readme_block(heading: str) -> str:
    """The first ```python block after `heading` in README.md."""
    text = (REPO / "README.md").read_text()
    start = text.index(heading)
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_readme_python_api_block_runs(tmp_path, monkeypatch, capsys):
    import vae_augment
    from vae_augment import api

    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    real_fit = api.fit
    monkeypatch.setattr(vae_augment, "fit", lambda *a, **k: real_fit(*a, **{**k, **FAST}))
    exec(compile(_readme_block("## Python API"), "README.md", "exec"), {})
    before, after = capsys.readouterr().out.strip().splitlines()[-1].split("} {")
    assert "'yes': 707" in before and "'yes': 4293" in after
    out = pq.read_table(tmp_path / "balanced.parquet")
    assert out.num_rows == 2 * 4293 and "is_synthetic" in out.column_names
    assert (tmp_path / "runs" / "churn").is_dir()


def test_readme_keras_load_block_runs_in_a_fresh_process(mixed_artifact):
    """Plain `keras.saving.load_model` needs vae_augment.model imported (the package
    imports it lazily): the README's block says so, and runs as written."""
    import subprocess
    import sys

    block = _readme_block("## The artifact").replace("runs/churn", str(mixed_artifact))
    assert "import vae_augment.model" in block
    without = block.replace("import vae_augment.model", "import vae_augment")
    # One fresh process (one TensorFlow start-up, not two): the block with `import
    # vae_augment` alone first, which must fail as vae_augment.model is not imported yet,
    # then the block as written, which imports it and must load the model.
    code = (f"try:\n    exec({without!r})\nexcept Exception as e:\n"
            f"    print('WITHOUT:', type(e).__name__, e)\nelse:\n    print('WITHOUT: loaded')\n"
            f"import sys\nassert 'vae_augment.model' not in sys.modules\n"
            f"exec({block!r})\nprint(type(model).__name__)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "ConditionalVAE", proc.stdout
    failed = [x for x in lines if x.startswith("WITHOUT:")]
    assert len(failed) == 1 and "Could not locate class 'ConditionalVAE'" in failed[0], lines


def test_model_summary_shows_any_batch(mixed_artifact):
    """`model.summary()` of a trained and of a reloaded model shows each layer's output with
    batch None (it showed the 2 rows the model is built on), image layers included."""
    import keras

    import vae_augment.model  # noqa: F401  (registers ConditionalVAE with Keras)
    from vae_augment.artifact import load_artifact

    for model in (load_artifact(str(mixed_artifact)).model,
                  keras.saving.load_model(str(mixed_artifact / "model.keras"))):
        lines: list[str] = []
        model.summary(print_fn=lines.append)
        text = "\n".join(lines)
        assert "(None, " in text and "(2, " not in text, text
        assert any("(None, " in x and "Conv2D" in x for x in lines), text


def test_tfdata_example_runs(capsys, tmp_path, monkeypatch):
    import tempfile

    from vae_augment import api

    # the tiny network (a 2-round guide, one draw a row): the example's default model, its
    # 50-round guide and its redraws take no part in what this checks (that the example runs,
    # prints its figures and removes its scratch directory)
    real_fit = api.fit
    monkeypatch.setattr(api, "fit", lambda *a, **k: real_fit(*a, **{**k, **FAST}))
    spec = importlib.util.spec_from_file_location(
        "tfdata_balance_example", REPO / "examples" / "tfdata_balance.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert example.main(["--vae-epochs", "2", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "balanced stream:" in out and "tfdata.balance" in out and "real rows only" in out
    # its scratch directory is removed (TF's autograph leaves its own files there)
    assert [p for p in tmp_path.iterdir() if p.name.startswith("tfdata_example_")] == []


def _example(name: str):
    """The module examples/<name>.py, loaded by path."""
    spec = importlib.util.spec_from_file_location(f"{name}_example", REPO / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _printed_dict(out: str, prefix: str) -> dict:
    import ast

    line = next(x for x in out.splitlines() if x.startswith(prefix))
    return ast.literal_eval(line[len(prefix):].strip())


def test_digits_example_runs(tmp_path, monkeypatch, capsys):
    import pyarrow as pa

    import vae_augment
    from vae_augment import api

    # the tiny network as well as 2 epochs, at most 2 draws a balancing row (not 8: guided
    # beta-binomial images doubled the test's time), and the report without its utility
    # classifiers and privacy section (the slow part of `evaluate`; the image grids and
    # C2ST stay)
    real_fit = api.fit
    monkeypatch.setattr(vae_augment, "fit",
                        lambda *a, **k: real_fit(*a, **{**k, **FAST, "candidates": 2}))
    example = _example("digits_images")
    assert example.main(["--epochs", "2", "--out", str(tmp_path), "--image-likelihood",
                         "beta_binomial", "--sections", "fidelity,detection,model"]) == 0
    out = capsys.readouterr().out
    config = __import__("json").loads((tmp_path / "model" / "config.json").read_text())
    assert config["train_config"]["image_likelihood"] == "beta_binomial"

    real = pq.read_table(BUNDLED / "digits_longtail.parquet")
    balanced = pq.read_table(tmp_path / "digits_balanced.parquet")
    expected = real.schema.append(pa.field("is_synthetic", pa.bool_(), nullable=False))
    assert balanced.schema.names == expected.names
    assert balanced.schema.field("image").type == pa.list_(pa.uint8(), 64)
    assert balanced.schema.metadata == {b"image_shape": b"8,8"}
    assert balanced.schema.remove(balanced.schema.get_field_index("is_synthetic")).equals(
        real.schema, check_metadata=True)
    assert "is_synthetic: True" in out

    before, after = _printed_dict(out, "counts before:"), _printed_dict(out, "counts after:")
    label = balanced.column("label").to_numpy()
    synthetic = balanced.column("is_synthetic").to_numpy(zero_copy_only=False)
    assert before == {c: int((label[~synthetic] == c).sum()) for c in range(10)}
    assert after == {c: int((label == c).sum()) for c in range(10)}
    assert set(after.values()) == {max(before.values())} and min(before.values()) < 20
    assert balanced.num_rows == 10 * max(before.values()) and (~synthetic).sum() == real.num_rows

    png = tmp_path / "digits_real_vs_synthetic.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    report = tmp_path / "report" / "report.html"
    assert report.stat().st_size > 10000 and f"report: {report}" in out
    auc = float(re.search(r"^C2ST AUC: ([0-9.]+)", out, re.M).group(1))
    figures = __import__("json").loads((tmp_path / "report" / "report.json").read_text())
    assert 0.0 <= auc <= 1.0 and round(figures["detection"]["c2st_auc"], 3) == auc
    assert figures["sections"] == ["fidelity", "detection", "model"]
    assert figures["utility"] is None and "images" in figures["plots"]


def test_anomaly_example_runs(tmp_path, capsys):
    import numpy as np
    from sklearn.metrics import roc_auc_score

    example = _example("anomaly_scores")
    # 4 epochs: the ELBO AUC measured 0.83-0.92 over seeds 0-5 (IWAE 0.85-0.93; 2 epochs:
    # 0.51-0.65), so 0.7 leaves a margin; random scores would give 0.5 +- 0.04
    assert example.main(["--epochs", "4", "--out", str(tmp_path), "--seed", "0"]) == 0
    out = capsys.readouterr().out

    auc = float(re.search(r"^ROC AUC \(ELBO\): ([0-9.]+)$", out, re.M).group(1))
    iwae = float(re.search(r"^ROC AUC \(IWAE, k=32\): ([0-9.]+)$", out, re.M).group(1))
    assert 0.7 < auc <= 1.0 and 0.7 < iwae <= 1.0
    # without the label (seeds 0-2: 0.844-0.901, 0.003-0.012 under the conditional score)
    marginal = float(re.search(r"^ROC AUC \(ELBO, marginal: no label\): ([0-9.]+)$", out,
                               re.M).group(1))
    assert 0.7 < marginal <= 1.0

    scored = pq.read_table(tmp_path / "scored.parquet")
    churn = pq.read_table(BUNDLED / "churn.parquet")
    assert scored.column_names == churn.column_names + ["is_corrupted", "anomaly_score", "latent"]
    assert scored.num_rows == churn.num_rows // 4
    bad = scored.column("is_corrupted").to_numpy(zero_copy_only=False)
    score = scored.column("anomaly_score").to_numpy()
    assert bad.sum() == round(0.05 * scored.num_rows) and np.isfinite(score).all()
    assert round(roc_auc_score(bad, score), 3) == auc  # the printed AUC is of these scores
    # corrupted rows break a tariff; the real ones keep all four to the cent
    day = (scored.column("total_day_charge").to_numpy()
           - np.round(0.17 * scored.column("total_day_minutes").to_numpy(), 2))
    assert np.abs(day[~bad]).max() < 0.011 and np.abs(day[bad]).max() > 1

    top = re.search(r"the 5 most anomalous.*?\n.*?\n((?:.*\n){5})", out).group(1).splitlines()
    rows = [int(line.split()[0]) for line in top]
    assert len(rows) == 5 and rows == list(np.argsort(-score)[:5])
    assert "latent means: (1250, 16)" in out
    assert scored.schema.field("latent").type.list_size == 16
    png = tmp_path / "latent_pca.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_beam_example_runs(tmp_path, monkeypatch, capsys):
    """examples/beam_pipeline.py: every input row once among the real rows, synthetic rows
    that balance the classes and equal `vae_augment.balance`'s, the user's column, the
    anomaly branch's top-1% rows, the printed counts, and one model load for two transforms."""
    import collections
    import glob

    import numpy as np
    import pyarrow as pa
    import pytest

    import vae_augment
    from vae_augment import artifact as artifact_module
    from vae_augment import scoring

    # the tiny network with a 2-round guide and 2 draws a balancing row (redraws stay on):
    # the example's default model and 50-round guide take no part in what this checks
    real_fit = vae_augment.fit
    monkeypatch.setattr(vae_augment, "fit",
                        lambda *a, **k: real_fit(*a, **{**k, **FAST, "candidates": 2}))
    spec = importlib.util.spec_from_file_location(
        "beam_pipeline_example", REPO / "examples" / "beam_pipeline.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    model_dir, out = tmp_path / "model", tmp_path / "out"
    loads = []
    real_load = artifact_module.load_artifact
    monkeypatch.setattr(artifact_module, "load_artifact",
                        lambda d: loads.append(d) or real_load(d))
    argv = ["--epochs", "2", "--seed", "3", "--model-dir", str(model_dir), "--out", str(out)]
    assert example.main(argv) == 0
    printed = capsys.readouterr().out
    assert len(loads) == 1  # BalanceClasses and ScoreAnomalies share one model per worker

    def read(prefix):
        files = sorted(glob.glob(str(out / f"{prefix}-*.parquet")))
        assert files, f"no {prefix}-*.parquet in {out}"
        return pa.concat_tables([pq.read_table(f) for f in files])

    def rows(table):
        return collections.Counter(zip(*(c.to_pylist() for c in table.columns)))

    source = pq.read_table(REPO / "examples" / "data" / "churn.parquet")
    names = source.column_names
    real, synthetic, anomalies = read("real"), read("synthetic"), read("anomalies")

    # Schema: the input's, then is_synthetic, then the user step's total_charge.
    for part in (real, synthetic):
        assert part.column_names == [*names, "is_synthetic", "total_charge"]
        assert part.schema.field("is_synthetic").type == pa.bool_()
        assert part.schema.field("total_charge").type == pa.float64()
        for name in names:
            assert part.schema.field(name).type == source.schema.field(name).type, name
        charges = sum(part.column(c).to_numpy() for c in example.CHARGES)
        np.testing.assert_allclose(part.column("total_charge").to_numpy(), charges.round(2),
                                   atol=1e-9)

    # Real rows: every input row exactly once, unchanged, flagged False.
    assert real.num_rows == source.num_rows == 5000
    assert not any(real.column("is_synthetic").to_pylist())
    assert rows(real.select(names)) == rows(source)

    # Synthetic rows: flagged True, only "yes", bringing it to the majority's 4,293 rows,
    # and the same rows `vae_augment.balance` (the CLI's path) writes for the model and seed.
    assert all(synthetic.column("is_synthetic").to_pylist())
    assert collections.Counter(synthetic.column("churn").to_pylist()) == {"yes": 4293 - 707}
    cli_path = tmp_path / "cli.parquet"
    vae_augment.balance(str(REPO / "examples" / "data" / "churn.parquet"), str(cli_path),
                        label="churn", model_dir=str(model_dir), seed=3)
    cli = pq.read_table(cli_path)
    cli_synthetic = cli.filter(cli.column("is_synthetic"))
    assert rows(synthetic.select([*names, "is_synthetic"])) == rows(cli_synthetic)

    # Anomaly branch: the real rows scoring above the 99th percentile, with their score.
    assert anomalies.column_names == [*names, "anomaly_score"]
    assert anomalies.schema.field("anomaly_score").type == pa.float32()
    assert 25 <= anomalies.num_rows <= 100
    assert not rows(anomalies.select(names)) - rows(source)  # real rows, each at most once
    scores = np.sort(scoring.anomaly_scores(real_load(str(model_dir)), source))[::-1]
    got = np.sort(anomalies.column("anomaly_score").to_numpy())[::-1]
    np.testing.assert_allclose(got, scores[:len(got)], rtol=1e-4)  # the highest scores

    # The printed figures (Beam metrics) agree with the files.
    table = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in printed.splitlines()
             if line.split()[:1] in (["no"], ["yes"])}
    assert table == {"no": [4293, 0, 4293], "yes": [707, 4293 - 707, 4293]}
    assert "tables: 5 real (one per row group)" in printed
    threshold = float(re.search(r"anomaly_score > ([-\d.]+)", printed).group(1))
    assert f"anomalies: {anomalies.num_rows} real rows" in printed
    assert got.min() > threshold - 1e-3 and scores[len(got)] < threshold + 1e-3  # printed: 3 dp

    # A second run reuses the model in --model-dir instead of training again.
    monkeypatch.setattr(vae_augment, "fit", lambda *a, **k: pytest.fail("trained again"))
    example.train_once(str(model_dir), 2, 3)
    assert f"using the model in {model_dir}" in capsys.readouterr().out


def test_constraints_example_runs(tmp_path, capsys):
    example = _example("constraints")
    assert example.main(["--epochs", "15", "--rows", "1500", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "constraints found: ['amount <= price']" in out
    shares = dict(re.findall(r"^(model alone|with constraints): amount > price ([0-9.]+)%", out,
                             re.M))
    assert float(shares["model alone"]) > 5 and float(shares["with constraints"]) == 0.0
    real = float(re.search(r"amount == price ([0-9.]+)%", out).group(1))
    edge = float(re.search(r"^with constraints: .*amount == price ([0-9.]+)%", out, re.M).group(1))
    assert abs(edge - real) < 6  # the class's real share on the edge
    assert "'amount <= price' broken by 0.0%" in out
    png = tmp_path / "ratio.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_derived_columns_example_runs(tmp_path, capsys, monkeypatch):
    import vae_augment

    # a 2-round class guide (the example's two default fits spent 10.7 s of 28 in 50-round
    # guides, which do not touch what it shows: derived and linked columns)
    real_fit = vae_augment.fit
    monkeypatch.setattr(vae_augment, "fit",
                        lambda *a, **k: real_fit(*a, **{**k, "guide_iterations": 2}))
    example = _example("derived_columns")
    assert example.main(["--epochs", "4", "--rows", "300", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    found = _printed_dict(out, "derived columns found:")
    assert len(found) == 4 and any(d.startswith("total_day_charge = 0.169") for d in found)
    sd = dict(re.findall(r"^(real rows|model alone|derived columns)\b.*?sd \$([0-9.]+)", out,
                         re.M))
    assert float(sd["model alone"]) > 0.05 and float(sd["derived columns"]) < 0.01
    assert "derived columns: day charge" in out and "at most 0.0% of rows off a line" in out
    assert _printed_dict(out, "linked columns found:") == [
        "voice_mail_plan == 'no' <=> number_vmail_messages == 0"]
    broken = dict(re.findall(r"^(model alone|derived columns): link .*? broken in ([0-9.]+)%",
                             out, re.M))
    assert float(broken["derived columns"]) == 0.0 and float(broken["model alone"]) > 0.0
    png = tmp_path / "day_charge.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_docstring_examples_run_as_written(monkeypatch, tmp_path):
    """Every module's doctests pass: examples that need a trained model or files are marked
    `+SKIP` line by line, and the rest (imports, pure functions) run."""
    import doctest
    import pkgutil

    import vae_augment

    monkeypatch.chdir(tmp_path)  # a skipped line that slipped through writes nothing here
    attempted, failed = 0, []
    for info in pkgutil.walk_packages(vae_augment.__path__, "vae_augment."):
        module = importlib.import_module(info.name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                                 report=False)
        attempted += result.attempted
        if result.failed:
            failed.append(info.name)
    result = doctest.testmod(vae_augment, report=False)
    assert not failed and not result.failed, failed
    assert attempted >= 15 and result.attempted >= 1 and list(tmp_path.iterdir()) == []
