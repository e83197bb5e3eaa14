"""Training at scale: strategies, mixed precision, Parquet streaming, checkpoints and resume.

Tests that need a fresh TensorFlow (logical CPU devices) or a clean peak-RSS reading run in
subprocesses.
"""

import glob
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST, REPO, make_mixed_table
from vae_augment.errors import VAEAugmentError

PY = sys.executable
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}


# A script that ran to its end leaves without the interpreter's teardown (TensorFlow's takes
# 1-2 s a process): what a script checks is printed and flushed before it; an exception still
# exits 1 with its traceback, as before.
_EXIT = "\nimport os, sys\nsys.stdout.flush()\nsys.stderr.flush()\nos._exit(0)\n"


def _run(script: str, *args, timeout=300, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-c", textwrap.dedent(script) + _EXIT, *map(str, args)], cwd=REPO,
        env=env or ENV, capture_output=True, text=True, timeout=timeout,
    )


def _last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- strategy
def test_strategy_auto_on_cpu_is_default_and_logged(capsys):
    import tensorflow as tf

    from vae_augment.strategy import resolve_strategy

    s = resolve_strategy("auto")
    assert s is tf.distribute.get_strategy()
    assert s.num_replicas_in_sync == 1
    err = capsys.readouterr().err
    assert "strategy _DefaultDistributionStrategy with 1 replica(s) on" in err
    assert "CPU:0" in err


@pytest.mark.parametrize("bad", ["gpu", "Mirror", ""])
def test_strategy_rejects_unknown_names(bad):
    from vae_augment.strategy import resolve_strategy

    with pytest.raises(VAEAugmentError, match="`strategy` must be one of"):
        resolve_strategy(bad, log=False)


def test_tpu_strategy_without_tpu_is_an_error(monkeypatch):
    from vae_augment import strategy as S

    monkeypatch.setenv("TPU_NAME", "no-such-tpu-here")
    called = {}

    def fake(required):  # never contact a metadata server in tests
        called["required"] = required
        if required:
            raise VAEAugmentError("`--strategy tpu`: no TPU reachable (test)")

    monkeypatch.setattr(S, "_tpu_strategy", fake)
    with pytest.raises(VAEAugmentError, match="no TPU reachable"):
        S.resolve_strategy("tpu", log=False)
    assert called["required"] is True
    # auto with a TPU hint but no TPU falls back to the default strategy
    assert S.resolve_strategy("auto", log=False).num_replicas_in_sync == 1
    assert called["required"] is False


