"""Keras callbacks of the training loop, each with state that survives a checkpoint.

* `KLWarmup`: linear KL annealing; a function of the epoch only, so it resumes by itself.
* `EarlyStopping`: Keras semantics (min mode, ``start_from_epoch``, best weights kept), with
  `get_state`/`set_state`, and best weights restored by the caller at the very end (a resumed
  run calls `fit` twice, and Keras' own callback would restore them after the first call).
* `Validation`: the validation metrics of each epoch, as Keras' `evaluate` computes them, from
  batches held in memory in one `tf.function` call.
* `RunTracker`: history across `fit` calls, global step, checkpoint every N steps, and the
  metric accumulators of an epoch interrupted mid-way.
* `Diagnostics`: TensorBoard scalars of the KL weight, per-dimension KL and active units, and
  sample grids for image columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from vae_augment._keras import keras

__all__ = [
    "KLWarmup", "NonFiniteLoss", "EarlyStopping", "Validation", "RunTracker", "Diagnostics",
    "TensorBoardLogger", "SummaryWriter", "ACTIVE_UNIT_NATS",
]

ACTIVE_UNIT_NATS = 0.01  # a latent dimension whose mean KL exceeds this is "active"


class KLWarmup(keras.callbacks.Callback):
    """Sets ``model.kl_weight`` to ``min(1, (epoch + 1) / warmup)`` at each epoch start."""

    def __init__(self, warmup: int):
        super().__init__()
        self.warmup = int(warmup)

    def weight(self, epoch: int) -> float:
        return 1.0 if self.warmup <= 0 else min(1.0, (epoch + 1) / self.warmup)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.kl_weight.assign(self.weight(epoch))


class Validation(keras.callbacks.Callback):
    """Adds the validation metrics to each epoch's logs (``val_loss``, ``val_recon``, ...):
    what Keras' `fit` computes with `validation_data` (metrics reset, `test_step` on each
    batch in order, the metrics' results), bit for bit, without an `evaluate` call that
    makes a new iterator and callback list every epoch. Up to `HOLD_MAX_BATCHES` batches of
    `batches` (a `tf.data.Dataset`) are held as tensors and each goes through one cached
    `tf.function` of `test_step`, traced once for any batch size; more batches, one call of a
    `tf.function` that loops over the dataset in the graph.

    Session 28 unrolled the held batches' steps into one function (on churn 4.9 ms an epoch
    instead of Keras' 12.0; benchmarks/explore/step_profile.py), but tracing cost ~0.18 s a
    batch: a short run paid more than it saved (a test's 2-epoch fit of churn with 8
    validation batches, 2.8 s against 1.75 s now), and 40 default epochs were no faster
    (7.2 s against 6.7 s now, same figures; session 55).

    For validation rows held in memory. It goes first, so that the callbacks after it read
    the keys; `uses_keras_validation` tells when Keras' own pass is needed instead."""

    #: up to this many validation batches are held as tensors, a step function called on
    #: each; beyond, one function loops over the dataset, without a copy of the rows (an
    #: in-memory fit takes up to 2M rows, 780 batches)
    HOLD_MAX_BATCHES = 16

    def __init__(self, batches):
        super().__init__()
        n = int(batches.cardinality())
        self.dataset = batches
        self.batches = ([dict(b) for b in batches] if 0 <= n <= self.HOLD_MAX_BATCHES
                        else None)
        self._run = None

    @staticmethod
    def uses_keras_validation(callbacks) -> bool:
        """Whether a callback hooks Keras' validation pass (``on_test_*``), which a
        `Validation` callback does not run."""
        base = keras.callbacks.Callback
        hooks = ("on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end")
        return any(getattr(type(c), h, None) is not getattr(base, h) for c in callbacks
                   for h in hooks)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.batches == []:
            return
        if self._run is None:
            import tensorflow as tf

            model = self.model

            if self.batches is not None:  # one trace for every batch, the last one's too
                spec = tf.nest.map_structure(
                    lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype),
                    self.dataset.element_spec)
                step = tf.function(model.test_step, input_signature=[spec])

                def stepped(batches):
                    out = None
                    for batch in batches:
                        out = step(batch)
                    return out

                self._run = stepped
            else:
                def looped(dataset):
                    for batch in dataset:  # a graph loop: AutoGraph converts it
                        model.test_step(batch)
                    return model.get_metrics_result()  # what the last test_step returned

                self._run = tf.function(looped)
        self.model.reset_metrics()
        out = self._run(self.batches if self.batches is not None else self.dataset)
        logs.update({"val_" + k: float(v) for k, v in out.items()})


