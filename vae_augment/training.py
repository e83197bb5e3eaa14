"""Fitting the model (Keras `fit`); the encoding and the training data come from
`vae_augment.preparation`, the settings (`TrainConfig`, the presets, the defaults that follow
the data) from `vae_augment.train_config` (both modules' names are re-exported here).

`train_model` runs Keras `fit` under a tf.distribute strategy and a dtype policy, on data held
in memory or streamed from Parquet (`vae_augment.streaming`), with checkpoints every N steps
that `resume=True` continues from to the same final weights (`vae_augment.checkpoint`), and
optional TensorBoard logs (`vae_augment.callbacks`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import random
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vae_augment.encoding import Encoding
from vae_augment.errors import _CLI_WORDING, VAEAugmentError, arg, counts_note, option, warn
from vae_augment.preparation import encode_all, fit_encoding, load_encoding, prepare_training
from vae_augment.train_config import (  # noqa: F401  (re-exported: this module's public names)
    CLASS_BALANCE_MIN_ROWS,
    DEFAULT_BETA,
    DEFAULT_BETA_ROWS,
    GUIDED,
    RARE_CLASS_ROWS,
    SMALL_CLASS_ROWS,
    SMALL_TABLE_ROWS,
    UNGUIDED,
    TrainConfig,
    class_weights,
    default_beta,
    small_classes,
)

__all__ = [
    "TrainConfig", "fit_encoding", "encode_all", "train_model", "set_determinism", "resolve_jit",
    "prepare_training", "load_encoding", "GUIDED", "UNGUIDED", "class_weights",
    "CLASS_BALANCE_MIN_ROWS", "global_rng_preserved", "default_beta", "SMALL_TABLE_ROWS",
    "DEFAULT_BETA_ROWS", "DEFAULT_BETA", "SMALL_CLASS_ROWS", "small_classes",
]



def set_determinism(seed: int) -> None:
    """Seeds Python, NumPy, TensorFlow and Keras.

    TF's `enable_op_determinism` is not switched on: Keras then refuses XLA. On CPU the
    compiled train step is deterministic for a fixed seed (tested: same seed, same bytes).
    """
    from vae_augment._keras import keras

    keras.utils.set_random_seed(int(seed))


def resolve_jit(jit_compile: bool | None, replicas: int = 1) -> bool:
    """XLA setting: explicit True/False wins; None enables it only with a TPU, or with a GPU
    on one replica.

    On this project's 2-core CPU machines XLA compiled the train step in ~6 s against ~1.8 s
    and ran no faster per epoch (0.127 s vs 0.110 s on churn), so it is off on CPU. Keras 3's
    XLA train step under a multi-replica MirroredStrategy reads other replicas' variables
    from the first device, which XLA refuses ("Trying to access resource ... located in
    device"; keras-team/keras#19005, also seen here on 2 logical CPUs), so it is off there too.
    """
    if jit_compile is not None:
        return bool(jit_compile)
    import tensorflow as tf

    if tf.config.list_logical_devices("TPU"):
        return True
    return bool(tf.config.list_logical_devices("GPU")) and replicas == 1


#: settings used only after training (sampling, bank pruning, the guide's floor): a run
#: may resume with others (the guide's rounds and depth size model variables, so they stay)
_AFTER_TRAINING = ("temperature", "candidates", "bank_keep", "guide_quantile", "float_tensors")


def _fingerprint(config: TrainConfig, encoding: Encoding, source) -> dict[str, Any]:
    """What must match for a checkpoint to continue this run (epochs may grow; XLA may vary;
    the settings of `_AFTER_TRAINING`, and the shuffle buffer of a run held in memory, which
    has none, may change)."""
    cfg = config.to_json()
    for key in ("epochs", "jit_compile", *_AFTER_TRAINING):
        cfg.pop(key, None)
    if not getattr(source, "streaming", False):
        cfg.pop("shuffle_buffer", None)
    layout = encoding.layout()  # (a tensor's "draw" is float_tensors: after training too)
    layout["tensors"] = [{k: v for k, v in t.items() if k != "draw"} for t in layout["tensors"]]
    fp = {"config": cfg, "layout": layout, "data": source.fingerprint()}
    return json.loads(json.dumps(fp, default=str))


def _resuming_otherwise(now: str, then: str, remedy: str) -> None:
    """Warns that a run resumed `now` ("on 2 replica(s)"), where its checkpoint was trained
    `then`, ends with slightly other weights than an uninterrupted run's."""
    warn(f"resuming {now}, where the checkpoint was trained {then}: the final weights "
         f"will differ slightly from an uninterrupted run's ({remedy})")


def _check_fingerprint(saved: dict[str, Any], current: dict[str, Any], path: str,
                       release: str | None = None) -> None:
    """`CheckpointError` when the checkpoint at `path` (its fingerprint `saved`, written by
    vae-augment `release`: None for one from before checkpoints recorded it) is not of this
    run; the release is named when it is not this one's (its defaults may differ)."""
    from vae_augment import __version__

    # checkpoints written before a setting left the fingerprint still hold it
    saved = {**saved, "config": {k: v for k, v in saved.get("config", {}).items()
                                 if k in current.get("config", {})
                                 or k not in (*_AFTER_TRAINING, "shuffle_buffer")}}
    if saved == current:
        return
    diffs = []
    for part in ("config", "layout", "data"):
        a, b = saved.get(part, {}), current.get(part, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                diffs.append(f"{part}.{key}: checkpoint {a.get(key)!r}, now {b.get(key)!r}")
    from vae_augment.checkpoint import CheckpointError

    # settings alone: the same data, so perhaps a default changed since the checkpoint was
    # written (an earlier release's) and the run can go on with the checkpoint's values
    settings = all(d.startswith("config.") for d in diffs)
    written = ("" if release == __version__ else
               ", written by an earlier vae-augment," if release is None else
               f", written by vae-augment {release} (this is {__version__}),")
    raise CheckpointError(
        f"checkpoint '{path}'{written} belongs to a different run ({'; '.join(diffs[:4])}); "
        + ("to go on with it, give the checkpoint's settings (a default may have changed "
           "since it was written); else " if settings else "")
        + f"drop {option('resume', True)} or use another {option('checkpoint_dir')}"
    )


def _class_rows(source, encoding: Encoding) -> dict[str, int] | None:
    """The data's rows per class (``{str(class): rows}``), recorded with a checkpoint: a
    resume on other data of the same row count is refused (an order-free check: a streamed
    run may read its rows in another order). None for a source that cannot count them."""
    if not hasattr(source, "class_rows"):
        return None
    counts = source.class_rows(len(encoding.classes))
    return {str(c): int(n) for c, n in zip(encoding.classes, counts)}


def _check_class_rows(saved: dict[str, int], current: dict[str, int], path: str) -> None:
    """`CheckpointError` naming the classes whose rows differ from the checkpoint's."""
    if saved == current:
        return
    from vae_augment.checkpoint import CheckpointError
    from vae_augment.errors import items_note

    diffs = [f"class {c!r}: checkpoint {saved.get(c, 0):,} rows, now {current.get(c, 0):,}"
             for c in dict.fromkeys([*saved, *current]) if saved.get(c, 0) != current.get(c, 0)]
    raise CheckpointError(
        f"checkpoint '{path}' was trained on other data ({items_note(diffs, 5, '; ')}); give "
        f"the data it was trained on, or drop {option('resume', True)} to train afresh")


def _watched(state: dict[str, Any], monitor: str) -> str:
    """What a resumed run's early stopping watches: what its checkpoint's did. Checkpoints
    record it; an older one of a run below KL weight 1 whose epochs have no weighted bound
    (``beta_neg_elbo``) was written before early stopping watched it (2026-12-04), and
    watched the -ELBO: its best value is one, and the bound is always lower."""
    saved = state["early"].get("monitor")
    if saved is not None:
        return saved
    history = state.get("history") or {}
    if monitor.endswith("beta_neg_elbo") and history.get("loss") and "beta_neg_elbo" not in history:
        return monitor.replace("beta_neg_elbo", "neg_elbo")
    return monitor


def _image_tensors(encoding: Encoding) -> dict[int, tuple[str, list[int]]]:
    out = {}
    for i, s in enumerate(encoding.tensors):
        shape = list(s.shape)
        if len(shape) == 2 or (len(shape) == 3 and shape[-1] <= 4):
            out[i] = (s.name, shape)
    return out


def _write_encoding(directory: str, encoding: Encoding) -> None:
    path = os.path.join(directory, "encoding.json")
    if os.path.exists(path):
        return
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump(encoding.to_json(), f)
        os.replace(tmp, path)
    except BaseException:  # Ctrl-C mid-dump (the first checkpoint's): no orphan left
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _guide_rows(source) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Up to `guide.GUIDE_MAX_ROWS` training rows and as many validation rows of `source`
    (in memory: all of them; streamed: the first of one shuffled epoch and of the file-order
    validation pass, so memory stays bounded)."""
    from vae_augment.guide import GUIDE_MAX_ROWS

    if not source.streaming:
        return source.train, source.val

    def take(batches):
        parts, n = [], 0
        for batch in batches:
            parts.append(batch)
            n += len(batch["y"])
            if n >= GUIDE_MAX_ROWS:
                break
        return {k: np.concatenate([p[k] for p in parts])[:GUIDE_MAX_ROWS]
                for k in parts[0]} if parts else None

    return take(source.iter_train(4096, 0, 1)), (
        take(source.iter_validation(4096)) if source.n_val else None)


def _dequantized(layout, arrays, table, seed) -> dict[str, np.ndarray] | None:
    """`arrays` with their numerics dequantized as training saw them (unchanged when `table`
    is None), so the class guide learns the real rows where the model's draws land."""
    if arrays is None or table is None or not len(arrays["y"]):
        return arrays
    import tensorflow as tf

    from vae_augment import distributions as D

    x = {k: arrays[k] for k in ("num", "nulls") if k in arrays}
    seed = seed if tf.is_tensor(seed) else tf.constant(seed, tf.int32)
    return {**arrays, "num": D.dequantize_numeric(layout, x, table, seed).numpy()}


def replica_batches(batch_size: int, n_train: int, n_val: int, replicas: int) -> tuple[int, int]:
    """(training, validation) global batch sizes. On one device: `batch_size`, or all the
    training rows when there are fewer. On several replicas each batch is split between
    them: Keras builds the model on the first batch of each split, whose shares must be
    equal, so a batch is a multiple of `replicas`; and a last batch must give every replica a
    row (a convolution fails on an empty share), so the batch shrinks by `replicas` until the
    rows left over for it are none or at least `replicas`. A last batch may still split
    unevenly: `ConditionalVAE.compute_loss` weighs every row alike however it splits."""
    train = min(batch_size, n_train)
    if replicas == 1:
        return train, train

    def fitted(b: int, n: int) -> int:
        b = max(replicas, b - b % replicas)
        while b > replicas and 0 < n % b < replicas:
            b -= replicas
        return b

    train = fitted(train, n_train)
    return train, fitted(min(train, n_val), n_val) if n_val else train


def _dequantized_validation(layout, source, batch_size: int, table, seed):
    """The validation batches dequantized as training batches are, with the same noise on
    every pass (batch i's seed is (seed, 2**20 + i)), so that early stopping compares epochs
    on the objective the model is trained on, not on the ties' midpoints. In memory the
    spread rows are computed once: a map in the pipeline costs about 15 ms per pass on CPU,
    mostly to set it up, which was 29 % of a churn epoch (session 13). Streamed, each pass
    maps its batches (about 0.5 ms per batch beyond that)."""
    if table is None or not source.n_val:
        return source.validation_dataset(batch_size)
    import tensorflow as tf

    from vae_augment import distributions as D

    def batch_seed(i):
        return tf.stack([tf.constant(seed, tf.int64), tf.cast(i, tf.int64) + 2**20])

    if not source.streaming:
        val = source.val
        parts = [_dequantized(layout, {k: v[a:a + batch_size] for k, v in val.items()}, table,
                              batch_seed(i))["num"]
                 for i, a in enumerate(range(0, len(val["y"]), batch_size))]
        return source.validation_dataset(batch_size, rows={**val, "num": np.concatenate(parts)})

    def spread_batch(i, x):
        return {**x, "num": D.dequantize_numeric(layout, x, table, batch_seed(i))}

    return source.validation_dataset(batch_size).enumerate().map(spread_batch)


_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def global_rng_preserved():
    """Gives back the global random state on leaving: Python's, NumPy's and TensorFlow's
    global seed (training seeds all three, as `keras.utils.set_random_seed` does), so a
    caller's own random draws continue as if no training had run.

    It also runs its body under one process-wide lock. The seeding is process-wide, so two
    trainings in threads of one process (e.g. scikit-learn's threading backend) would
    interleave and lose their reproducibility; they run one at a time instead.
    """
    with _RNG_LOCK:
        np_state = np.random.get_state()
        py_state = random.getstate()
        tf_state = _tf_seed_state()
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
            _restore_tf_seed_state(tf_state)


def _tf_seed_state():
    """TensorFlow's eager global seed and op-seed generator, and Keras' global seed
    generator (private attributes: None when this TF or Keras version lacks them)."""
    if "tensorflow" not in sys.modules:
        return None
    from tensorflow.python.eager import context

    ctx = context.context()
    if not (hasattr(ctx, "_seed") and hasattr(ctx, "_rng")):
        return None
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    rng = ctx._rng
    return (ctx._seed, None if rng is None else rng.getstate(),
            global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR))


def _restore_tf_seed_state(state) -> None:
    if state is None:
        return
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from tensorflow.python.eager import context

    seed, rng_state, generator = state
    ctx = context.context()
    ctx._seed = seed
    if rng_state is None:
        ctx._rng = None
    else:
        ctx._rng = random.Random()
        ctx._rng.setstate(rng_state)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, generator)