MIRRORED = """
import json, os, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tests.conftest import FAST, make_mixed_table
from vae_augment.model import ConditionalVAE
from vae_augment.strategy import resolve_strategy
from vae_augment.training import TrainConfig, encode_all, fit_encoding, train_model
table = make_mixed_table(400)
enc = fit_encoding(table, "label")
arrays = encode_all(enc, table)
cfg = TrainConfig(**{**FAST, "epochs": 3, "patience": 5, "seed": 0})
m1, r1 = train_model(enc, arrays, cfg, verbose=0)
s = resolve_strategy("mirrored", log=True)
m2, r2 = train_model(enc, arrays, cfg, verbose=0, strategy=s)
x = tf.data.Dataset.from_tensor_slices({k: v[:128] for k, v in arrays.items()}).batch(64)
with s.scope():
    m3 = ConditionalVAE.from_config(m1.get_config())  # the same model, guide included
    m3.compile(optimizer="adam")
m3.set_weights(m1.get_weights())
m1.compile(optimizer="adam")
e1 = m1.evaluate(x, verbose=0, return_dict=True)
e3 = m3.evaluate(x, verbose=0, return_dict=True)
# class-weighted loss terms (class_balance): the same on 1 and 2 replicas too
weighted = {**m1.get_config(), "class_weights": [0.5, 1.0, 3.0]}
with s.scope():
    m5 = ConditionalVAE.from_config(weighted)
    m5.compile(optimizer="adam")
m4 = ConditionalVAE.from_config(weighted)
m4.compile(optimizer="adam")
for m in (m4, m5):
    m.set_weights(m1.get_weights())
e4 = m4.evaluate(x, verbose=0, return_dict=True)
e5 = m5.evaluate(x, verbose=0, return_dict=True)
# the same two rows on each replica: the reparameterisation noise must differ per replica
two = {k: np.concatenate([v[:2], v[:2]]) for k, v in arrays.items()}
dist = s.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(two).batch(4))
step = tf.function(lambda b: s.run(lambda b: m3(b, training=True)["num_loc"], args=(b,)))
r0, r1_ = [v.numpy() for v in s.experimental_local_results(step(next(iter(dist))))]
# dequantized ties: spread per replica too, and training under the strategy works
m3.set_dequantization(enc.tie_halfwidths())
step = tf.function(lambda b: s.run(lambda b: m3(b, training=True)["x_num"], args=(b,)))
d0, d1 = [v.numpy() for v in s.experimental_local_results(step(next(iter(dist))))]
# batches that split unevenly, both in one run: a 1-row last training batch (369 = 4 * 92 + 1)
# and an odd validation set smaller than the batch (41 rows, split 21/20; its batches 38 + 3):
# NaN "diverged" and a Keras build error. It also trains dequantized (ties spread per replica)
# under the strategy. One epoch: each epoch holds the uneven batches, and a second one checked
# nothing more. (Two runs did this before, 401 rows in batches of 72 and 290 in batches of 256:
# one mirrored fit less is ~5 s; the even run above shows an unchanged batch.)
# It names the strategy, as a second fit in a notebook does: each "mirrored" made a new
# MirroredStrategy, whose collective keys start as the first's, and the posterior bank's
# all_gather failed ("Shape mismatch in the collective instance ...": 22 rows against 58)
t = make_mixed_table(410)
e = fit_encoding(t, "label")
_, r6 = train_model(e, encode_all(e, t), TrainConfig(**{**FAST, "seed": 0, "dequantize": True,
                                                         "batch_size": 92, "epochs": 1}),
                    verbose=0, strategy="mirrored")
# mixed_float16 on 2 replicas: a step where one replica's gradients overflowed was applied
# (Keras' LossScaleOptimizer checked the first replica's alone), and a churn fit went NaN
# within 5 steps; the step must be skipped and the scale halved
import keras
from vae_augment.strategy import loss_scale_optimizer
with s.scope():
    var = keras.Variable(np.array([1.0, 2.0], np.float32))
    lso = loss_scale_optimizer(keras.optimizers.SGD(0.1))
    lso.build([var])
def overflow_on_one_replica():
    rid = tf.distribute.get_replica_context().replica_id_in_sync_group
    lso.apply([tf.where(tf.equal(rid, 1), tf.constant([np.inf, 1.0]), tf.constant([1.0, 1.0]))],
              [var])
tf.function(lambda: s.run(overflow_on_one_replica))()
lso_step = {"var": var.numpy().tolist(), "scale": float(lso.dynamic_scale.numpy())}
# the posterior bank sees every replica's rows, as one device does
banks = {"single": m1.bank_filled.numpy().tolist(), "mirrored": m2.bank_filled.numpy().tolist(),
         "counts": np.bincount(arrays["y"]).tolist()}
print(json.dumps({"single": r1, "mirrored": r2, "eval_single": e1, "eval_mirrored": e3,
                  "banks": banks,
                  "eval_weighted_single": e4, "eval_weighted_mirrored": e5,
                  "replica_noise_differs": bool(np.abs(r0 - r1_).max() > 1e-4),
                  "replica_spread_differs": bool(np.abs(d0 - d1).max() > 1e-4),
                  "dequantized_mirrored": r6, "lso_step": lso_step,
                  "one_strategy": resolve_strategy("mirrored", log=False) is s}))
"""


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_matches_single_device():
    proc = _run(MIRRORED)
    out = _last_json(proc)
    assert "strategy MirroredStrategy with 2 replica(s)" in proc.stderr
    single, mirrored = out["single"], out["mirrored"]
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    # the same weights give the same loss and metrics on 1 and 2 replicas (loss scaling,
    # metric aggregation)
    for key in ("loss", "recon", "kl", "neg_elbo"):
        assert out["eval_mirrored"][key] == pytest.approx(out["eval_single"][key], rel=1e-5)
        assert out["eval_weighted_mirrored"][key] == pytest.approx(
            out["eval_weighted_single"][key], rel=1e-5)
    assert out["eval_weighted_single"]["loss"] != pytest.approx(out["eval_single"]["loss"])
    # training: the same data, steps and seed; only the reparameterisation noise is drawn per
    # replica, so the losses agree closely but not bit for bit
    assert out["replica_noise_differs"]
    assert out["replica_spread_differs"]
    uneven = out["dequantized_mirrored"]
    assert uneven["replicas"] == 2 and out["one_strategy"]
    assert np.isfinite(uneven["val_neg_elbo"]) and np.isfinite(uneven["loss"])
    assert mirrored["global_step"] == single["global_step"]
    # the uneven run holds both cases: an odd validation set smaller than its batch
    assert uneven["validation_rows"] == 41 and uneven["train_rows"] == 369
    # a batch changed for the replicas is said and recorded (it was silent): 92 rows leave a
    # 1-row last batch of 369 training rows, so 90; 64 rows of the even runs' 360 leave 40,
    # and stay (and are not mentioned)
    assert uneven["batch_size"] == 90 and mirrored["batch_size"] == 64
    assert "training with a global batch of 90 rows, not 92" in proc.stderr
    assert proc.stderr.count("training with a global batch of") == 1, proc.stderr
    assert out["banks"]["mirrored"] == out["banks"]["single"], out["banks"]
    assert out["lso_step"] == {"var": [1.0, 2.0], "scale": 2.0**14}  # skipped, scale halved
    for key in ("loss", "val_neg_elbo", "recon"):
        assert mirrored[key] == pytest.approx(single[key], rel=0.03), key


def test_resume_ignores_settings_used_only_after_training_and_warns_of_replicas(
        tmp_path, mixed_parquet, reference_run):
    """Resuming with other sampling settings (candidates, bank pruning) was refused as "a
    different run", though training never reads them; a checkpoint of another replica count
    resumed silently to other weights; a killed save's ``.ckpt.*`` folder (a whole model and
    optimizer) stayed forever (session 32's audit)."""
    import shutil
    import warnings

    from vae_augment.api import fit
    from vae_augment.checkpoint import latest_checkpoint

    ckpt = tmp_path / "ckpt"
    shutil.copytree(reference_run.checkpoint_dir, ckpt)
    (ckpt / ".ckpt.killed").mkdir()  # what a SIGKILL during a save leaves
    (ckpt / ".ckpt.killed" / "model.npz").write_bytes(b"x" * 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        art = fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt),
                  resume=True, **{**RESUME_KW, "candidates": 4, "bank_keep": 0.5,
                                  "shuffle_buffer": 100})
    assert not [w for w in caught if "replica" in str(w.message)]
    assert art.model.candidates == 4
    assert not (ckpt / ".ckpt.killed").exists()
    # a checkpoint from 2 replicas: resumed, with a warning
    path = latest_checkpoint(str(ckpt))
    state = json.load(open(os.path.join(path, "state.json")))
    assert state["replicas"] == 1
    state["replicas"] = 2
    json.dump(state, open(os.path.join(path, "state.json"), "w"))
    with pytest.warns(UserWarning, match=r"resuming on 1 replica\(s\), where the checkpoint "
                                         r"was trained on 2"):
        fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
            **RESUME_KW)


