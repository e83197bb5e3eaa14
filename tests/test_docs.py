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


def test_tfdata_example_runs(capsys):
    spec = importlib.util.spec_from_file_location(
        "tfdata_balance_example", REPO / "examples" / "tfdata_balance.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--vae-epochs", "2", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "balanced stream:" in out and "tfdata.balance" in out and "real rows only" in out


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

    # the tiny network as well as 2 epochs: `evaluate` alone takes ~10 s of the budget here
    real_fit = api.fit
    monkeypatch.setattr(vae_augment, "fit", lambda *a, **k: real_fit(*a, **{**k, **FAST}))
    example = _example("digits_images")
    assert example.main(["--epochs", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out

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
