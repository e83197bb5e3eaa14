"""The docs' runnable examples run: README's Python API block and examples/tfdata_balance.py
(models shortened to a few epochs; the text of both is executed as written)."""

import importlib.util
import re

import pyarrow.parquet as pq

from .conftest import FAST, REPO


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