def test_checkpoints_of_earlier_versions_resume_with_after_training_settings_in_them():
    from vae_augment.training import _check_fingerprint

    now = {"config": {"latent_dim": 4}, "layout": {}, "data": {}}
    old = {"config": {"latent_dim": 4, "candidates": 1, "bank_keep": 0.25,
                      "shuffle_buffer": 65536}, "layout": {}, "data": {}}
    _check_fingerprint(old, now, "ckpt")  # no error
    from vae_augment.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="latent_dim"):
        _check_fingerprint({**old, "config": {**old["config"], "latent_dim": 3}}, now, "ckpt")


# ---------------------------------------------------------------------------- precision
def test_mixed_bfloat16_keeps_distribution_heads_in_float32(mixed_table):
    import keras
    import tensorflow as tf

    from vae_augment.model import ConditionalVAE, dummy_inputs
    from vae_augment.strategy import precision_scope
    from vae_augment.training import TrainConfig, encode_all, fit_encoding, train_model

    enc = fit_encoding(mixed_table, "label")
    with precision_scope("mixed_bfloat16"):
        model = ConditionalVAE(enc.layout(), latent_dim=4, hidden=(16,), seed=0)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert model.enc_hidden[0].compute_dtype == "bfloat16"
    assert model.dec_hidden[0].compute_dtype == "bfloat16"
    heads = [model.posterior, model.prior, model.num_head, model.null_head, model.cat_head]
    heads += [dec[-1] for dec in model.tensor_dec if dec[-1].name.endswith("_out")]
    assert len(heads) == 6
    for layer in heads:
        assert layer.compute_dtype == "float32", layer.name
    params = model(dummy_inputs(enc.layout(), 4), training=True)
    for name, value in params.items():
        assert value.dtype == tf.float32, name
    assert all(v.dtype == "float32" for v in model.trainable_variables)

    seen = {}

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen["policy"] = self.model.dtype_policy.name

    arrays = encode_all(enc, mixed_table)
    for dequantize in (False, True):  # tied numerics spread in bfloat16 training too
        cfg = TrainConfig(**{**FAST, "precision": "mixed_bfloat16", "dequantize": dequantize})
        trained, metrics = train_model(enc, arrays, cfg, verbose=0, callbacks=[Spy()])
        assert seen["policy"] == "mixed_bfloat16"
        assert np.isfinite(metrics["loss"]) and np.isfinite(metrics["val_neg_elbo"])
    assert trained.compute_dtype == "float32"  # returned (and saved) as a float32 model
    assert keras.mixed_precision.global_policy().name == "float32"


def test_a_mixed_fit_returns_a_float32_model_whatever_the_callers_policy(mixed_table):
    """A caller whose own global policy is mixed got back a bfloat16 (or float16) model from
    a mixed fit: the float32 copy was built after the caller's policy came back, so its
    rows differed from the saved artifact's (session 49's audit)."""
    import keras

    from vae_augment.training import TrainConfig, encode_all, fit_encoding, train_model

    enc = fit_encoding(mixed_table, "label")
    arrays = encode_all(enc, mixed_table)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # the caller's own
    try:
        trained, _ = train_model(enc, arrays, TrainConfig(**{**FAST, "seed": 0,
                                                             "precision": "mixed_bfloat16"}),
                                 verbose=0)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"  # given back
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert trained.compute_dtype == "float32" and trained.variable_dtype == "float32"


def test_keras_load_model_keeps_the_saved_policy_and_trainable(mixed_artifact, tmp_path):
    """Plain `keras.saving.load_model` under a caller's mixed_float16 built the model's
    layers in float16 (its config held no dtype), so its rows differed from the CLI's; and a
    frozen model came back trainable."""
    import keras
    import numpy as np

    from vae_augment.artifact import load_artifact

    reference = load_artifact(str(mixed_artifact)).model
    keras.mixed_precision.set_global_policy("mixed_float16")  # the caller's own
    try:
        model = keras.saving.load_model(mixed_artifact / "model.keras", compile=False)
        assert keras.mixed_precision.global_policy().name == "mixed_float16"  # given back
    finally:
        keras.mixed_precision.set_global_policy("float32")
    layers = [model, *model._flatten_layers()]
    assert {layer.dtype_policy.name for layer in layers} == {"float32"}
    assert {v.dtype for v in model.weights if "float" in v.dtype} == {"float32"}
    y = np.array([0, 1, 2, 2], dtype=np.int32)
    ours = model.generate(y, seed=[3, 4])
    theirs = reference.generate(y, seed=[3, 4])
    for key in theirs:
        np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(theirs[key]))

    model.trainable = False
    model.save(tmp_path / "frozen.keras")
    frozen = keras.saving.load_model(tmp_path / "frozen.keras", compile=False)
    assert not frozen.trainable and frozen.trainable_weights == []


def test_mixed_float16_uses_loss_scaling(mixed_table):
    import keras

    from vae_augment.model import ConditionalVAE
    from vae_augment.strategy import precision_scope
    from vae_augment.training import fit_encoding

    enc = fit_encoding(mixed_table, "label")
    with precision_scope("mixed_float16"):
        model = ConditionalVAE(enc.layout(), latent_dim=4, hidden=(16,), seed=0)
        model.compile(optimizer=keras.optimizers.Adam())
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    with pytest.raises(VAEAugmentError, match="`precision` must be one of"):
        with precision_scope("float8"):
            pass


# ---------------------------------------------------------------------------- streaming
@pytest.fixture(scope="module")
def parquet_parts(tmp_path_factory):
    """The mixed table split into 3 files with small row groups."""
    d = tmp_path_factory.mktemp("parts")
    table = make_mixed_table(900, seed=3)
    for i in range(3):
        pq.write_table(table.slice(i * 300, 300), d / f"part-{i}.parquet", row_group_size=70)
    return d, table


