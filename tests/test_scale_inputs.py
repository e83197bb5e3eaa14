"""Training at scale, split from test_scale.py so that pytest-xdist's per-file scheduling
keeps the two CI workers level: streaming inputs read as `fit` reads them, and XLA on
several replicas."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST, make_mixed_table
from tests.test_scale import _run, parquet_parts  # noqa: F401, F811  (a fixture)
from vae_augment.errors import VAEAugmentError

MIRRORED_JIT = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.conftest import FAST, make_mixed_table
from vae_augment.errors import VAEAugmentError
from vae_augment.strategy import resolve_strategy
from vae_augment.training import TrainConfig, encode_all, fit_encoding, train_model
table = make_mixed_table(200)
enc = fit_encoding(table, "label")
cfg = TrainConfig(**{**FAST, "epochs": 1, "seed": 0, "jit_compile": True})
try:
    train_model(enc, encode_all(enc, table), cfg, verbose=0,
                strategy=resolve_strategy("mirrored", log=False))
except VAEAugmentError as exc:
    print("ERROR", exc)
else:
    print("TRAINED")
"""


def test_explicit_xla_on_several_replicas_fails_in_one_line_or_trains():
    """Keras 3 cannot XLA-compile a MirroredStrategy step (keras-team/keras#19005): asked for
    explicitly, the failure is one line naming the cause, not TensorFlow's resource error.
    Should a Keras release fix it, the run simply trains."""
    proc = _run(MIRRORED_JIT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last == "TRAINED" or (
        last.startswith("ERROR XLA (--jit / jit_compile=True) failed on 2 replicas: Keras 3 "
                        "cannot compile a MirroredStrategy train step")), last


def test_parquet_source_parses_each_footer_once_and_reads_one_row_for_its_signature(
        parquet_parts, monkeypatch):  # noqa: F811  (the fixture imported above)
    """Reparsing a footer for each row group made start-up grow with the square of their
    number (17 s for 1,000); the signature read a whole row group (1M rows by default)."""
    from vae_augment.streaming import ParquetSource
    from vae_augment.training import fit_encoding

    d, table = parquet_parts
    enc = fit_encoding(table, "label")
    opened = []
    real_init = pq.ParquetFile.__init__

    def counting(self, source, *args, metadata=None, **kwargs):
        opened.append(metadata is None)
        real_init(self, source, *args, metadata=metadata, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "__init__", counting)
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda *a, **k: 1 / 0)
    src = ParquetSource(str(d), enc, validation_split=0.2, seed=5, shuffle_buffer=50, read_rows=32)
    src.output_signature()
    assert len(src.row_groups) == 15
    # one footer parse per file (and resolve_inputs' own look), none per row group
    assert sum(opened) <= 2 * 3, sum(opened)


@pytest.mark.filterwarnings("ignore:the encoding was computed on")  # on a.parquet alone
def test_a_bad_row_met_while_streaming_is_one_error_naming_its_file(tmp_path):
    """With an encoding computed elsewhere, a bad value is found only while streaming,
    inside tf.data: it surfaces as its own one-line error naming the file."""
    from vae_augment.api import fit
    from vae_augment.training import fit_encoding

    table = make_mixed_table(300, seed=4, with_tensor=False)
    enc = fit_encoding(table, "label")
    d = tmp_path / "parts"
    d.mkdir()
    pq.write_table(table, d / "a.parquet")
    f = table.column("f").to_numpy(zero_copy_only=False).copy()
    f[5] = np.nan
    pq.write_table(table.set_column(table.schema.get_field_index("f"), "f", pa.array(f)),
                   d / "b.parquet")
    with pytest.raises(VAEAugmentError, match=r"^input '.*b\.parquet': column 'f' contains "
                                              r"NaN or ±inf"):
        fit(str(d), label="label", encoding=enc, streaming=True, **FAST)


