"""Training data sources with a deterministic order per (seed, epoch), in memory or streamed.

Both sources give the training loop the same three things: the number of training and
validation rows, a tf.data dataset of training batches for epochs ``[start, stop)`` that can
skip the first batches of its first epoch (how an interrupted run resumes mid-epoch), and a
dataset of validation batches. Because the order of epoch ``e`` depends only on the seed and
``e``, a resumed run sees exactly the batches the uninterrupted run would have seen.

`ParquetSource` streams Parquet row groups (pyarrow) through a seeded shuffle buffer: memory is
bounded by the buffer, one read chunk and one batch, not by the data. The validation split is
drawn per row from a generator seeded by (seed, row group), so it needs no pass over the data;
rows of a class with fewer than `RARE_CLASS_ROWS` rows (known from the encoding's class
counts) are never held out.

Example:
    >>> src = ParquetSource("data/*.parquet", encoding, validation_split=0.1,
    ...                     seed=0)                                        # doctest: +SKIP
    >>> ds = src.train_dataset(batch_size=512, start_epoch=0, stop_epoch=10)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vae_augment.encoding import Encoding
from vae_augment.errors import InputError, VAEAugmentError
from vae_augment.io import (
    array_without_view,
    in_file,
    not_parquet,
    partition_of,
    resolve_inputs,
    unreadable,
    with_partition,
    without_views,
)
from vae_augment.schema import canonical_zeros

__all__ = [
    "InMemorySource",
    "ParquetSource",
    "STREAMING_MIN_ROWS",
    "count_rows",
    "should_stream",
]

# `streaming=None` streams inputs with more rows than this (the encoded arrays of a
# 2M-row, 50-feature table take ~400 MB, and the in-memory path holds about three copies).
STREAMING_MIN_ROWS = 2_000_000
_MIN_ROWS_FOR_VALIDATION = 20  # same rule as the in-memory split
# A streamed split holds rows out one by one, so a class of a few rows could lose them all
# (a 1-row class at validation_split 0.1: 1 seed in 10) and never be trained: rows of a class
# with fewer rows than this always train (20 rows all held out at 0.5: about 1 in a million).
RARE_CLASS_ROWS = 20
#: the most row groups an epoch reads at once (`ParquetSource.interleave`)
INTERLEAVE_GROUPS = 8


def count_rows(inputs) -> int:
    """Rows in `inputs` from the Parquet footers only (no data read)."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in resolve_inputs(inputs))


def should_stream(inputs, streaming: bool | None) -> bool:
    """Whether to stream: explicit True/False wins; None streams above `STREAMING_MIN_ROWS`."""
    if isinstance(inputs, (pa.Table, pa.RecordBatch)):
        if streaming:
            raise VAEAugmentError("`streaming=True` needs Parquet paths, got an in-memory table")
        return False
    if streaming is not None:
        return bool(streaming)
    return count_rows(inputs) > STREAMING_MIN_ROWS


def _seed_seq(*parts: int) -> np.random.Generator:
    return np.random.default_rng([int(p) & 0xFFFFFFFF for p in parts])