def test_parquet_source_epochs_cover_every_row_once_in_a_seeded_order(parquet_parts):
    from vae_augment.streaming import ParquetSource
    from vae_augment.training import fit_encoding

    d, table = parquet_parts
    enc = fit_encoding(table, "label")
    src = ParquetSource(str(d), enc, validation_split=0.2, seed=5, shuffle_buffer=50, read_rows=32)
    assert src.n_train + src.n_val == 900 and 120 < src.n_val < 240
    full = enc.encode(table)

    def rows(batches):
        return np.concatenate([np.concatenate([b["num"], b["y"][:, None]], 1) for b in batches])

    e0 = list(src.iter_train(64, 0, 1))
    assert [len(b["y"]) for b in e0[:-1]] == [64] * (len(e0) - 1)
    assert len(e0) == -(-src.n_train // 64)
    train_rows, val_rows = rows(e0), rows(list(src.iter_validation(64)))
    assert len(train_rows) == src.n_train and len(val_rows) == src.n_val
    # train + validation is exactly the input (as multisets of encoded rows)
    both = np.concatenate([train_rows, val_rows])
    ref = np.concatenate([full["num"], full["y"][:, None]], 1)
    np.testing.assert_array_equal(np.unique(both, axis=0, return_counts=True)[1],
                                  np.unique(ref, axis=0, return_counts=True)[1])
    np.testing.assert_allclose(np.sort(both, axis=0), np.sort(ref, axis=0))
    # same epoch, same order; another epoch, another order; skip drops leading batches
    np.testing.assert_array_equal(rows(src.iter_train(64, 0, 1)), train_rows)
    e1 = rows(src.iter_train(64, 1, 2))
    assert not np.array_equal(e1, train_rows)
    np.testing.assert_allclose(np.sort(e1, axis=0), np.sort(train_rows, axis=0))
    two = rows(src.iter_train(64, 0, 2, skip=3))
    np.testing.assert_array_equal(two, np.concatenate([train_rows[3 * 64:], e1]))
    # the dataset form yields the same batches
    ds = src.train_dataset(64, 0, 1)
    assert int(ds.cardinality()) == len(e0)
    got = np.concatenate([np.concatenate([b["num"].numpy(), b["y"].numpy()[:, None]], 1)
                          for b in ds])
    np.testing.assert_array_equal(got, train_rows)


def test_streaming_fit_trains_and_is_seeded(parquet_parts):
    from vae_augment.api import fit

    d, _ = parquet_parts
    from vae_augment.training import class_weights

    kw = {**FAST, "shuffle_buffer": 100, "class_balance": 0.5}  # weights from the stats pass
    a = fit(str(d), label="label", streaming=True, seed=1, **kw)
    b = fit(str(d), label="label", streaming=True, seed=1, **kw)
    m = a.config["metrics"]
    assert m["streaming"] is True and m["train_rows"] + m["validation_rows"] == 900
    counts = [a.encoding.class_counts[c] for c in a.encoding.classes]
    assert sum(counts) == 900 and a.model.class_weights == class_weights(counts, 0.5)
    assert len(set(a.model.class_weights)) == 3  # every class above the floor: 3 weights
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_streaming_needs_paths(mixed_table):
    from vae_augment.streaming import should_stream

    assert should_stream(mixed_table, None) is False
    with pytest.raises(VAEAugmentError, match="`streaming=True` needs Parquet paths"):
        should_stream(mixed_table, True)


RSS = """
import json, sys
from vae_augment.api import fit
d, mode, encoding = sys.argv[1], sys.argv[2], sys.argv[3]
# a 2-round guide: its bounded sample is part of the peak, as in a default fit (50 rounds
# took 2.5-7.5 s more a run and do not change what the guide holds)
art = fit(d, label="y", streaming=mode == "stream", encoding=encoding, epochs=1,
          batch_size=4096, latent_dim=2, hidden=(8,), kl_warmup_epochs=0, patience=1,
          shuffle_buffer=8192, seed=0, guide_iterations=2)
# VmHWM, the peak RSS of this process image: ru_maxrss would also count the parent's RSS at
# fork time (Linux keeps it across exec), i.e. the size of the pytest process
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({"maxrss_mb": int(hwm) / 1024, "rows": art.config["metrics"]["train_rows"]}))
"""


def _wide_parts(d, rows, files=4):
    d.mkdir()
    per = rows // files
    for f in range(files):
        rng = np.random.default_rng(f)
        cols = {f"x{j}": rng.normal(size=per) for j in range(16)}
        cols["y"] = rng.choice(["a", "b"], size=per, p=[0.8, 0.2])
        # row groups of 5,000 rows, over a quarter of the fits' 8,192-row shuffle buffer, are
        # read 8 at a time (`ParquetSource.interleave`): both sizes have more than 8, so both
        # hold 8 (with 20,000-row groups the small input had 4 small ones among its 8: its
        # peak was some 25 MB lower for that alone, and the comparison measured it)
        pq.write_table(pa.table(cols), d / f"part-{f}.parquet", row_group_size=5000)
    return d


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc")
def test_streaming_peak_rss_is_bounded_as_rows_grow_4x(tmp_path):
    """Peak RSS of a streaming fit over 4 files at 100k and 400k rows (16 float columns).

    Both fits use one precomputed encoding (as with `pipelines/fit_stats.py`): the statistics
    pass itself keeps bounded reservoirs (200k values per numeric column) that would add
    ~13 MB between these sizes on their way to the bound and blur the comparison.
    """
    from vae_augment.training import fit_encoding

    small = _wide_parts(tmp_path / "x1", 100_000)
    large = _wide_parts(tmp_path / "x4", 400_000)
    encoding = tmp_path / "encoding.json"
    encoding.write_text(json.dumps(fit_encoding(str(small), "y").to_json()))
    env = {**ENV, "MALLOC_ARENA_MAX": "2"}  # less allocator noise in a threaded peak RSS
    s1, s4, m1, m4 = (_last_json(_run(RSS, d, mode, encoding, env=env)) for d, mode in (
        (small, "stream"), (large, "stream"), (small, "memory"), (large, "memory")))
    assert s4["rows"] > 3.5 * s1["rows"]
    # 300k more rows of 16 float64 columns are ~38 MB raw; streaming stays within noise
    assert s4["maxrss_mb"] - s1["maxrss_mb"] < 35, (s1, s4)
    # the control: the in-memory path does grow with the rows (the bound above can fail)
    assert m4["maxrss_mb"] - m1["maxrss_mb"] > 60, (m1, m4)


# ---------------------------------------------------------------------------- resume
class _Interrupt(Exception):
    pass


def _interrupt_after(steps):
    import keras

    class Interrupt(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.n = 0

        def on_train_batch_end(self, batch, logs=None):
            self.n += 1
            if self.n == steps:
                raise _Interrupt()

    return Interrupt()


# patience 1 with a high learning rate: early stopping ends the run before `epochs`
RESUME_KW = {**FAST, "epochs": 12, "patience": 1, "kl_warmup_epochs": 2, "learning_rate": 0.03,
             "dropout": 0.1}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, mixed_parquet):
    """An uninterrupted run with checkpoints (the same interval as the interrupted one)."""
    from vae_augment.api import fit

    d = tmp_path_factory.mktemp("ref")
    art = fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(d / "ckpt"),
              checkpoint_every=4, **RESUME_KW)
    art.checkpoint_dir = str(d / "ckpt")
    return art