class WeightedBound(keras.callbacks.Callback):
    """Adds ``beta_neg_elbo`` (and ``val_beta_neg_elbo``) to each epoch's logs: the -ELBO
    with its KL term weighted by `beta`, from the tracked ``recon`` and ``kl`` means. It is
    the training objective after the KL warm-up, which early stopping watches when `beta`
    is not 1 (at 1 it is ``neg_elbo``). Goes before the callbacks that read it."""

    def __init__(self, beta: float):
        super().__init__()
        self.beta = float(beta)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for p in ("", "val_"):
            if f"{p}recon" in logs and f"{p}kl" in logs:
                logs[f"{p}beta_neg_elbo"] = (float(logs[f"{p}recon"])
                                             + self.beta * float(logs[f"{p}kl"]))


class NonFiniteLoss(keras.callbacks.Callback):
    """Raises `TrainingDiverged` at the end of an epoch whose loss (or `monitor`) is NaN or
    infinite: the weights are then garbage, and neither they nor an artifact should be
    kept. Checked per epoch, not per step (a per-step check would read the loss back from
    the device every step)."""

    def __init__(self, monitor: str, learning_rate: float):
        super().__init__()
        self.monitor = monitor
        self.learning_rate = learning_rate

    def on_epoch_end(self, epoch, logs=None):
        from vae_augment.errors import TrainingDiverged, option

        logs = logs or {}
        for key in ("loss", self.monitor):
            value = logs.get(key)
            if value is not None and not math.isfinite(float(value)):
                raise TrainingDiverged(
                    f"training diverged: `{key}` is {float(value)} after epoch {epoch + 1}; "
                    f"lower {option('learning_rate')} (now {self.learning_rate:g}) or check "
                    f"the input for extreme values")


class EarlyStopping(keras.callbacks.Callback):
    """Stops when `monitor` has not decreased for `patience` epochs after `start_from_epoch`."""

    def __init__(self, monitor: str, *, patience: int, start_from_epoch: int = 0):
        super().__init__()
        self.monitor = monitor
        self.patience = int(patience)
        self.start_from_epoch = int(start_from_epoch)
        self.wait = 0
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None or epoch < self.start_from_epoch:
            return
        current = float(current)
        if self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if current < self.best:
            self.best, self.best_epoch, self.wait = current, epoch, 0
            self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def get_state(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "monitor": self.monitor}

    def set_state(self, state: Mapping[str, Any], best_weights: list[np.ndarray] | None) -> None:
        self.wait = int(state["wait"])
        self.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        self.best_weights = best_weights


class RunTracker(keras.callbacks.Callback):
    """Counts steps, records per-epoch logs, and calls `save` every `every` global steps.

    A save that falls on the last step of an epoch is taken after that epoch's validation and
    early-stopping update instead, so a checkpoint never sits between an epoch's last batch
    and its end-of-epoch work.
    """

    def __init__(
        self,
        *,
        steps_per_epoch: int,
        every: int | None,
        save: Callable[[], None] | None,
        epoch: int = 0,
        step: int = 0,
        global_step: int = 0,
        history: dict[str, list[float]] | None = None,
        metric_values: list[np.ndarray] | None = None,
    ):
        super().__init__()
        self.steps_per_epoch = int(steps_per_epoch)
        self.every = int(every) if every else None
        self.save = save
        self.epoch = int(epoch)
        self.step = int(step)
        self.offset = int(step)  # batches of the current epoch done before this `fit` call
        self.global_step = int(global_step)
        self.history: dict[str, list[float]] = {k: list(v) for k, v in (history or {}).items()}
        self._metric_values = metric_values
        self._pending = False

    def metric_variables(self) -> list[Any]:
        seen, out = set(), []
        for v in self.model.metrics_variables:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        return out

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        if self._metric_values is not None:  # resuming mid-epoch: the running means so far
            for v, value in zip(self.metric_variables(), self._metric_values):
                v.assign(value)
            self._metric_values = None

    def on_train_batch_end(self, batch, logs=None):
        self.step = self.offset + batch + 1
        self.global_step += 1
        if self.every and self.global_step % self.every == 0 and self.save is not None:
            if self.step < self.steps_per_epoch:
                self.save()
            else:
                self._pending = True

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(float(v))
        self.epoch, self.step, self.offset = epoch + 1, 0, 0
        if self._pending and self.save is not None:
            self._pending = False
            self.save()


def _metadata(plugin: str, data_class: int) -> bytes:
    from tensorflow.core.framework import summary_pb2

    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin),
        data_class=data_class,
    ).SerializeToString()