class InMemorySource:
    """Encoded arrays held in memory, split once with a seeded permutation.

    Args:
        arrays: `Encoding.encode` output for every row.
        validation_split: fraction of rows held out (none below 20 rows).
        seed: seeds the split and the per-epoch order.
    """

    streaming = False

    def __init__(self, arrays: Mapping[str, np.ndarray], *, validation_split: float, seed: int):
        n = len(arrays["y"])
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)
        n_val = (
            int(round(n * validation_split)) if n >= _MIN_ROWS_FOR_VALIDATION else 0
        )
        val_idx, train_idx = order[:n_val], order[n_val:]
        y = np.asarray(arrays["y"])
        lost = np.setdiff1d(np.unique(y[val_idx]), np.unique(y[train_idx]))
        if len(lost):
            # a class whose rows all fell into validation would never be trained on (its
            # synthetic rows would come from an untrained prior): one row of it goes back
            back = np.array([val_idx[np.argmax(y[val_idx] == c)] for c in lost])
            val_idx = val_idx[~np.isin(val_idx, back)]
            train_idx = np.concatenate([train_idx, back])
            n_val = len(val_idx)
        self.train = {k: v[train_idx] for k, v in arrays.items()}
        self.val = {k: v[val_idx] for k, v in arrays.items()} if n_val else None
        self.n_train = len(train_idx)
        self.n_val = n_val
        self.seed = int(seed)

    def fingerprint(self) -> dict:
        return {"rows": self.n_train + self.n_val, "validation_rows": self.n_val}

    def class_rows(self, n_classes: int) -> np.ndarray:
        """Rows per class index, the validation rows included (what a checkpoint records)."""
        y = [self.train["y"]] + ([self.val["y"]] if self.val is not None else [])
        return np.bincount(np.concatenate(y).astype(np.int64), minlength=n_classes)

    def probe(self, rows: int = 512) -> dict[str, np.ndarray]:
        """A fixed small batch (validation rows when there are any) for diagnostics."""
        d = self.val if self.val is not None else self.train
        return {k: v[:rows] for k, v in d.items()}

    def marginal_rows(self) -> dict[str, np.ndarray]:
        """The training rows whose marginals start the model's heads: all of them."""
        return self.train

    def train_dataset(self, batch_size: int, start_epoch: int, stop_epoch: int, skip: int = 0):
        """Batches of epochs [start_epoch, stop_epoch); epoch e in a fixed order per (seed, e)."""
        import tensorflow as tf

        n, seed = self.n_train, self.seed
        data = {k: tf.constant(v) for k, v in self.train.items()}

        def epoch_indices(e):
            perm = tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), e])
            )
            return tf.data.Dataset.from_tensor_slices(perm).batch(batch_size)

        ds = tf.data.Dataset.range(start_epoch, stop_epoch).flat_map(epoch_indices)
        if skip:
            ds = ds.skip(skip)
        ds = ds.map(lambda idx: {k: tf.gather(v, idx) for k, v in data.items()},
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)

    def validation_dataset(self, batch_size: int, rows: Mapping[str, np.ndarray] | None = None):
        """Batches of the validation rows, or of `rows` in their place (the same rows
        transformed, e.g. dequantized by `training.train_model`)."""
        import tensorflow as tf

        if self.val is None:
            return None
        return tf.data.Dataset.from_tensor_slices(self.val if rows is None else rows).batch(
            batch_size).prefetch(tf.data.AUTOTUNE)


@dataclasses.dataclass(frozen=True)
class _RowGroup:
    path: str
    index: int  # row group index in the file
    rows: int
    ordinal: int  # position among all row groups of all files