def test_reference_run_stops_early(reference_run):
    m = reference_run.config["metrics"]
    assert m["epochs_run"] < RESUME_KW["epochs"], "early stopping must be exercised"
    assert m["steps_per_epoch"] == 5  # 270 training rows / 64, so step 4k is mid-epoch


@pytest.mark.parametrize("stop_after", [7, 13])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, mixed_parquet, reference_run,
                                                     stop_after):
    from vae_augment.api import fit
    from vae_augment.checkpoint import latest_checkpoint

    ckpt = str(tmp_path / "ckpt")
    with pytest.raises(_Interrupt):
        fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=ckpt, checkpoint_every=4,
            callbacks=[_interrupt_after(stop_after)], **RESUME_KW)
    state = json.load(open(os.path.join(latest_checkpoint(ckpt), "state.json")))
    assert state["global_step"] == stop_after // 4 * 4
    assert state["step"] != 0  # interrupted mid-epoch: the partial epoch path runs
    resumed = fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=ckpt, resume=True,
                  **RESUME_KW)
    ref_m, got_m = reference_run.config["metrics"], resumed.config["metrics"]
    assert got_m["resumed_from_step"] == state["global_step"]
    # the run's time includes the part trained before the interruption
    assert state["train_seconds"] > 0
    assert got_m["train_seconds"] > state["train_seconds"]
    for key in ("epochs_run", "best_epoch", "global_step"):
        assert got_m[key] == ref_m[key], key
    for key in ("loss", "val_neg_elbo", "kl", "recon"):
        assert got_m[key] == pytest.approx(ref_m[key], rel=1e-5), key
    ref_w, got_w = reference_run.model.get_weights(), resumed.model.get_weights()
    assert len(ref_w) == len(got_w)
    for a, b in zip(ref_w, got_w):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path, mixed_parquet, reference_run):
    import shutil

    from vae_augment.api import fit
    from vae_augment.checkpoint import CheckpointError

    ckpt = tmp_path / "ckpt"
    shutil.copytree(reference_run.checkpoint_dir, ckpt)
    # settings alone differ: perhaps a default changed since (an earlier release's checkpoint)
    with pytest.raises(CheckpointError, match=r"different run \(config.latent_dim: checkpoint "
                                              r"4, now 3\); to go on with it, give the "
                                              r"checkpoint's settings \(a default may have "
                                              r"changed since it was written\); else drop "
                                              r"resume=True or use another checkpoint_dir$"):
        fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
            **{**RESUME_KW, "latent_dim": 3})


def test_checkpoint_records_its_release_and_a_refusal_names_another(tmp_path, mixed_parquet,
                                                                     reference_run):
    """state.json recorded no release: a resume refused for changed settings could not say
    that an earlier vae-augment (whose defaults may differ) wrote the checkpoint. One
    without the record still resumes as before."""
    import shutil

    from vae_augment import __version__
    from vae_augment.api import fit
    from vae_augment.artifact import FORMAT_VERSION
    from vae_augment.checkpoint import CheckpointError, latest_checkpoint

    ckpt = tmp_path / "ckpt"
    shutil.copytree(reference_run.checkpoint_dir, ckpt)
    state_file = os.path.join(latest_checkpoint(str(ckpt)), "state.json")
    state = json.load(open(state_file))
    assert state["vae_augment_version"] == __version__
    assert state["format_version"] == FORMAT_VERSION
    json.dump({**state, "vae_augment_version": "0.0.9"}, open(state_file, "w"))
    with pytest.raises(CheckpointError, match=rf"ckpt-\d+', written by vae-augment 0\.0\.9 "
                                              rf"\(this is {re.escape(__version__)}\), belongs "
                                              rf"to a different run \(config.latent_dim: "):
        fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
            **{**RESUME_KW, "latent_dim": 3})
    for key in ("vae_augment_version", "format_version"):  # as an earlier release wrote it
        del state[key]
    json.dump(state, open(state_file, "w"))
    with pytest.raises(CheckpointError, match=r"', written by an earlier vae-augment, belongs"):
        fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
            **{**RESUME_KW, "latent_dim": 3})
    resumed = fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt),
                  resume=True, **RESUME_KW)
    assert resumed.config["metrics"]["resumed_from_step"] == state["global_step"]


