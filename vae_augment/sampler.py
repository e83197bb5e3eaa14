"""Batched generation -> Arrow record batches in the input schema.

Rows are generated in fixed blocks of `block_rows(encoding)` rows: `BLOCK_ROWS` (8192), or
fewer for models of large tensors (images past about 32x32x3), whose decoder would otherwise
hold billions of values per block. Block ``b`` of class ``c`` under run seed ``s`` always uses
the stateless seed `block_seed(s, c, b)`, so any split of a request into shards of whole
blocks (the CLI's loop, Beam's shards, a retried bundle) yields the same rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from vae_augment.errors import VAEAugmentError

__all__ = ["BLOCK_ROWS", "block_rows", "block_seed", "Sampler", "plan_blocks"]

BLOCK_ROWS = 8192
# tensor elements per block above which blocks shrink (powers of two): 28x28 images keep
# 8192 rows; 64x64x3 get 512 (5 rows of it took 8.7 GB with 8192), 128x128x3 128 (crashed)
_BLOCK_TENSOR_ELEMENTS = 1 << 23


def block_rows(encoding) -> int:
    """Rows per generation block for a model of `encoding`: `BLOCK_ROWS`, or the largest
    power of two that keeps a block's tensor elements under 2**23 (at least 1). A function
    of the encoding alone, so the CLI, Beam and tf.data cut the same blocks."""
    per_row = sum(int(np.prod(s.shape)) for s in encoding.tensors)
    if per_row * BLOCK_ROWS <= _BLOCK_TENSOR_ELEMENTS:
        return BLOCK_ROWS
    return 1 << max(0, int(np.floor(np.log2(_BLOCK_TENSOR_ELEMENTS / per_row))))

_TRACE_LOCK = threading.Lock()


def block_seed(seed: int, class_idx: int, block: int) -> np.ndarray:
    """The stateless TF seed ([2] int32) of one block; a pure function of its arguments."""
    words = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(class_idx), int(block)]).generate_state(2)
    return words.astype(np.uint32).view(np.int32)


def plan_blocks(n: int, rows_per_block: int = BLOCK_ROWS) -> list[tuple[int, int]]:
    """[(block index, rows in that block)] covering `n` rows (`block_rows(encoding)` rows per
    block for a model's rows)."""
    if n < 0:
        raise VAEAugmentError(f"requested row count must be >= 0, got {n}")
    full, rest = divmod(int(n), rows_per_block)
    plan = [(b, rows_per_block) for b in range(full)]
    if rest:
        plan.append((full, rest))
    return plan


class Sampler:
    """Generates synthetic rows from an `Artifact`.

    Its batches are in ``encoding.output_schema``: the training schema plus ``is_synthetic``,
    with tensor columns as fixed-size lists (or the extension type they were trained as). A
    model trained on images held in variable-length list columns gets them back as those
    list types through ``encoding.as_sampled(batch)``, as `vae_augment.api.sample` writes.

    `guided` (the default): each row gets the model's selection at generation, its class
    guide's redraws (up to its `candidates` draws), which is what balancing generates.
    ``guided=False``: one plain draw per row, about 3x faster on a guided model, as
    `vae_augment.api.sample` generates unless asked. The two are the same for a model with
    ``candidates=1``.

    Example:
        >>> sampler = Sampler(load_artifact("runs/churn"))          # doctest: +SKIP
        >>> for batch in sampler.iter_counts({"yes": 1000}, seed=0):  # doctest: +SKIP
        ...     print(batch.num_rows)
    """

    def __init__(self, artifact, *, jit_compile: bool = False, guided: bool = True):
        import tensorflow as tf

        from vae_augment.artifact import warn_if_sampler_changed
        from vae_augment.constraints import constrained_generate

        warn_if_sampler_changed(artifact)  # other rows for a seed than when it was saved
        self.artifact = artifact
        self.encoding = artifact.encoding
        model = artifact.model
        encoding = artifact.encoding
        self.block_rows = rows = block_rows(encoding)
        self.guided = bool(guided)
        candidates = None if self.guided else 1

        def generate(class_idx, seed):
            y = tf.fill([rows], class_idx)
            decoded = encoding.decode_tf(constrained_generate(model, encoding, y, seed,
                                                              candidates=candidates))
            values = {k: v for k, (v, _) in decoded.items()}
            masks = {k: m for k, (_, m) in decoded.items() if m is not None}
            return values, masks

        signature = [tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32)]
        # autograph=False: the graph has no tensor-dependent Python control flow, and
        # AutoGraph's source conversion made the trace ~10x slower (1.1 s vs 0.1 s, churn)
        function = tf.function(
            generate, input_signature=signature, jit_compile=jit_compile, autograph=False
        )
        # Trace now, once, under a process-wide lock: concurrent first calls from several
        # threads (the prefetch thread, Beam's DoFn threads) raced inside Keras' tracing.
        with _TRACE_LOCK:
            self._generate = function.get_concrete_function()

    def _run(self, class_idx: int, seed: np.ndarray):
        return self._generate(np.int32(class_idx), np.asarray(seed, np.int32))

    def generate_block(self, class_idx: int, seed: int, block: int, rows: int | None = None):
        """The first `rows` rows (default: all `block_rows`) of block `block` of class
        `class_idx`, as a RecordBatch."""
        rows = self.block_rows if rows is None else rows
        values, masks = self._run(class_idx, block_seed(seed, class_idx, block))
        decoded = {
            k: (v.numpy()[:rows], masks[k].numpy()[:rows] if k in masks else None)
            for k, v in values.items()
        }
        if not decoded:
            decoded = {}
        batch = self.encoding.to_arrow(decoded, class_idx)
        return batch.slice(0, rows) if batch.num_rows > rows else batch

    def iter_class(
        self, class_value: Any, n: int, seed: int, *, blocks: list[tuple[int, int]] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Yields `n` synthetic rows of one class (or just the given `blocks` of its plan)."""
        class_idx = self.encoding.class_index(class_value)
        for block, rows in blocks if blocks is not None else plan_blocks(n, self.block_rows):
            yield self.generate_block(class_idx, seed, block, rows)

    def iter_counts(
        self, counts: Mapping[Any, int], seed: int, *, progress: bool | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Yields synthetic rows for every class in `counts` ({class: rows}), classes in order."""
        check_counts(self.encoding, counts)
        total = int(sum(counts.values()))
        bar = _progress(total, progress)

        def produce():
            for c, n in counts.items():
                yield from self.iter_class(c, int(n), seed)

        try:
            for batch in _prefetch(produce(), depth=2):
                bar.update(batch.num_rows)
                yield batch
        finally:
            bar.close()


def check_counts(encoding, counts: Mapping[Any, int]) -> None:
    """A `VAEAugmentError` unless `counts` ({class: rows}) asks a non-negative integer of
    rows of classes the model knows, each class once (two keys of one class, ``"yes"`` and
    ``b"yes"``, would draw the same blocks: the same rows twice)."""
    seen: dict[int, Any] = {}
    for c, n in counts.items():
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise VAEAugmentError(
                f"requested count for class {c!r} must be a non-negative integer, got {n!r}"
            )
        idx = encoding.class_index(c)
        if idx in seen:
            raise VAEAugmentError(f"counts name class {encoding.classes[idx]!r} twice "
                                  f"({seen[idx]!r} and {c!r})")
        seen[idx] = c


def _prefetch(iterable, depth: int = 2):
    """Runs `iterable` in a background thread, `depth` items ahead, preserving order.

    TensorFlow and pyarrow release the GIL, so the next block is generated while the caller
    converts and writes the previous one. Exceptions are re-raised in the caller.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def worker():
        try:
            for item in iterable:
                if stop.is_set():
                    return
                q.put((True, item))
            q.put((True, done))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((False, exc))

    thread = threading.Thread(target=worker, name="vae-augment-sampler", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def _progress(total: int, enabled: bool | None):
    """The sampling bar; None: only for runs of at least 4 blocks, on a terminal."""
    from vae_augment.progress import progress_bar

    if enabled is None and total < 4 * BLOCK_ROWS:
        enabled = False
    return progress_bar(total, desc="sampling", unit="rows", enabled=enabled)