class ParquetSource:
    """Streams Parquet row groups through tf.data with a seeded shuffle buffer.

    Args:
        inputs: Parquet path(s), directory or glob.
        encoding: the fitted `Encoding` (its label decides which rows count).
        validation_split: per-row probability of being held out, drawn from a generator
            seeded by (seed, row group), so the split needs no pass over the data. Rows of a
            class with fewer than `RARE_CLASS_ROWS` rows always train.
        seed: seeds the split, the row-group order and the shuffle buffer of every epoch.
        shuffle_buffer: rows held for shuffling; peak memory is about this many encoded rows
            plus one read chunk and one batch.
        read_rows: rows per read from a row group.
    """

    streaming = True

    def __init__(
        self,
        inputs,
        encoding: Encoding,
        *,
        validation_split: float,
        seed: int,
        shuffle_buffer: int = 65536,
        read_rows: int = 8192,
    ):
        if shuffle_buffer < 1:
            raise VAEAugmentError(f"`shuffle_buffer` must be a positive integer, got {shuffle_buffer}")
        self.paths = resolve_inputs(inputs)
        self.encoding = encoding
        self.seed = int(seed)
        self.shuffle_buffer = int(shuffle_buffer)
        self.read_rows = int(read_rows)
        self.validation_split = float(validation_split)
        groups = []
        self._meta: dict[str, pq.FileMetaData] = {}  # footers, parsed once per file
        self.failure: VAEAugmentError | None = None  # a bad row met while streaming
        for path in self.paths:
            try:
                meta = self._meta[path] = pq.ParquetFile(path).metadata
            except (pa.ArrowInvalid, OSError) as exc:
                raise not_parquet(path, exc) from exc
            for i in range(meta.num_row_groups):
                groups.append(_RowGroup(path, i, meta.row_group(i).num_rows, len(groups)))
        self.row_groups = groups
        total = sum(g.rows for g in groups)
        self._use_val = self.validation_split > 0 and total >= _MIN_ROWS_FOR_VALIDATION
        # the classes whose rows always train (see RARE_CLASS_ROWS)
        self._rare = [c for c in encoding.classes
                      if 0 < encoding.class_counts.get(c, 0) < RARE_CLASS_ROWS]
        self._rare_values: dict[pa.DataType, pa.Array] = {}
        self.n_train = self.n_val = 0
        for g in groups:
            keep, labels = self._label_valid(g)
            val = self._val_mask(g)
            if labels is not None and self._rare:
                val &= ~self._rare_rows(labels)
            self.n_val += int(np.count_nonzero(val & keep))
            self.n_train += int(np.count_nonzero(~val & keep))
        if self.n_train == 0:
            raise InputError("no training rows: every row is held out or has a null label")
        self._signature = None

    # ------------------------------------------------------------------ row selection
    def _val_mask(self, g: _RowGroup) -> np.ndarray:
        """The seeded draw of which rows of `g` are held out (before the rare-class rule)."""
        if not self._use_val:
            return np.zeros(g.rows, bool)
        return _seed_seq(self.seed, 7919, g.ordinal).random(g.rows) < self.validation_split

    def _rare_rows(self, labels: pa.Array) -> np.ndarray:
        """Which of these labels are of a class whose rows always train."""
        if pa.types.is_dictionary(labels.type):
            labels = labels.dictionary_decode()
        labels = canonical_zeros(labels)
        values = self._rare_values.get(labels.type)
        if values is None:  # once per label type (checked as encoding checks it)
            self.encoding.label_index(labels[:0])
            values = self._rare_values[labels.type] = canonical_zeros(
                pa.array(self._rare, type=labels.type))
        return pc.is_in(labels, value_set=values).to_numpy(zero_copy_only=False)

    def _file(self, path: str) -> pq.ParquetFile:
        """The file, opened with its footer parsed at start: reparsing a footer of many row
        groups for each of them made start-up and epochs grow with the square of their
        number (17 s of start-up for 1,000 row groups)."""
        return pq.ParquetFile(path, metadata=self._meta.get(path))

    def _label_valid(self, g: _RowGroup, *, read: bool = False
                     ) -> tuple[np.ndarray, pa.Array | None]:
        """(rows with a non-null label, the label column when it was read). Footer statistics
        first; the label column is read when they do not rule nulls out, or some class is
        rare (its rows are then kept out of validation), or `read` asks for it."""
        pf = self._file(g.path)
        label = self.encoding.label
        fields, values = partition_of(g.path)
        if label in [f.name for f in fields]:  # a partition key: one value for the file
            f, v = next((f, v) for f, v in zip(fields, values) if f.name == label)
            return np.full(g.rows, v is not None), pa.repeat(pa.scalar(v, f.type), g.rows)
        rg = pf.metadata.row_group(g.index)
        col = pf.schema_arrow.get_field_index(label)
        stats = rg.column(col).statistics if col >= 0 else None
        no_nulls = stats is not None and stats.has_null_count and stats.null_count == 0
        if no_nulls and not read and not (self._rare and self._use_val):
            return np.ones(g.rows, bool), None
        lab = pf.read_row_group(g.index, columns=[label]).column(0).combine_chunks()
        lab = array_without_view(lab)
        return pc.is_valid(lab).to_numpy(zero_copy_only=False), lab

    def fingerprint(self) -> dict:
        return {
            "rows": self.n_train + self.n_val,
            "validation_rows": self.n_val,
            "row_groups": len(self.row_groups),
            "shuffle_buffer": self.shuffle_buffer,
        }

    def class_rows(self, n_classes: int) -> np.ndarray:
        """Rows per class index, counted from the label column alone (one read of it): as
        `InMemorySource.class_rows`, whatever order the rows stream in."""
        counts = np.zeros(n_classes, np.int64)
        for g in self.row_groups:
            _, labels = self._label_valid(g, read=True)
            _, idx = self.encoding.label_index(labels)  # null: a null or unknown label
            idx = idx.drop_null().to_numpy(zero_copy_only=False).astype(np.int64)
            counts += np.bincount(idx, minlength=n_classes)
        return counts

    def _chunks(self, g: _RowGroup, validation: bool) -> Iterator[dict[str, np.ndarray]]:
        """Encoded rows of one row group on one side of the split, in file order."""
        mask = self._val_mask(g)
        rare = self._use_val and bool(self._rare)  # the split then needs each row's label
        pf = self._file(g.path)
        start = 0
        # a list row of another length is named by its row in its file: checked before the
        # split filters the batch (the encoder counts rows in what it is given)
        lists = self.encoding.list_tensors(pf.schema_arrow)
        first = sum(pf.metadata.row_group(k).num_rows for k in range(g.index)) if lists else 0
        try:
            for batch in pf.iter_batches(batch_size=self.read_rows, row_groups=[g.index]):
                batch = without_views(with_partition(batch, g.path))
                if lists:
                    try:
                        self.encoding.check_list_tensors(batch, lists, first_row=first + start)
                    except VAEAugmentError as exc:
                        self.failure = in_file(g.path, exc)
                        raise self.failure from exc
                m = mask[start:start + batch.num_rows]
                if rare:
                    m = m & ~self._rare_rows(batch.column(self.encoding.label))
                if not validation:
                    m = ~m
                start += batch.num_rows
                if not m.all():
                    batch = batch.filter(pa.array(m))
                if batch.num_rows:
                    try:
                        enc = self.encoding.encode(batch)
                    except VAEAugmentError as exc:
                        # raised inside tf.data, which would bury it in a traceback: kept
                        # for `train_model` to raise as the one-line error it is
                        self.failure = in_file(g.path, exc)
                        raise self.failure from exc
                    if len(enc["y"]):
                        yield enc
        except (pa.ArrowInvalid, OSError) as exc:
            raise unreadable(g.path, exc) from exc

    # ------------------------------------------------------------------ generators
    def iter_train(
        self, batch_size: int, start_epoch: int, stop_epoch: int, skip: int = 0
    ) -> Iterator[dict[str, np.ndarray]]:
        """Training batches (numpy) of epochs [start_epoch, stop_epoch), skipping `skip`."""
        batcher = _Batcher(batch_size, skip)
        for epoch in range(start_epoch, stop_epoch):
            rng = _seed_seq(self.seed, 104729, epoch)
            buf: dict[str, np.ndarray] | None = None
            for chunk in self._interleaved(rng.permutation(len(self.row_groups)), rng):
                size = 0 if buf is None else len(buf["y"])
                room = self.shuffle_buffer - size
                if room > 0:  # filling the buffer
                    head = {k: v[:room] for k, v in chunk.items()}
                    buf = head if buf is None else _concat([buf, head])
                    chunk = {k: v[room:] for k, v in chunk.items()}
                while len(chunk["y"]):
                    # each incoming row replaces a uniformly drawn buffered row, which is
                    # emitted (a vectorised tf.data-style shuffle buffer)
                    step = min(len(chunk["y"]), self.shuffle_buffer)
                    out = rng.choice(self.shuffle_buffer, step, replace=False)
                    batcher.add({k: buf[k][out] for k in buf})
                    for k in buf:
                        buf[k][out] = chunk[k][:step]
                    chunk = {k: v[step:] for k, v in chunk.items()}
                yield from batcher.drain(final=False)
            if buf is not None:
                perm = rng.permutation(len(buf["y"]))
                batcher.add({k: v[perm] for k, v in buf.items()})
            yield from batcher.drain(final=True)

    def interleave(self) -> int:
        """How many row groups an epoch reads at once: 1 when every row group is small
        against the shuffle buffer (a quarter of it at most: the buffer then mixes rows of many
        row groups), else up to `INTERLEAVE_GROUPS`. Data sorted or partitioned by the label
        in large row groups otherwise gave batches of one class (70 of 71 on a churn copy
        partitioned by label, and a worse model: validation -ELBO 22.1 against 19.9)."""
        if not self.row_groups or 4 * max(g.rows for g in self.row_groups) <= self.shuffle_buffer:
            return 1
        return min(len(self.row_groups), INTERLEAVE_GROUPS)

    def _interleaved(self, order, rng) -> Iterator[dict[str, np.ndarray]]:
        """The training chunks of the row groups in `order`, read `interleave` at a time: each
        piece (of at most a sixteenth of the buffer over their number) comes from one of them drawn at
        random (with `rng`, in proportion to the rows each has left), and an exhausted row
        group is replaced by the next in `order`. Memory grows by one read chunk (and the file's
        buffered column chunks) per row group read."""
        k = self.interleave()
        # pieces small against the buffer, so that it holds rows of every group being read
        piece = max(1, self.shuffle_buffer // (16 * k))

        def pieces(gi):
            for chunk in self._chunks(self.row_groups[gi], validation=False):
                n = len(chunk["y"])
                if k == 1 or n <= piece:
                    yield chunk
                    continue
                for a in range(0, n, piece):
                    yield {key: v[a:a + piece] for key, v in chunk.items()}

        pending = iter(order)
        active = [pieces(gi) for gi in itertools.islice(pending, k)]
        # rows each active group has left (its footer's count, less what it gave): drawn in
        # proportion, the groups end together, so a small one's rows spread over the epoch
        left = [float(self.row_groups[gi].rows) for gi in order[:len(active)]]
        while active:
            if len(active) > 1:
                w = np.maximum(np.asarray(left), 1.0)
                j = int(rng.choice(len(active), p=w / w.sum()))
            else:
                j = 0
            chunk = next(active[j], None)
            if chunk is None:  # this row group is done: the next one takes its place
                nxt = next(pending, None)
                if nxt is None:
                    active.pop(j)
                    left.pop(j)
                else:
                    active[j] = pieces(nxt)
                    left[j] = float(self.row_groups[nxt].rows)
                continue
            left[j] -= len(chunk["y"])
            yield chunk

    def iter_validation(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Validation batches (numpy), in file order."""
        batcher = _Batcher(batch_size)
        for g in self.row_groups:
            for chunk in self._chunks(g, validation=True):
                batcher.add(chunk)
                yield from batcher.drain(final=False)
        yield from batcher.drain(final=True)

    def probe(self, rows: int = 512) -> dict[str, np.ndarray]:
        """A fixed small batch (validation rows when there are any) for diagnostics."""
        it = self.iter_validation(rows) if self.n_val else self.iter_train(rows, 0, 1)
        return next(iter(it))

    def marginal_rows(self, rows: int = 8192) -> dict[str, np.ndarray]:
        """The training rows whose marginals start the model's heads: the first epoch's first
        `rows` (a read of the shuffle buffer's rows and that many more; the memory of a
        training batch beside the buffer's, as training holds)."""
        return next(iter(self.iter_train(rows, 0, 1)))

    # ------------------------------------------------------------------ tf.data
    def output_signature(self):
        import tensorflow as tf

        if self._signature is None:
            g = self.row_groups[0]
            # one row, not the whole row group (1M rows by pyarrow's default: ~210 MB)
            first = with_partition(
                next(self._file(g.path).iter_batches(batch_size=1, row_groups=[g.index])), g.path)
            enc = self.encoding.encode(first, with_label=False)
            sig = {
                k: tf.TensorSpec((None, *v.shape[1:]), tf.as_dtype(v.dtype))
                for k, v in enc.items()
            }
            sig["y"] = tf.TensorSpec((None,), tf.int32)
            self._signature = sig
        return self._signature

    def _dataset(self, make, batches: int):
        import tensorflow as tf

        ds = tf.data.Dataset.from_generator(make, output_signature=self.output_signature())
        # a known length lets Keras end an epoch without hitting (and warning about) the end
        ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
        options = tf.data.Options()
        # a generator cannot be split by file: every worker reads and keeps its share
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return ds.with_options(options).prefetch(2)

    def train_dataset(self, batch_size: int, start_epoch: int, stop_epoch: int, skip: int = 0):
        batches = (stop_epoch - start_epoch) * math.ceil(self.n_train / batch_size) - skip
        return self._dataset(
            lambda: self.iter_train(batch_size, start_epoch, stop_epoch, skip), batches
        )

    def validation_dataset(self, batch_size: int):
        if not self.n_val:
            return None
        return self._dataset(
            lambda: self.iter_validation(batch_size), math.ceil(self.n_val / batch_size)
        )


class _Batcher:
    """Cuts emitted rows into batches of `batch_size`; drops the first `skip` batches."""

    def __init__(self, batch_size: int, skip: int = 0):
        self.batch_size = batch_size
        self.skip = skip
        self.pending: list[dict[str, np.ndarray]] = []
        self.rows = 0

    def add(self, rows: dict[str, np.ndarray]) -> None:
        self.pending.append(rows)
        self.rows += len(rows["y"])

    def drain(self, final: bool) -> Iterator[dict[str, np.ndarray]]:
        """Full batches (and, when `final`, the last partial one) of the rows so far."""
        if not self.pending or (self.rows < self.batch_size and not final):
            return
        merged = _concat(self.pending)
        cut = self.rows if final else self.rows - self.rows % self.batch_size
        for i in range(0, cut, self.batch_size):
            if self.skip:
                self.skip -= 1
            else:
                yield {k: v[i:i + self.batch_size] for k, v in merged.items()}
        rest = {k: v[cut:] for k, v in merged.items()}
        self.rows = len(rest["y"])
        self.pending = [rest] if self.rows else []


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
