"""Fitting: the encoding (one streaming pass) and the model (Keras `fit`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from vae_augment.encoding import Encoding
from vae_augment.errors import VAEAugmentError
from vae_augment.io import iter_batches, read_schema, resolve_inputs
from vae_augment.schema import DEFAULT_MAX_CATEGORIES, SchemaStats

__all__ = [
    "TrainConfig", "fit_encoding", "encode_all", "train_model", "set_determinism", "resolve_jit",
]


@dataclasses.dataclass
class TrainConfig:
    """Training hyperparameters (all keyword arguments of `vae_augment.fit`)."""

    epochs: int = 300
    batch_size: int = 256
    latent_dim: int = 16
    hidden: tuple[int, ...] = (256, 256)
    learning_rate: float = 1e-3
    kl_warmup_epochs: int = 10
    patience: int = 20
    validation_split: float = 0.1
    class_prior: bool = True
    dropout: float = 0.0
    seed: int = 0
    jit_compile: bool | None = None  # None: XLA on GPU/TPU, off on CPU (measured slower there)

    def __post_init__(self):
        for name in ("epochs", "batch_size", "latent_dim"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise VAEAugmentError(f"`{name}` must be a positive integer, got {value!r}")
        if not 0.0 <= self.validation_split < 1.0:
            raise VAEAugmentError(
                f"`validation_split` must be in [0, 1), got {self.validation_split!r}"
            )
        self.hidden = tuple(int(h) for h in self.hidden)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d


def fit_encoding(
    inputs,
    label: str,
    *,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> Encoding:
    """Fits the encoding in one streaming pass over `inputs` (paths, a glob, or a table)."""
    if isinstance(inputs, (pa.Table, pa.RecordBatch)):
        schema = inputs.schema
        batches = inputs.to_batches() if isinstance(inputs, pa.Table) else [inputs]
    else:
        paths = resolve_inputs(inputs)
        schema = read_schema(paths)
        batches = iter_batches(paths)
    stats = SchemaStats(
        schema, label, exclude=exclude, categorical=categorical, numeric=numeric,
        max_categories=max_categories,
    )
    for batch in batches:
        stats.update(batch)
    specs = stats.finalize()
    classes = sorted(stats.label_counts, key=lambda v: (str(type(v)), v))
    return Encoding(specs, label, classes, stats.label_counts, schema)


def encode_all(encoding: Encoding, inputs) -> dict[str, np.ndarray]:
    """Encodes every row of `inputs` (paths or a table) into in-memory arrays."""
    if isinstance(inputs, (pa.Table, pa.RecordBatch)):
        return encoding.encode(inputs)
    parts = [encoding.encode(b) for b in iter_batches(resolve_inputs(inputs))]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def set_determinism(seed: int) -> None:
    """Seeds Python, NumPy, TensorFlow and Keras.

    TF's `enable_op_determinism` is not switched on: Keras then refuses XLA. On CPU the
    compiled train step is deterministic for a fixed seed (tested: same seed, same bytes).
    """
    import keras

    keras.utils.set_random_seed(int(seed))


def resolve_jit(jit_compile: bool | None) -> bool:
    """XLA setting: explicit True/False wins; None enables it only with a GPU or TPU.

    On this project's 2-core CPU machines XLA compiled the train step in ~6 s against ~1.8 s
    and ran no faster per epoch (0.127 s vs 0.110 s on churn), so it is off on CPU.
    """
    if jit_compile is not None:
        return bool(jit_compile)
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


class _KLWarmup:
    """Linear KL annealing from 1/warmup to 1 over the first `warmup` epochs."""

    @staticmethod
    def callback(model, warmup: int):
        import keras

        class KLWarmup(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                w = 1.0 if warmup <= 0 else min(1.0, (epoch + 1) / warmup)
                model.kl_weight.assign(w)

        return KLWarmup()


def train_model(
    encoding: Encoding,
    arrays: Mapping[str, np.ndarray],
    config: TrainConfig,
    *,
    verbose: int | str = "auto",
    strategy=None,
    callbacks: Sequence[Any] = (),
):
    """Trains a `ConditionalVAE` on encoded `arrays`; returns (model, metrics dict).

    Uses a seeded validation split, KL warm-up and early stopping on the validation
    negative ELBO (restoring the best weights).
    """
    import keras
    import tensorflow as tf

    from vae_augment.model import ConditionalVAE

    set_determinism(config.seed)
    n = len(arrays["y"])
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(n)
    n_val = int(round(n * config.validation_split)) if n >= 20 else 0
    val_idx, train_idx = order[:n_val], order[n_val:]
    train = {k: v[train_idx] for k, v in arrays.items()}
    val = {k: v[val_idx] for k, v in arrays.items()} if n_val else None
    batch_size = min(config.batch_size, len(train_idx))

    def dataset(d, shuffle):
        ds = tf.data.Dataset.from_tensor_slices(dict(d))
        if shuffle:
            ds = ds.shuffle(len(d["y"]), seed=config.seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = ConditionalVAE(
            encoding.layout(),
            latent_dim=config.latent_dim,
            hidden=config.hidden,
            class_prior=config.class_prior,
            dropout=config.dropout,
            seed=config.seed,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            jit_compile=resolve_jit(config.jit_compile),
        )
    monitor = "val_neg_elbo" if val is not None else "neg_elbo"
    cbs = [
        _KLWarmup.callback(model, config.kl_warmup_epochs),
        keras.callbacks.EarlyStopping(
            monitor=monitor,
            mode="min",
            patience=config.patience,
            restore_best_weights=True,
            start_from_epoch=config.kl_warmup_epochs,
        ),
        *callbacks,
    ]
    start = time.perf_counter()
    history = model.fit(
        dataset(train, True),
        validation_data=dataset(val, False) if val is not None else None,
        epochs=config.epochs,
        callbacks=cbs,
        shuffle=False,  # the tf.data pipeline shuffles (seeded)
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    model.kl_weight.assign(1.0)
    hist = history.history
    best = int(np.argmin(hist[monitor])) if hist.get(monitor) else len(hist["loss"]) - 1
    metrics = {
        "epochs_run": len(hist["loss"]),
        "best_epoch": best + 1,
        "train_seconds": round(seconds, 3),
        "train_rows": int(len(train_idx)),
        "validation_rows": int(n_val),
    }
    for key, values in hist.items():
        metrics[key] = float(values[best])
    return model, metrics