def _relabelled(table: pa.Table, n: int = 6) -> pa.Table:
    """`table` with its first `n` rows of class 'a' (after the first 3) made 'b': other data
    of the same row count."""
    labels = table.column("label").to_pylist()
    rows = [i for i, v in enumerate(labels) if v == "a" and i >= 3][:n]
    for i in rows:
        labels[i] = "b"
    return table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels))


def test_resume_refuses_other_data_of_the_same_row_count(tmp_path, mixed_parquet, mixed_table,
                                                         reference_run):
    """Only the row count was compared: other rows as many resumed silently. The rows per
    class (order-free) are recorded and compared; a checkpoint without them resumes."""
    import shutil

    from vae_augment.api import fit
    from vae_augment.checkpoint import CheckpointError, latest_checkpoint

    ckpt = tmp_path / "ckpt"
    shutil.copytree(reference_run.checkpoint_dir, ckpt)
    state_file = os.path.join(latest_checkpoint(str(ckpt)), "state.json")
    counts = dict(zip(*np.unique(mixed_table.column("label").to_numpy(zero_copy_only=False),
                                 return_counts=True)))
    other = tmp_path / "other.parquet"
    pq.write_table(_relabelled(mixed_table), other)
    a, b = counts["a"], counts["b"]
    with pytest.raises(CheckpointError, match=(
            rf"^checkpoint '.*ckpt-\d+' was trained on other data \(class 'a': checkpoint "
            rf"{a} rows, now {a - 6}; class 'b': checkpoint {b} rows, now {b + 6}\); give "
            rf"the data it was trained on, or drop resume=True to train afresh$")):
        fit(str(other), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
            **RESUME_KW)
    state = json.load(open(state_file))
    assert state["class_rows"] == {c: int(counts[c]) for c in ("a", "b", "c")}
    del state["class_rows"]  # as an earlier release wrote it: resumed as before
    json.dump(state, open(state_file, "w"))
    resumed = fit(str(other), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
                  **RESUME_KW)
    assert resumed.config["metrics"]["resumed_from_step"] == state["global_step"]


def test_streamed_resume_refuses_other_data_of_the_same_row_count(tmp_path, parquet_parts,
                                                                  capsys):
    """The streamed run counts its rows per class from the label column (rows are read in
    another order than the encoding's pass): the same data resumes, other data is refused
    in one line, exit 2."""
    from tests.conftest import FAST_ARGS, run_cli
    from vae_augment.streaming import InMemorySource, ParquetSource
    from vae_augment.training import fit_encoding

    d, table = parquet_parts
    model_dir = tmp_path / "run"
    args = ["fit", d, "--label", "label", "--model-dir", model_dir, *FAST_ARGS, "--epochs",
            "1", "--streaming", "--shuffle-buffer", "100", "--checkpoint-every", "5"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err[-3000:]
    code, _, err = run_cli(args + ["--resume"], capsys)
    assert code == 0 and "a finished run: nothing left to train" in err, err[-3000:]
    other = tmp_path / "other"
    other.mkdir()
    for part in sorted(d.glob("*.parquet")):  # the same files and row groups, relabelled
        pq.write_table(_relabelled(pq.read_table(part)), other / part.name, row_group_size=70)
    code, _, err = run_cli([*args[:1], other, *args[2:], "--resume"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "was trained on other data (class 'a': checkpoint" in err
    assert err.strip().endswith("drop --resume to train afresh"), err
    enc = fit_encoding(table, "label")
    streamed = ParquetSource(str(d), enc, validation_split=0.1, seed=0).class_rows(3)
    held = InMemorySource(enc.encode(table), validation_split=0.1, seed=0).class_rows(3)
    assert list(streamed) == list(held) == [enc.class_counts[c] for c in enc.classes]


def test_checkpoint_from_before_the_weighted_bound_resumes_watching_the_elbo(
        tmp_path, mixed_parquet, reference_run, capsys):
    """A checkpoint written before early stopping watched the weighted bound below KL weight
    1 (2026-12-04) holds a -ELBO as its best and epochs without ``beta_neg_elbo``. Resumed,
    the bound (always lower) was compared with that best, so the first resumed epoch always
    "improved" (a 1fb9497 run that stopped after 6 epochs went on to 8), and the history's
    bound lists were shorter than its epochs, their metrics from the wrong epoch. It goes on
    watching the -ELBO, as it began."""
    import shutil

    from vae_augment.api import fit
    from vae_augment.checkpoint import _checkpoints

    ckpt = tmp_path / "ckpt"
    shutil.copytree(reference_run.checkpoint_dir, ckpt)
    (_, older), (_, newest) = _checkpoints(str(ckpt))
    shutil.rmtree(newest)  # the run interrupted after the one before it
    state = json.load(open(os.path.join(older, "state.json")))
    early, history = state["early"], state["history"]
    assert early.pop("monitor", None) in ("val_beta_neg_elbo", None)  # recorded from now on
    assert early["best_epoch"] is not None
    for key in ("beta_neg_elbo", "val_beta_neg_elbo"):  # as that release wrote it
        del history[key]
    early["best"] = history["val_neg_elbo"][early["best_epoch"]]
    json.dump(state, open(os.path.join(older, "state.json"), "w"))
    capsys.readouterr()
    art = fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
              **RESUME_KW)
    history, metrics = art.history, art.config["metrics"]
    assert {len(v) for v in history.values()} == {metrics["epochs_run"]}
    assert "val_beta_neg_elbo" not in history
    watched = history["val_neg_elbo"][RESUME_KW["kl_warmup_epochs"]:]
    assert metrics["best_epoch"] == RESUME_KW["kl_warmup_epochs"] + int(np.argmin(watched)) + 1
    assert "stops early by the -ELBO (val_neg_elbo)" in capsys.readouterr().err


def test_resume_with_another_xla_setting_is_warned(tmp_path, mixed_parquet, reference_run):
    import shutil
    import warnings

    from vae_augment.api import fit
    from vae_augment.checkpoint import latest_checkpoint

    ckpt = tmp_path / "ckpt"
    shutil.copytree(reference_run.checkpoint_dir, ckpt)
    state = json.load(open(os.path.join(latest_checkpoint(str(ckpt)), "state.json")))
    assert state["jit_compile"] is False  # auto on one CPU
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
            **RESUME_KW)
    assert not [w for w in caught if "XLA" in str(w.message)]
    with pytest.warns(UserWarning, match="resuming with XLA on, where the checkpoint was "
                                         "trained with it off"):
        fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt), resume=True,
            **{**RESUME_KW, "jit_compile": True})