class SummaryWriter:
    """TensorBoard event files written with TensorFlow core ops only.

    `tf.summary.scalar` and friends live in the `tensorboard` package, which TensorFlow's CPU
    wheel does not install; `tf.summary.write` with the plugin metadata TensorBoard expects
    (scalars, histograms, images) writes the same records without it.
    """

    def __init__(self, log_dir: str):
        import tensorflow as tf

        self._tf = tf
        self.writer = tf.summary.create_file_writer(log_dir)

    def scalar(self, tag: str, value: float, step: int) -> None:
        tf = self._tf
        with self.writer.as_default():
            tf.summary.write(tag, tf.constant(float(value), tf.float32), step=step,
                             metadata=_metadata("scalars", 1))

    def histogram(self, tag: str, values: np.ndarray, step: int, bins: int = 30) -> None:
        tf = self._tf
        values = np.asarray(values, np.float64).ravel()
        counts, edges = np.histogram(values, bins=bins)
        buckets = np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)
        with self.writer.as_default():
            tf.summary.write(tag, tf.constant(buckets), step=step,
                             metadata=_metadata("histograms", 2))

    def image(self, tag: str, image: np.ndarray, step: int) -> None:
        """`image`: [H, W, C] floats in [0, 1] (C = 1 or 3)."""
        tf = self._tf
        pixels = np.clip(np.asarray(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        png = tf.io.encode_png(pixels)
        h, w = pixels.shape[:2]
        tensor = tf.stack([tf.constant(str(w)), tf.constant(str(h)), png])
        with self.writer.as_default():
            tf.summary.write(tag, tensor, step=step, metadata=_metadata("images", 3))

    def flush(self) -> None:
        self.writer.flush()


class TensorBoardLogger(keras.callbacks.Callback):
    """Loss terms of every epoch (``train/<metric>``, ``validation/<metric>``) and, with a
    `Diagnostics` companion, per-dimension KL and sample grids."""

    def __init__(self, log_dir: str):
        super().__init__()
        import os

        self.train = SummaryWriter(os.path.join(log_dir, "train"))
        self.validation = SummaryWriter(os.path.join(log_dir, "validation"))

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            if key.startswith("val_"):
                self.validation.scalar(f"epoch_{key[4:]}", value, epoch)
            else:
                self.train.scalar(f"epoch_{key}", value, epoch)
        self.train.flush()
        self.validation.flush()


class Diagnostics(keras.callbacks.Callback):
    """TensorBoard diagnostics written at each epoch end to ``log_dir/diagnostics``.

    Args:
        log_dir: TensorBoard log directory.
        probe: a fixed encoded batch; its per-dimension KL(q(z|x,y) || p(z|y)) is logged as
            ``kl_dim/NN``, a histogram ``kl_per_dim`` and ``active_units``.
        image_tensors: {tensor index: (column name, shape)} of image columns; a grid of generated
            samples (one row per class) is logged for each as ``samples/<column>``.
        n_classes: classes of the model.
        seed: seeds the sample grid (the same latent draws every epoch).
        samples_per_class: columns of the grid.
    """

    def __init__(
        self,
        log_dir: str,
        probe: Mapping[str, np.ndarray],
        *,
        image_tensors: Mapping[int, tuple[str, list[int]]],
        n_classes: int,
        seed: int = 0,
        samples_per_class: int = 8,
    ):
        super().__init__()
        import os

        import tensorflow as tf

        self.writer = SummaryWriter(os.path.join(log_dir, "diagnostics"))
        self.probe = {k: tf.constant(v) for k, v in probe.items()}
        self.image_tensors = dict(image_tensors)
        self.n_classes = int(n_classes)
        self.seed = int(seed)
        self.samples_per_class = int(samples_per_class)

    def kl_per_dim(self) -> np.ndarray:
        from vae_augment import distributions as D

        params = self.model(self.probe, training=False)
        q = D.gaussian(params["q_loc"], params["q_scale"])
        p = D.gaussian(params["p_loc"], params["p_scale"])
        return np.asarray(D.kl_gaussian(q, p)).mean(axis=0)

    def sample_grid(self, index: int) -> np.ndarray:
        """[1, classes * H, samples * W, C] grid in [0, 1] (min-max scaled per grid)."""
        import tensorflow as tf

        k = self.samples_per_class
        y = np.repeat(np.arange(self.n_classes, dtype=np.int32), k)
        gen = self.model.generate(tf.constant(y), tf.constant([self.seed, 7], tf.int32))
        img = np.asarray(gen[f"tensor_{index}"], np.float32)
        img = img.reshape((len(y), *self.image_tensors[index][1]))
        if img.ndim == 3:
            img = img[..., None]
        img = img[..., :3] if img.shape[-1] >= 3 else img[..., :1]
        lo, hi = float(img.min()), float(img.max())
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        b, h, w, c = img.shape
        grid = img.reshape(self.n_classes, k, h, w, c).transpose(0, 2, 1, 3, 4)
        return grid.reshape(1, self.n_classes * h, k * w, c)

    def on_epoch_end(self, epoch, logs=None):
        kl = self.kl_per_dim()
        w = self.writer
        w.scalar("kl_weight", float(self.model.kl_weight.numpy()), epoch)
        w.scalar("active_units", int(np.sum(kl > ACTIVE_UNIT_NATS)), epoch)
        w.histogram("kl_per_dim", kl, epoch)
        for i, value in enumerate(kl):
            w.scalar(f"kl_dim/{i:02d}", float(value), epoch)
        for index, (name, _) in self.image_tensors.items():
            w.image(f"samples/{name}", self.sample_grid(index)[0], epoch)
        w.flush()
