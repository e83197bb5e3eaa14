"""Keras on another backend (KERAS_BACKEND=jax exported in a shell, or keras.json): the
library says so in one line; the CLI and the Beam jobs, processes of their own, run on
TensorFlow regardless (they failed with "No module named 'jax'")."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env(backend):
    return {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(REPO)}


def test_the_library_names_the_backend_it_needs():
    proc = subprocess.run([sys.executable, "-c", "import vae_augment.model"],
                          capture_output=True, text=True, env=_env("jax"), timeout=300)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: vae-augment runs on Keras' TensorFlow backend, but "
                           "this process's Keras uses 'jax'"), last


def test_the_cli_and_beam_jobs_run_on_tensorflow_whatever_the_shell_says(tmp_path,
                                                                         mixed_artifact):
    out = tmp_path / "s.parquet"
    proc = subprocess.run([sys.executable, "-m", "vae_augment", "sample", str(out),
                           "--model-dir", str(mixed_artifact), "--n", "5", "--quiet"],
                          capture_output=True, text=True, env=_env("jax"), timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert out.exists()
    out = tmp_path / "beam"
    proc = subprocess.run([sys.executable, "-m", "pipelines.sample", "--output", str(out),
                           "--model-dir", str(mixed_artifact), "--n", "5",
                           "--runner", "FnApiRunner"],
                          capture_output=True, text=True, env=_env("jax"), timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