def _rng_preserved(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with global_rng_preserved():
            return fn(*args, **kwargs)

    return wrapper


def _has_event_files(log_dir: str) -> bool:
    """Whether `log_dir` or the subdirectories we write (train, validation, diagnostics)
    hold TensorBoard event files."""
    for sub in ("", "train", "validation", "diagnostics"):
        d = os.path.join(log_dir, sub)
        if os.path.isdir(d) and any(n.startswith("events.out.tfevents") for n in os.listdir(d)):
            return True
    return False


#: what Keras 3's `fit` raises under MultiWorkerMirroredStrategy (a dict or tuple batch it
#: cannot average, a replica all-reduce with no destinations, a scalar log reduced on axis 0)
_KERAS_MWMS = ("PerReplica", "destinations can not be empty", "Invalid reduction dimension")


def start_at_marginals(model, rows: Mapping[str, np.ndarray]) -> None:
    """Starts `model`'s null-indicator and category heads at the marginals of training rows
    `rows` (encoded; ``nulls`` and ``cat`` are read): each indicator's bias at its share's
    log-odds, each categorical column's biases at its codes' log-frequencies (half a row
    added to every count, so no logit is infinite). At a bias of 0 a head starts at even
    odds, and a short fit does not get far from them: on 120-row tables with a column null in
    1 row (0.8 %), synthetic rows were null in 2.5 % (median of 4 seeds; 9.2 % where early
    stopping ended the fit at 55 epochs), and 1.0 % with this start; a category of 1 row in
    2.1 % against 0.8 %. At 1,000 rows the two are level (`benchmarks/explore/head_start.py`).
    The weights, which read the latent code, start as Keras draws them."""
    n = len(rows["y"])
    if n == 0:
        return
    if model.null_head is not None:
        share = (np.asarray(rows["nulls"], np.float64).sum(axis=0) + 0.5) / (n + 1.0)
        model.null_head.bias.assign((np.log(share) - np.log1p(-share)).astype(np.float32))
    if model.cat_head is not None:
        codes, parts = np.asarray(rows["cat"]), []
        for j, size in enumerate(model.layout["cat_sizes"]):
            column = codes[:, j]
            log_freq = np.log(np.bincount(column[column >= 0], minlength=size)[:size] + 0.5)
            parts.append(log_freq - log_freq.mean())
        model.cat_head.bias.assign(np.concatenate(parts).astype(np.float32))


@_rng_preserved
def train_model(
    encoding: Encoding,
    arrays,
    config: TrainConfig,
    *,
    verbose: int | str = "auto",
    strategy=None,
    callbacks: Sequence[Any] = (),
    checkpoint_dir: str | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    tensorboard: str | None = None,
):
    """Trains a `ConditionalVAE`; returns (model, metrics dict).

    Uses a seeded validation split, KL warm-up and early stopping on the validation negative
    ELBO (restoring the best weights). Training seeds Python, NumPy, TensorFlow and Keras
    (`set_determinism`); the caller's Python and NumPy global RNG states are given back
    afterwards, TensorFlow's global seed stays `config.seed`. Epoch ``e`` visits the training rows in an order that
    depends only on ``(config.seed, e)``, so a run resumed from a checkpoint reaches the same
    weights as an uninterrupted one.

    Args:
        encoding: the fitted encoding.
        arrays: encoded arrays (`Encoding.encode` output) held in memory, or a data source
            from `vae_augment.streaming` (`ParquetSource` streams Parquet row groups).
        config: hyperparameters; ``config.precision`` sets the Keras dtype policy. A
            ``config.beta`` of None is set to the weight trained with (`default_beta`).
        verbose: Keras progress verbosity (0 also silences the strategy line on stderr).
        strategy: a `tf.distribute.Strategy`, a name for `vae_augment.strategy.
            resolve_strategy` (``auto``, ``default``, ``mirrored``, ``tpu``,
            ``multi-worker``), or None for the current strategy.
        callbacks: extra Keras callbacks.
        checkpoint_dir: where checkpoints go (required with `checkpoint_every` or `resume`).
        checkpoint_every: save a checkpoint every this many training steps.
        resume: continue from the newest checkpoint in `checkpoint_dir` (start from scratch
            when there is none); the interval stored there applies unless one is given.
        tensorboard: log directory for TensorBoard (loss terms, per-dimension KL, active
            units, sample grids of image columns).

    Example:
        >>> enc = fit_encoding("data.parquet", "y")                         # doctest: +SKIP
        >>> model, metrics = train_model(enc, encode_all(enc, "data.parquet"),
        ...                              TrainConfig(epochs=20), checkpoint_dir="ckpt",
        ...                              checkpoint_every=500, resume=True)  # doctest: +SKIP
    """
    import tensorflow as tf

    from vae_augment import __version__
    from vae_augment import callbacks as cb
    from vae_augment._keras import keras
    from vae_augment.artifact import FORMAT_VERSION
    from vae_augment.checkpoint import (
        assign_variables,
        clear_checkpoints,
        latest_checkpoint,
        load_checkpoint,
        remove_partial,
        save_checkpoint,
        variable_values,
    )
    from vae_augment.model import ConditionalVAE
    from vae_augment.strategy import (
        is_chief,
        is_multi_worker,
        loss_scale_optimizer,
        precision_scope,
        resolve_strategy,
    )
    from vae_augment.streaming import InMemorySource

    if checkpoint_every is not None and (
        not isinstance(checkpoint_every, (int, np.integer)) or checkpoint_every < 1
    ):
        raise VAEAugmentError(
            f"{arg('checkpoint_every')} must be a positive integer, got {checkpoint_every!r}"
        )
    if (checkpoint_every or resume) and checkpoint_dir is None:
        raise VAEAugmentError(f"{arg('checkpoint_dir')} is required with "
                              f"{arg('checkpoint_every')} or {arg('resume')}")

    set_determinism(config.seed)
    if hasattr(arrays, "train_dataset"):
        source = arrays
    else:
        source = InMemorySource(arrays, validation_split=config.validation_split, seed=config.seed)
    strategy = (
        tf.distribute.get_strategy() if strategy is None
        else resolve_strategy(strategy, log=verbose not in (0, False))
    )
    chief = is_chief(strategy)
    batch_size, val_batch = replica_batches(config.batch_size, source.n_train, source.n_val,
                                            strategy.num_replicas_in_sync)
    steps = math.ceil(source.n_train / batch_size)
    beta_by_rows = config.beta is None
    if beta_by_rows:  # the weight used, in the fingerprint and the artifact's config
        config.beta = default_beta(source.n_train + source.n_val, bool(encoding.tensors))
    fingerprint = _fingerprint(config, encoding, source)
    tie_table = encoding.tie_halfwidths() if config.dequantize else None

    state: dict[str, Any] | None = None
    saved: dict[str, dict[str, np.ndarray]] = {}
    class_rows = None
    if resume:
        if chief:  # a save the interrupted run never finished: a whole model's size each
            remove_partial(checkpoint_dir)
        path = latest_checkpoint(checkpoint_dir)
        if path is None:
            print(f"vae-augment: no checkpoint in '{checkpoint_dir}'; starting from scratch",
                  file=sys.stderr)
        else:
            state, saved = load_checkpoint(path)
            _check_fingerprint(state.get("fingerprint", {}), fingerprint, path,
                               state.get("vae_augment_version"))
            if state.get("class_rows") is not None:  # an earlier release's has none
                class_rows = _class_rows(source, encoding)
                if class_rows is not None:
                    _check_class_rows(state["class_rows"], class_rows, path)
            finished = (state["early"]["stopped_epoch"] is not None
                        or state["epoch"] >= config.epochs)
            where = ("a finished run: nothing left to train" if finished else
                     f"epoch {state['epoch'] + 1}, step {state['step']} of {steps}")
            print(f"vae-augment: resuming from '{path}' ({where})", file=sys.stderr)
    elif checkpoint_every and chief:
        clear_checkpoints(checkpoint_dir)
    if tensorboard and chief and state is None and _has_event_files(tensorboard):
        warn(
            f"TensorBoard directory '{tensorboard}' already holds an earlier run's event "
            f"files; TensorBoard draws both runs as one. Give each run its own "
            f"{arg('tensorboard')} directory")
    every = checkpoint_every or (state or {}).get("checkpoint_every")
    if every and chief and class_rows is None:  # one label pass of a streamed run
        class_rows = _class_rows(source, encoding)

    jit = resolve_jit(config.jit_compile, strategy.num_replicas_in_sync)
    # the classes in their own type (the int class 28 as 28, not '28')
    rare = {c: n for c, n in encoding.class_counts.items() if 0 < n < RARE_CLASS_ROWS}
    if rare and chief and state is None:
        warn(
            f"class(es) {counts_note(rare)} have fewer than {RARE_CLASS_ROWS} rows: the model "
            f"learns little of them, and many of their synthetic rows may look like other "
            f"classes' rows (a 2-row class: 89 % did, 72 % with the guided setting); check "
            f"them (`evaluate`), or copy such a class's rows instead (random oversampling)")
    small = small_classes(encoding.class_counts, config.beta) if beta_by_rows else {}
    if small and chief and state is None:
        # a warning, not a print: a VAEOverSampler(verbose=0) in a cross-validation printed
        # it at every fold, past any warnings filter
        warn(f"KL weight {config.beta:g}, the default for a table of "
             f"{source.n_train + source.n_val} rows; class(es) {counts_note(small)} have "
             f"fewer than {SMALL_CLASS_ROWS} rows, and at this weight such a class's synthetic "
             f"rows come out nearer the other classes' rows (a 10-row class's share of nulls in "
             f"a column was off by 0.20, against 0.04 at {DEFAULT_BETA:g}); "
             f"{option('beta', DEFAULT_BETA)} keeps more of their own rows' traits, and "
             f"places their rows nearer their training rows")
    replicas = int(strategy.num_replicas_in_sync)
    if state is not None and state.get("replicas", replicas) != replicas:
        _resuming_otherwise(f"on {replicas} replica(s)", f"on {state['replicas']}",
                            "a batch's shares are summed in another order; resume on as many "
                            "replicas to match")
    default_buffer = TrainConfig.__dataclass_fields__["shuffle_buffer"].default
    if (not source.streaming and config.shuffle_buffer != default_buffer and chief
            and state is None):
        print(f"vae-augment: note: {arg('shuffle_buffer')} has no effect on a run held in "
              f"memory (every epoch shuffles all its rows); it sets the buffer of a streamed "
              f"one ({option('streaming', True)})", file=sys.stderr)
    if batch_size != min(config.batch_size, source.n_train) and chief and state is None:
        print(f"vae-augment: training with a global batch of {batch_size} rows, not "
              f"{config.batch_size}: on {replicas} replicas a batch is a multiple of their "
              f"number, and the last one gives each of them a row", file=sys.stderr)
    if state is not None and state.get("jit_compile", jit) != jit:
        # XLA is left out of the fingerprint (a run may resume on other hardware), but it
        # changes the numbers a little
        _resuming_otherwise(f"with XLA {'on' if jit else 'off'}",
                            f"with it {'on' if state['jit_compile'] else 'off'}",
                            "resume with the same XLA setting to match")
    from vae_augment.guide import GUIDE_MAX_TENSOR_VALUES, guide_width

    layout = encoding.layout()
    guide_iterations, candidates = config.guide_iterations, config.candidates
    if guide_iterations and not guide_width(layout):
        # tensors of more than guide.GUIDE_MAX_TENSOR_VALUES values are no guide features:
        # a guide of an image-only table would see nothing
        guide_iterations, candidates = 0, 1
        if chief and state is None:
            print(f"vae-augment: note: the class guide sees no column of this table (tensors "
                  f"of more than {GUIDE_MAX_TENSOR_VALUES} values are not guide features), "
                  f"so the model has none and draws each row once; "
                  f"{option('bank_keep', 0.25)} keeps the stored posteriors the model places "
                  f"most firmly in their class instead, as "
                  f"{'--unguided' if _CLI_WORDING[0] else '**vae_augment.UNGUIDED'} does",
                  file=sys.stderr)
    with precision_scope(config.precision):
        with strategy.scope():
            model = ConditionalVAE(
                layout,
                latent_dim=config.latent_dim,
                hidden=config.hidden,
                class_prior=config.class_prior,
                dropout=config.dropout,
                seed=config.seed,
                beta=config.beta,
                latent_source=config.latent_source,
                bank_size=config.bank_size,
                temperature=config.temperature,
                candidates=candidates,
                num_components=config.num_components,
                guide_iterations=guide_iterations,
                guide_depth=config.guide_depth,
                guide_quantile=config.guide_quantile,
                class_weights=class_weights(
                    [encoding.class_counts[c] for c in encoding.classes], config.class_balance),
                condition_every_layer=config.condition_every_layer,
            )
            model.set_dequantization(tie_table)
            if state is None:  # a resumed run restores its weights
                start_at_marginals(model, source.marginal_rows())
            optimizer = keras.optimizers.Adam(config.learning_rate)
            if config.precision == "mixed_float16":  # loss scaling that holds on replicas
                optimizer = loss_scale_optimizer(optimizer)
            model.compile(optimizer=optimizer, jit_compile=jit)
            # built now so that a checkpoint can hold (and restore) its state
            model.optimizer.build(model.trainable_variables)

        # the objective: the -ELBO, or with a KL weight below 1 the bound it weights (watching
        # the -ELBO then stopped training about twice as soon: quality.md, session 25)
        monitor = ("val_" if source.n_val else "") + (
            "neg_elbo" if config.beta == 1.0 else "beta_neg_elbo")
        watched = monitor if state is None else _watched(state, monitor)
        if watched != monitor:
            # a run resumed from an older release's checkpoint goes on as it began: its
            # early stopping's best is a -ELBO, which the weighted bound always undercut
            monitor = watched
            if chief:
                print(f"vae-augment: note: the checkpoint's run stops early by the -ELBO "
                      f"({monitor}), as vae-augment did before 2026-12-04 for a KL weight "
                      f"below 1, and goes on so (a new run watches the weighted bound it "
                      f"trains)", file=sys.stderr)
        if not source.n_val and config.validation_split > 0 and chief and state is None:
            print(f"vae-augment: warning: {source.n_train} training rows are too few to hold "
                  f"any out for validation (it needs 20): early stopping watches the "
                  f"training loss, and there is no validation ELBO", file=sys.stderr)
        early = cb.EarlyStopping(
            monitor, patience=config.patience, start_from_epoch=config.kl_warmup_epochs
        )
        epoch = step = global_step = 0
        history: dict[str, list[float]] = {}
        metric_values = None
        if state is not None:
            with strategy.scope():
                assign_variables(model.variables, saved["model"], "model")
                assign_variables(model.optimizer.variables, saved["optimizer"], "optimizer")
            best = saved.get("best")
            best_weights = [best[f"v{i:05d}"] for i in range(len(best))] if best else None
            early.set_state(state["early"], best_weights)
            epoch, step, global_step = state["epoch"], state["step"], state["global_step"]
            history = state["history"]
            if step and "metrics" in saved:
                metric_values = [saved["metrics"][f"v{i:05d}"] for i in range(len(saved["metrics"]))]

        def save() -> None:
            _write_encoding(checkpoint_dir, encoding)
            best = early.best_weights
            save_checkpoint(
                checkpoint_dir,
                global_step=tracker.global_step,
                state={
                    "epoch": tracker.epoch,
                    "step": tracker.step,
                    "global_step": tracker.global_step,
                    "steps_per_epoch": steps,
                    "history": tracker.history,
                    "early": early.get_state(),
                    "checkpoint_every": every,
                    "fingerprint": fingerprint,
                    "jit_compile": jit,
                    "replicas": int(strategy.num_replicas_in_sync),
                    # the time trained so far, so a resumed run reports the whole run's time
                    "train_seconds": earlier_seconds + (time.perf_counter() - start),
                    # the release that wrote it, named when a resume is refused; the format
                    # of its encoding.json (the artifact's)
                    "vae_augment_version": __version__,
                    "format_version": FORMAT_VERSION,
                    "class_rows": class_rows,  # `fit --resume` refuses other data by it
                },
                arrays={
                    "model": variable_values(model.variables),
                    "optimizer": variable_values(model.optimizer.variables),
                    "metrics": variable_values(tracker.metric_variables()),
                    "best": None if best is None else {
                        f"v{i:05d}": np.asarray(w) for i, w in enumerate(best)
                    },
                },
            )

        tracker = cb.RunTracker(
            steps_per_epoch=steps,
            every=every,
            save=save if (every and chief) else None,
            epoch=epoch,
            step=step,
            global_step=global_step,
            history=history,
            metric_values=metric_values,
        )
        cbs = [cb.KLWarmup(config.kl_warmup_epochs),
               *([cb.WeightedBound(config.beta)] if monitor.endswith("beta_neg_elbo") else []),
               cb.NonFiniteLoss(monitor, config.learning_rate), early, *callbacks]
        if tensorboard and chief:
            cbs.append(cb.TensorBoardLogger(tensorboard))
            cbs.append(cb.Diagnostics(
                tensorboard, source.probe(), image_tensors=_image_tensors(encoding),
                n_classes=len(encoding.classes), seed=config.seed,
            ))
        cbs.append(tracker)  # last: its epoch-end save sees the early-stopping update

        plan = []
        if early.stopped_epoch is None and epoch < config.epochs:
            if step:  # finish the interrupted epoch, then the rest
                plan.append((epoch, epoch + 1, steps - step, step))
                if epoch + 1 < config.epochs:
                    plan.append((epoch + 1, config.epochs, steps, 0))
            else:
                plan.append((epoch, config.epochs, steps, 0))
        val_ds = _dequantized_validation(encoding.layout(), source, val_batch, tie_table,
                                         config.seed)
        if (val_ds is not None and not source.streaming and model.one_level_functions()
                and not cb.Validation.uses_keras_validation(cbs)):
            # the same metrics from the batches held in memory, without an `evaluate` call
            # each epoch (cb.Validation); first, so the callbacks after it read them
            cbs.insert(0, cb.Validation(val_ds))
            val_ds = None
        earlier_seconds = float((state or {}).get("train_seconds", 0.0))
        start = time.perf_counter()
        for e0, e1, n_steps, skip in plan:
            tracker.offset = skip
            try:
                model.fit(
                    source.train_dataset(batch_size, e0, e1, skip),
                    validation_data=val_ds,
                    initial_epoch=e0,
                    epochs=e1,
                    steps_per_epoch=n_steps,
                    callbacks=cbs,
                    shuffle=False,  # the data source orders every epoch (seeded)
                    verbose=verbose,
                )
            except Exception as exc:
                failure = getattr(source, "failure", None)
                if failure is not None:  # a bad row met while streaming: its own one line
                    raise failure from exc
                # XLA x MirroredStrategy: see resolve_jit
                if jit and strategy.num_replicas_in_sync > 1 and "Trying to access resource" in str(exc):
                    raise VAEAugmentError(
                        f"XLA (--jit / jit_compile=True) failed on "
                        f"{strategy.num_replicas_in_sync} replicas: Keras 3 cannot compile a "
                        f"MirroredStrategy train step (keras-team/keras#19005); train without "
                        f"it (the default on several replicas)") from exc
                if is_multi_worker(strategy) and any(part in str(exc) for part in _KERAS_MWMS):
                    raise VAEAugmentError(
                        f"multi-worker training failed at its first step: Keras "
                        f"{keras.__version__}'s `fit` cannot run under "
                        f"MultiWorkerMirroredStrategy on TensorFlow {tf.__version__} (a plain "
                        f"Keras Sequential model fails the same way; tensorflow/tensorflow#72388); "
                        f"train on one machine (--strategy mirrored over its GPUs, or tpu)"
                    ) from exc
                raise
            if early.stopped_epoch is not None:
                break
        seconds = earlier_seconds + (time.perf_counter() - start)
        if every and chief and plan:
            save()  # the finished run: a later --resume restores instead of retraining
        if early.best_weights is not None:
            model.set_weights(early.best_weights)
        model.kl_weight.assign(1.0)

    if config.precision != "float32":
        # the artifact is used in float32 (a loaded model gets the default policy); return
        # the same float32 model here so in-memory and loaded sampling agree (built under
        # the float32 policy: the caller's own global policy may be a mixed one)
        trained = model
        with precision_scope("float32"):
            model = ConditionalVAE.from_config({**trained.get_config(), "dtype": "float32"})
        model.set_weights(trained.get_weights())

    guide = None
    if guide_iterations:
        start_guide = time.perf_counter()
        rows, held = _guide_rows(source)
        rows = _dequantized(encoding.layout(), rows, tie_table, [config.seed, 1])
        held = _dequantized(encoding.layout(), held, tie_table, [config.seed, 2])
        guide = model.fit_guide(rows, floor_arrays=held, seed=config.seed,
                                progress=False if verbose in (0, False) else None)
        guide["guide_seconds"] = round(time.perf_counter() - start_guide, 3)

    if config.latent_source == "posterior" and chief:
        unseen = [str(c) for c, f in zip(encoding.classes, model.bank_filled.numpy())
                  if f == 0 and encoding.class_counts.get(c, 0) > 0]
        if unseen:  # a streamed split holds rows out one by one: a class of at least
            # streaming.RARE_CLASS_ROWS rows may (rarely) lose them all
            print(f"vae-augment: warning: class(es) {unseen} had no training row (every row "
                  f"of them was held out for validation): their synthetic rows come from the "
                  f"class prior, which nothing trained; give them more rows, or fit with "
                  f"{option('validation_split', 0)}", file=sys.stderr)
    if config.latent_source == "posterior" and config.bank_keep < 1.0:
        kept = model.prune_bank(config.bank_keep, [encoding.class_counts[c] for c in encoding.classes],
                                seed=config.seed,
                                progress=False if verbose in (0, False) else None)
    else:
        kept = None

    hist = tracker.history
    if early.best_epoch is not None:
        best_index = int(early.best_epoch)
    else:  # training ended within the KL warm-up: the last epoch's weights are kept
        best_index = len(hist.get("loss", [0])) - 1
    metrics = {
        "epochs_run": len(hist.get("loss", [])),
        "best_epoch": best_index + 1,
        "train_seconds": round(seconds, 3),
        "train_rows": int(source.n_train),
        "validation_rows": int(source.n_val),
        "steps_per_epoch": int(steps),
        "global_step": int(tracker.global_step),
        "replicas": int(strategy.num_replicas_in_sync),
        "batch_size": int(batch_size),  # the global batch trained with (see replica_batches)
        "streaming": bool(source.streaming),
    }
    if config.class_balance:  # the loss and the neg_elbo metrics weigh rows by class
        metrics["class_weighted_elbo"] = True
    if kept is not None:
        metrics["bank_kept"] = kept
    if guide is not None:
        metrics.update(guide)
    if state is not None:
        metrics["resumed_from_step"] = int(state["global_step"])
    for key, values in hist.items():
        if values:
            metrics[key] = float(values[min(best_index, len(values) - 1)])
    # every epoch's figures, as Keras' `History.history` (`Artifact.history`; the evaluation
    # report draws them); a non-finite value (a diverged epoch) is None, which JSON keeps
    metrics["history"] = {key: [float(v) if np.isfinite(v) else None for v in values]
                          for key, values in hist.items() if values}
    return model, metrics