@pytest.mark.parametrize("streaming", [False, True])
def test_an_encoding_of_other_rows_is_warned_about(tmp_path, streaming):
    """`fit --encoding` from `pipelines.fit_stats` on other files than `fit` reads: the model
    would train on rows its statistics and class counts do not describe."""
    import warnings

    from vae_augment.api import fit
    from vae_augment.training import fit_encoding

    table = make_mixed_table(300, seed=4, with_tensor=False)
    d = tmp_path / "parts"
    d.mkdir()
    pq.write_table(table.slice(0, 150), d / "a.parquet")
    pq.write_table(table.slice(150), d / "b.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fit(str(d), label="label", encoding=fit_encoding(table, "label"), streaming=streaming,
            **FAST)
    with pytest.warns(UserWarning, match=r"the encoding was computed on 150 labelled rows .*, "
                                         r"the input holds 300 rows"):
        fit(str(d), label="label", encoding=fit_encoding(table.slice(0, 150), "label"),
            streaming=streaming, **FAST)




def test_row_groups_of_one_class_are_interleaved_into_mixed_batches(tmp_path):
    """Data partitioned (or sorted) by the label in row groups larger than the shuffle
    buffer streamed batches of one class: 70 of 71 on a churn copy (session 32's audit).
    Large row groups are now read several at a time, in small pieces drawn in proportion to
    the rows each has left; small row groups keep the stream as it was (one at a time)."""
    from vae_augment.streaming import ParquetSource
    from vae_augment.training import fit_encoding

    rng = np.random.default_rng(0)
    n = 6000
    label = np.where(rng.random(n) < 0.15, "b", "a")
    table = pa.table({"x": rng.normal(size=n) + (label == "b"), "label": label})
    for cls in ("a", "b"):  # label=a/, label=b/: one row group each
        (tmp_path / f"label={cls}").mkdir()
        part = table.filter(pa.compute.equal(table["label"], cls)).drop_columns(["label"])
        pq.write_table(part, tmp_path / f"label={cls}" / "part.parquet")
    enc = fit_encoding(str(tmp_path), "label")
    b = enc.class_index("b")

    def single_class(src, batch=128):
        shares = [np.mean(x["y"] == b) for x in src.iter_train(batch, 0, 1)]
        return sum(s in (0.0, 1.0) for s in shares), len(shares)

    src = ParquetSource(str(tmp_path), enc, validation_split=0.0, seed=0, shuffle_buffer=512)
    assert src.interleave() == 2
    single, batches = single_class(src)
    assert batches == n // 128 + 1 and single <= 1, (single, batches)
    rows = np.concatenate([x["x"] if "x" in x else x["num"][:, 0]
                           for x in src.iter_train(128, 0, 1)])
    assert len(rows) == n  # every row once
    # a buffer four times a row group reads one at a time, in the order of before
    big = ParquetSource(str(tmp_path), enc, validation_split=0.0, seed=0, shuffle_buffer=40000)
    assert big.interleave() == 1


def test_multi_worker_training_on_a_real_cluster_is_one_line_or_trains(tmp_path):
    """Two local workers under ``--strategy multi-worker`` crashed at the first step with a
    182-line traceback: Keras 3's `fit` cannot run under MultiWorkerMirroredStrategy
    (tensorflow/tensorflow#72388; a plain Sequential model fails the same way). Now one line
    and exit 2 on every worker; should a Keras release fix it, the run trains and only the
    chief writes the model."""
    import json
    import os
    import socket
    import subprocess

    from tests.test_scale import ENV, PY, REPO

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("localhost", 0))
            ports.append(s.getsockname()[1])
    data = tmp_path / "t.parquet"
    pq.write_table(make_mixed_table(200, with_tensor=False), data)
    procs = []
    for i in range(2):
        env = {**ENV, "TF_CONFIG": json.dumps({
            "cluster": {"worker": [f"localhost:{p}" for p in ports]},
            "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen(
            [PY, "-m", "vae_augment", "fit", str(data), "--label", "label", "--model-dir",
             str(tmp_path / "m"), "--epochs", "1", "--hidden", "16", "--latent-dim", "4",
             "--strategy", "multi-worker", "--quiet"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    if codes == [0, 0]:
        assert os.path.isdir(tmp_path / "m")
        return
    for (_, err), code in zip(results, codes):
        lines = [x for x in err.strip().splitlines() if x.startswith("vae-augment: error")]
        assert code == 2 and lines, err[-3000:]
        assert "multi-worker training failed at its first step" in lines[0]
    assert not (tmp_path / "m").exists()
