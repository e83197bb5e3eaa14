"""Where training runs: tf.distribute strategy selection and mixed-precision policies.

``resolve_strategy("auto")`` picks a `TPUStrategy` when a TPU is reachable, a
`MirroredStrategy` over every GPU when there is more than one, and the default (single device)
strategy otherwise, and logs the choice and its devices to stderr. ``precision_scope`` sets a
Keras dtype policy for the duration of model construction and training, then restores the
previous one; the model keeps every layer that feeds a `tfd` distribution in float32.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from vae_augment.errors import VAEAugmentError

__all__ = [
    "STRATEGIES",
    "PRECISIONS",
    "resolve_strategy",
    "describe_strategy",
    "precision_scope",
    "is_chief",
]

STRATEGIES = ("auto", "default", "mirrored", "tpu", "multi-worker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def _tpu_hint() -> bool:
    """True when a TPU may be reachable, checked without touching the network.

    Looking for a TPU with `TPUClusterResolver()` on a machine without one can wait on the GCE
    metadata server; only try when the environment says a TPU is there.
    """
    return bool(
        os.environ.get("TPU_NAME")
        or os.environ.get("COLAB_TPU_ADDR")
        or os.environ.get("TPU_ACCELERATOR_TYPE")
        or os.path.exists("/dev/accel0")
        or os.path.exists("/dev/vfio/0")
    )


def _tpu_strategy(required: bool):
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", "")
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, OSError, tf.errors.OpError) as exc:
        # OSError: the resolver asks the GCE metadata server for the TPU's address (URLError
        # off Google Cloud)
        if required:
            raise VAEAugmentError(f"`--strategy tpu`: no TPU reachable ({exc})") from exc
        return None


#: one MirroredStrategy per device list for the process: two strategies' collective keys
#: start alike, and a second one's ops (a second fit in a notebook) collided with the first's
#: ("Shape mismatch in the collective instance ..." in the posterior bank's all_gather)
_MIRRORED: dict[tuple[str, ...], Any] = {}


def _mirrored(devices: list[str]):
    import tensorflow as tf

    key = tuple(devices)
    if key not in _MIRRORED:
        _MIRRORED[key] = tf.distribute.MirroredStrategy(devices)
    return _MIRRORED[key]


def resolve_strategy(strategy: Any = "auto", *, log: bool = True):
    """Returns a `tf.distribute.Strategy` for a name (or passes a strategy object through).

    Args:
        strategy: one of ``auto``, ``default``, ``mirrored``, ``tpu``, ``multi-worker``, None
            (the current strategy, usually the default one), or a `tf.distribute.Strategy`.
        log: print the chosen strategy and its devices to stderr.

    ``mirrored`` uses every GPU, or every logical CPU device when there is no GPU and the CPU
    was split into several logical devices (how the multi-replica path is tested on CPU).
    ``multi-worker`` reads the cluster from ``TF_CONFIG``.

    Example:
        >>> s = resolve_strategy("default", log=False)
        >>> s.num_replicas_in_sync
        1
    """
    import tensorflow as tf

    if strategy is None:
        return tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.Strategy):
        chosen = strategy
    else:
        name = str(strategy).lower().replace("_", "-")
        if name not in STRATEGIES:
            raise VAEAugmentError(
                f"`strategy` must be one of {list(STRATEGIES)}, got {strategy!r}"
            )
        chosen = None
        if name == "tpu" or (name == "auto" and _tpu_hint()):
            chosen = _tpu_strategy(required=name == "tpu")
        if chosen is None and name in ("auto", "mirrored"):
            gpus = tf.config.list_logical_devices("GPU")
            if len(gpus) > 1:
                chosen = _mirrored([d.name for d in gpus])
            elif name == "mirrored":
                cpus = tf.config.list_logical_devices("CPU")
                chosen = _mirrored([d.name for d in (gpus or cpus)])
        if chosen is None and name == "multi-worker":
            try:
                chosen = tf.distribute.MultiWorkerMirroredStrategy()
            except (ValueError, KeyError, TypeError, RuntimeError) as exc:  # JSONDecodeError
                raise VAEAugmentError(  # is a ValueError
                    f"`--strategy multi-worker`: TF_CONFIG does not describe a cluster "
                    f"({type(exc).__name__}: {' '.join(str(exc).split())})") from exc
        if chosen is None:
            chosen = tf.distribute.get_strategy()
    if log:
        print(f"vae-augment: {describe_strategy(chosen)}", file=sys.stderr)
    return chosen


def describe_strategy(strategy) -> str:
    """One line naming the strategy, its replica count and devices."""
    try:
        devices = list(strategy.extended.worker_devices)
    except (AttributeError, RuntimeError):  # the default strategy has no device list
        devices = []
    if not devices:
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        devices = [(gpus or tf.config.list_logical_devices("CPU"))[0].name]
    return (
        f"strategy {type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s) "
        f"on {', '.join(devices)}"
    )


def is_multi_worker(strategy) -> bool:
    """Whether `strategy` spans several worker processes (a `MultiWorkerMirroredStrategy`
    over a cluster in ``TF_CONFIG``)."""
    import tensorflow as tf

    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and bool(strategy.extended._in_multi_worker_mode()))


def is_chief(strategy) -> bool:
    """Whether this process writes checkpoints and logs (always true off multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if task_type is None:
        return True
    return task_type == "chief" or (task_type == "worker" and resolver.task_id == 0)


@contextlib.contextmanager
def precision_scope(precision: str | None) -> Iterator[str]:
    """Sets the Keras dtype policy (``float32``, ``mixed_float16``, ``mixed_bfloat16``).

    The previous global policy is restored on exit. Under ``mixed_float16`` Keras wraps the
    optimizer in a `LossScaleOptimizer` at `compile`.

    Example:
        >>> with precision_scope("mixed_bfloat16"):
        ...     pass
    """
    from vae_augment._keras import keras

    name = precision or "float32"
    if name not in PRECISIONS:
        raise VAEAugmentError(f"`precision` must be one of {list(PRECISIONS)}, got {precision!r}")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_global_policy(previous)


_LOSS_SCALE_CLASS: list[type] = []


def loss_scale_optimizer(inner):
    """`inner` wrapped for ``mixed_float16``: Keras' `LossScaleOptimizer`, except that a step
    is applied only when every replica's gradients are finite.

    Keras 3.15's `LossScaleOptimizer` decides, under a tf.distribute strategy, from the first
    replica's gradients alone (its comment assumes they are all-reduced already; they are not
    yet when `apply` checks them: the inner optimizer all-reduces them). So a step whose other
    replica overflowed was applied, and its inf made every weight NaN: a fit on 2 replicas in
    mixed_float16 diverged within a few steps (session 49's audit). One device is unchanged.
    `model.compile` keeps this optimizer (it wraps only an optimizer that is not one)."""
    from vae_augment._keras import keras

    if not _LOSS_SCALE_CLASS:
        import tensorflow as tf

        @keras.saving.register_keras_serializable(package="vae_augment")
        class ReplicaLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
            def check_finite(self, grads):
                finite = super().check_finite(grads)
                ctx = tf.distribute.get_replica_context()
                if ctx is None or ctx.num_replicas_in_sync == 1:
                    return finite
                bad = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                                     tf.cast(tf.logical_not(finite), tf.float32))
                return tf.equal(bad, 0.0)

        _LOSS_SCALE_CLASS.append(ReplicaLossScaleOptimizer)
    # Keras' own name, so a checkpoint's optimizer variables keep their paths
    return _LOSS_SCALE_CLASS[0](inner, name="loss_scale_optimizer")