KILL = """
import os, signal, sys
import keras
from tests.test_scale import RESUME_KW
from vae_augment.api import fit

class Kill(keras.callbacks.Callback):
    n = 0
    def on_train_batch_end(self, batch, logs=None):
        Kill.n += 1
        if Kill.n == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)

fit(sys.argv[1], label="label", seed=3, checkpoint_dir=sys.argv[2], checkpoint_every=4,
    callbacks=[Kill()], **RESUME_KW)
"""


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_same_weights(tmp_path, mixed_parquet, reference_run):
    from vae_augment.api import fit

    ckpt = tmp_path / "ckpt"
    proc = _run(KILL, mixed_parquet, ckpt, 10)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert sorted(p.name for p in ckpt.iterdir() if p.name.startswith("ckpt-")) == [
        "ckpt-000000004", "ckpt-000000008"]
    resumed = fit(str(mixed_parquet), label="label", seed=3, checkpoint_dir=str(ckpt),
                  resume=True, **RESUME_KW)
    assert resumed.config["metrics"]["resumed_from_step"] == 8
    for a, b in zip(reference_run.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- CLI + TensorBoard
def _events(log_dir):
    import tensorflow as tf

    out = {}
    for path in glob.glob(os.path.join(log_dir, "**", "events.out.tfevents.*"), recursive=True):
        run = os.path.relpath(os.path.dirname(path), log_dir)
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                out.setdefault((run, v.tag), []).append((event.step, v))
    return out


@pytest.mark.slow
def test_cli_streaming_checkpoints_and_tensorboard(tmp_path, parquet_parts, capsys):
    """`fit --streaming` with checkpoints and TensorBoard logs, then `--resume` of the
    finished run. Driven in-process (`vae_augment.cli.main`, as in test_reliability.py):
    nothing here needs a fresh process, and each `python -m vae_augment.cli` launch cost a
    TensorFlow import; test_reliability.py runs the real console script."""
    import tensorflow as tf

    from tests.conftest import run_cli

    d, _ = parquet_parts
    model_dir = tmp_path / "run"
    logs = model_dir / "logs"
    args = ["fit", d, "--label", "label", "--model-dir", model_dir, "--epochs", "2",
            "--batch-size", "64", "--latent-dim", "4", "--hidden", "16", "--kl-warmup-epochs",
            "1", "--guide-iterations", "2", "--strategy", "auto", "--precision", "float32",
            "--streaming",
            "--shuffle-buffer", "100", "--checkpoint-every", "5", "--tensorboard", logs]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    assert out["streaming"] is True and out["epochs_run"] == 2
    assert "vae-augment: strategy _DefaultDistributionStrategy with 1 replica(s)" in err
    # the artifact is complete and the checkpoints and logs inside it survived its rewrite
    from vae_augment.artifact import load_artifact

    art = load_artifact(str(model_dir))
    assert art.config["train_config"]["shuffle_buffer"] == 100
    steps = art.config["metrics"]["steps_per_epoch"]
    names = sorted(p.name for p in (model_dir / "checkpoints").iterdir())
    assert f"ckpt-{2 * steps:09d}" in names and "encoding.json" in names
    ev = _events(str(logs))
    for run in ("train", "validation"):
        for term in ("loss", "recon", "kl", "neg_elbo"):
            assert [s for s, _ in ev[(run, f"epoch_{term}")]] == [0, 1], (run, term)
    assert ("diagnostics", "kl_dim/03") in ev and ("diagnostics", "kl_dim/04") not in ev
    units = [tf.make_ndarray(v.tensor) for _, v in ev[("diagnostics", "active_units")]]
    assert all(0 <= u <= 4 for u in units)
    hist = tf.make_ndarray(ev[("diagnostics", "kl_per_dim")][-1][1].tensor)
    assert hist.shape == (30, 3) and hist[:, 2].sum() == 4
    step, img = ev[("diagnostics", "samples/img")][-1]
    assert img.metadata.plugin_data.plugin_name == "images"
    w, h, png = img.tensor.string_val
    assert (int(w), int(h)) == (8 * 8, 3 * 8)  # 8 samples per class x 3 classes of 8x8
    assert tf.io.decode_png(png).shape == (24, 64, 1)
    # resuming a finished run trains nothing and reproduces the artifact
    code, _, err = run_cli(args + ["--resume"], capsys)
    assert code == 0, err[-3000:]
    assert "a finished run: nothing left to train" in err
    again = load_artifact(str(model_dir))
    for a, b in zip(art.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_every_needs_a_directory(mixed_table):
    from vae_augment.api import fit

    with pytest.raises(VAEAugmentError, match="`checkpoint_dir` is required"):
        fit(mixed_table, label="label", checkpoint_every=5, **FAST)
    with pytest.raises(VAEAugmentError, match="`checkpoint_every` must be a positive integer"):
        fit(mixed_table, label="label", checkpoint_every=0, checkpoint_dir="x", **FAST)


# ---------------------------------------------------------------------------- Beam statistics
def test_fit_stats_beam_job_writes_the_streaming_encoding(tmp_path, parquet_parts):
    from pipelines.fit_stats import run
    from vae_augment.api import fit
    from vae_augment.errors import SchemaError
    from vae_augment.training import fit_encoding

    d, _ = parquet_parts
    out = tmp_path / "encoding.json"
    summary = run(["--input", str(d), "--label", "label", "--output", str(out)])
    assert summary["rows"] == 900
    # 9 row groups folded on the runner and merged == one sequential pass, to the byte (and
    # the constraints' search: tests/test_constraints.py)
    doc = json.loads(out.read_text())
    assert doc.pop("constraints") == ["auto"]
    assert {k: v for k, v in doc.items() if k != "relations"} == fit_encoding(
        str(d), "label").to_json()
    art = fit(str(d), label="label", encoding=str(out), streaming=True, seed=0,
              **{**FAST, "epochs": 1})
    assert art.encoding.to_json() == json.loads(out.read_text())
    with pytest.raises(SchemaError, match="fitted with label 'label', not `label` 's'"):
        fit(str(d), label="s", encoding=str(out), **FAST)
    # another schema: the column that differs is named, not every column twice (text for a
    # number; float32 for its float64 is taken since session 48, tests/test_input_layouts.py)
    other = tmp_path / "other.parquet"
    t = pq.read_table(next(iter(sorted(d.glob("*.parquet")))))
    pq.write_table(t.set_column(t.schema.get_field_index("f"), "f",
                                t.column("f").cast(pa.string())), other)
    with pytest.raises(SchemaError, match=r"^`encoding` was fitted on data of another schema "
                                          r"than the input's: .*'f'") as exc:
        fit(str(other), label="label", encoding=str(out), **FAST)
    assert len(str(exc.value)) < 300


def test_merge_stats_past_the_reservoir_is_a_uniform_sample():
    from vae_augment.schema import _RESERVOIR, SchemaStats
    from vae_augment.stats_merge import merge_stats

    rng = np.random.default_rng(0)
    n = 150_000
    left = pa.table({"x": rng.normal(0, 1, n), "y": np.repeat(["a", "b"], n // 2)})
    right = pa.table({"x": rng.normal(3, 2, n), "y": np.repeat(["a", "c"], n // 2)})
    a, b, seq = (SchemaStats(left.schema, "y") for _ in range(3))
    a.update(left)
    b.update(right)
    seq.update(left)
    seq.update(right)
    m = merge_stats(a, b)
    assert a.rows == n  # not modified
    assert m.rows == 2 * n and m.label_counts == {"a": n, "b": n // 2, "c": n // 2}
    sample = m.columns["x"].numeric.sample
    assert m.columns["x"].numeric.seen == 2 * n and len(sample) == _RESERVOIR
    # half the merged sample from each side (hypergeometric, sd ~ 112 rows)
    assert abs(np.mean(sample > 1.5) - np.mean(np.r_[left["x"], right["x"]] > 1.5)) < 0.01
    probs = np.linspace(0.01, 0.99, 25)
    np.testing.assert_allclose(np.quantile(sample, probs),
                               np.quantile(seq.columns["x"].numeric.sample, probs), atol=0.05)


def test_a_second_run_into_a_tensorboard_directory_is_warned_about(tmp_path, mixed_parquet):
    import warnings

    from vae_augment.api import fit

    logs = tmp_path / "logs"
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        fit(str(mixed_parquet), label="label", seed=0, tensorboard=str(logs), **FAST)
    assert not [w for w in first if "TensorBoard" in str(w.message)]
    assert any(n.startswith("events.out.tfevents") for n in os.listdir(logs / "train"))
    with pytest.warns(UserWarning, match="already holds an earlier run's event files"):
        fit(str(mixed_parquet), label="label", seed=0, tensorboard=str(logs), **FAST)


def test_tpu_and_cluster_set_up_errors_are_one_line(monkeypatch):
    """Off Google Cloud the TPU resolver's metadata request raises URLError (an OSError): a
    traceback before; and a TF_CONFIG that is not JSON raised JSONDecodeError."""
    import urllib.error

    import tensorflow as tf

    from vae_augment import strategy as S

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", unreachable)
    monkeypatch.setenv("TPU_NAME", "nosuchtpu")
    assert S.resolve_strategy("auto", log=False).num_replicas_in_sync == 1
    with pytest.raises(VAEAugmentError, match="no TPU reachable .*Name or service not known"):
        S.resolve_strategy("tpu", log=False)
    monkeypatch.setenv("TF_CONFIG", "not json")
    with pytest.raises(VAEAugmentError, match="TF_CONFIG does not describe a cluster "
                                              r"\(JSONDecodeError"):
        S.resolve_strategy("multi-worker", log=False)


def test_xla_is_on_by_default_only_where_keras_runs_it(monkeypatch):
    """None: XLA with a TPU, or a GPU on one replica; not on several replicas (Keras' XLA
    step under MirroredStrategy fails: keras-team/keras#19005) nor on CPU. Explicit wins."""
    import tensorflow as tf

    from vae_augment.training import resolve_jit

    assert resolve_jit(None) is False and resolve_jit(True, replicas=2) is True
    devices = {"GPU": ["gpu0", "gpu1"], "TPU": []}
    monkeypatch.setattr(tf.config, "list_logical_devices", lambda kind=None: devices[kind])
    assert resolve_jit(None) is True and resolve_jit(None, replicas=2) is False
    assert resolve_jit(False) is False
    devices.update(GPU=[], TPU=["tpu0"])
    assert resolve_jit(None, replicas=8) is True


