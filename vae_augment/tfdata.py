"""tf.data: real Parquet streams, synthetic streams and balanced mixtures for Keras training.

Elements are **feature dicts of batches**: ``{column: Tensor[B, *shape]}`` with one entry per
Parquet column (the label too), exactly as `read_parquet` yields them for real rows and
`synthetic_dataset` yields them for generated rows (same keys, dtypes and shapes, so
``real.element_spec == synthetic.element_spec``). `balance` mixes rows of both with
`tf.data.Dataset.choose_from_datasets` and an i.i.d. random selector (what
`sample_from_datasets` does, with the selector drawn in vectorised chunks); `augment_fn`
appends generated rows to each batch.

Column types
    ========================  ===================  =================================
    Arrow type                tf dtype             a null becomes (the "fill value")
    ========================  ===================  =================================
    float16/32/64             same float           NaN
    signed int8..int64        same int             -1
    unsigned uint8..uint64    same uint            0
    bool                      tf.bool              False
    string / binary           tf.string            b""
    dictionary<T>             as T (decoded)       as T
    fixed_size_list<T>[n]     T, shape from the    every element filled as T
    / fixed_shape_tensor      ``image_shape``
                              metadata or ``[n]``
    null                      tf.float32           NaN
    ========================  ===================  =================================

Nulls: tensors cannot hold null, so a null becomes the fill value above, in real and synthetic
rows alike. Pass ``null_masks=True`` (every column) or a list of columns to also get a boolean
``"<column>__is_null"`` entry that tells a null apart from a real -1, 0, False or "".
Synthetic rows are null where the model generates a null (columns that had nulls in
training), and always null in columns the model excludes.

Graph mode: synthetic rows come from `ConditionalVAE.generate` and `Encoding.decode_tf` (the
same decoder as the CLI) run in batches inside `Dataset.map`; categorical codes become values
through `tf.gather` on constant vocabularies and every block draws from a stateless seed.
The synthetic path holds no `py_function`/`numpy_function`, so such datasets serialise
(`dataset._as_serialized_graph()`) and run on the tf.data service. Block ``b`` of class ``c``
uses the sampler's seed `block_seed(seed, c, b)` (computed in TF ops), so with
``batch_size=sampler.BLOCK_ROWS`` (8192) a synthetic stream yields the same rows as ``vae-augment sample``.

The real stream is different: reading Parquet needs pyarrow, so `read_parquet` feeds
tf.data from a Python generator (`Dataset.from_generator`, which runs a `py_function`). It
streams one record batch at a time (no whole-file load) but runs in the Python process that
iterates it and cannot be shipped to the tf.data service. TensorFlow I/O's Parquet reader
does not load with current TensorFlow.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from vae_augment.errors import SchemaError, VAEAugmentError, check_seed
from vae_augment.tfdata_read import (  # the Parquet reader; re-exported: public names, tests
    NULL_MASK_SUFFIX,
    _arrow_column_to_numpy,  # noqa: F401
    _check_positive,
    _Column,
    _columns,  # noqa: F401
    fill_value,
    read_parquet,
)
from vae_augment.tfdata_synthetic import (  # the synthetic stream; re-exported
    _artifact,
    _block_seed_tf,  # noqa: F401
    _class_stream,
    _constant_values,
    _synthetic_features,
    synthetic_dataset,
)

__all__ = [
    "NULL_MASK_SUFFIX",
    "read_parquet",
    "synthetic_dataset",
    "balance",
    "augment_fn",
    "mixture_weights",
    "fill_value",
]


# ---------------------------------------------------------------------- target mixture
def _class_key(enc, value):
    return enc.classes[enc.class_index(value)]


def _counts(enc, class_counts) -> dict[Any, int]:
    if class_counts is None:
        return dict(enc.class_counts)
    if not isinstance(class_counts, Mapping):
        raise VAEAugmentError(f"`class_counts` must be a mapping {{class: rows}}, got {class_counts!r}")
    counts = {c: 0 for c in enc.classes}
    for k, v in class_counts.items():
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
            raise VAEAugmentError(f"`class_counts` for class {k!r} must be a non-negative integer, got {v!r}")
        counts[_class_key(enc, k)] += int(v)
    return counts


def _is_distribution(strategy) -> bool:
    return isinstance(strategy, Mapping) and any(
        isinstance(v, float) and not isinstance(v, bool) for v in strategy.values()
    )


def mixture_weights(
    class_counts: Mapping[Any, int], sampling_strategy="auto", *, classes: Sequence[Any] | None = None
) -> tuple[float, dict[Any, float], dict[Any, float]]:
    """Weights of the real stream and of each class's synthetic stream, and the target.

    With real class proportions q and target proportions p, the real stream gets
    ``w_real = min(1, min_c p_c / q_c)`` (as much real data as the target allows: generation
    only adds rows) and class c's synthetic stream ``w_c = p_c - w_real * q_c``. Sampling
    rows with these weights gives class c with probability p_c.

    Args:
        class_counts: real rows per class.
        sampling_strategy: imbalanced-learn's forms (``"auto"``, a float, ``{class: count}``
            with int counts, a callable ...) or a target distribution ``{class: proportion}``
            with float proportions summing to 1 (missing classes get 0).
        classes: every class (default: the keys of `class_counts`).

    Returns:
        ``(w_real, {class: w_c}, {class: p_c})``.

    Example:
        >>> w_real, w_syn, target = mixture_weights({"no": 90, "yes": 10})
        >>> round(w_real, 4), {c: round(w, 4) for c, w in w_syn.items()}
        (0.5556, {'no': 0.0, 'yes': 0.4444})
    """
    from vae_augment.balancing import target_counts

    classes = list(classes) if classes is not None else list(class_counts)
    counts = {c: int(class_counts.get(c, 0)) for c in classes}
    total = sum(counts.values())
    if total == 0:
        raise VAEAugmentError("`class_counts` are all zero; nothing to balance")
    q = {c: counts[c] / total for c in classes}
    if _is_distribution(sampling_strategy):
        unknown = [k for k in sampling_strategy if k not in q]
        if unknown:
            raise VAEAugmentError(
                f"`sampling_strategy` names classes {unknown} the model does not know ({classes})"
            )
        p = {c: float(sampling_strategy.get(c, 0.0)) for c in classes}
        if any(v < 0 or not math.isfinite(v) for v in p.values()) or abs(sum(p.values()) - 1.0) > 1e-6:
            raise VAEAugmentError(
                "`sampling_strategy` as a target distribution needs non-negative proportions "
                f"summing to 1, got {dict(sampling_strategy)} (sum {sum(p.values()):.6g})"
            )
    else:
        present = {c: n for c, n in counts.items() if n > 0}
        after = target_counts(present, sampling_strategy)
        t_total = sum(after.values())
        p = {c: after.get(c, 0) / t_total for c in classes}
    ratios = [p[c] / q[c] for c in classes if q[c] > 0]
    w_real = min(1.0, min(ratios))
    if w_real <= 0:
        zero = [c for c in classes if q[c] > 0 and p[c] == 0]
        raise VAEAugmentError(
            f"`sampling_strategy` gives classes {zero} a target of 0, but the real data has "
            "rows of them; balancing only adds rows (filter the real dataset first)"
        )
    w_syn = {c: max(p[c] - w_real * q[c], 0.0) for c in classes}
    return w_real, w_syn, p


def _structure(art, spec, label_key: str, flag_key: str | None, what: str):
    """Columns, masks and batchedness of a feature-dict element spec, checked against a model."""
    if not isinstance(spec, Mapping):
        raise SchemaError(f"`{what}` must yield feature dicts, got elements {spec}")
    enc = art.encoding
    if label_key not in spec:
        raise SchemaError(f"`label_key` '{label_key}' is not a key of the {what}: {sorted(spec)}")
    if label_key != enc.label:
        raise SchemaError(
            f"`label_key` '{label_key}' is not the model's label column '{enc.label}'"
        )
    keys = [k for k in spec if k != flag_key]
    masks = [k[: -len(NULL_MASK_SUFFIX)] for k in keys if k.endswith(NULL_MASK_SUFFIX)]
    masks = [m for m in masks if m in spec]
    columns = [k for k in keys if k not in {m + NULL_MASK_SUFFIX for m in masks}]
    unknown = [c for c in columns if c not in enc.schema.names]
    if unknown:
        raise SchemaError(
            f"the {what} has columns {unknown} the model was not trained with; its columns "
            f"are {enc.schema.names}"
        )
    rank = spec[label_key].shape.rank
    if rank not in (0, 1):
        raise SchemaError(
            f"`label_key` '{label_key}' has shape {spec[label_key].shape}; expected rows "
            "(shape []) or batches (shape [B])"
        )
    order = [c for c in enc.schema.names if c in columns]
    cols = [_Column(enc.schema.field(c), enc.schema) for c in order]
    return cols, [c.name for c in cols if c.name in masks], rank == 1


def _spec_difference(real, synthetic) -> str:
    diffs = []
    for k in sorted(set(real) | set(synthetic)):
        a, b = real.get(k), synthetic.get(k)
        if a != b:
            diffs.append(f"'{k}': real {a} vs synthetic {b}")
    return "; ".join(diffs[:5])


def _check_spec(real_spec, syn_spec, what: str) -> None:
    if real_spec != syn_spec:
        raise SchemaError(
            f"the {what} does not match the rows the model generates: "
            f"{_spec_difference(real_spec, syn_spec)} (read it with `read_parquet` from files "
            "with the model's training schema)"
        )


def _label_filter(enc, label_col: _Column, label_key: str, has_mask: bool):
    """keep(row or batch) -> bool (per row): known classes; null labels are dropped and an
    unknown class fails the iteration."""
    import tensorflow as tf

    classes = _constant_values(list(enc.classes), label_col)
    fill = tf.constant(label_col.fill, label_col.tf_dtype)
    fill_is_class = any(
        (label_col.fill == (c.encode() if isinstance(c, str) else c)) for c in enc.classes
    )

    def keep(row):
        label = row[label_key]
        known = tf.reduce_any(tf.equal(tf.expand_dims(label, -1), classes), axis=-1)
        if has_mask:
            null = row[label_key + NULL_MASK_SUFFIX]
        elif fill_is_class:
            null = tf.zeros_like(known)
        else:
            null = tf.equal(label, fill)
        ok = tf.debugging.Assert(
            tf.reduce_all(tf.logical_or(known, null)),
            [f"`label_key` '{label_key}' holds a class the model does not know "
             f"(known: {list(enc.classes)}); got", label],
        )
        with tf.control_dependencies([ok]):
            return tf.logical_and(known, tf.logical_not(null))

    return keep


def _with_flag(flag_key, value: bool, batched: bool):
    import tensorflow as tf

    def add(row):
        row = dict(row)
        ref = next(iter(row.values()))
        shape = [tf.shape(ref)[0]] if batched else []
        row[flag_key] = tf.fill(shape, tf.constant(value))
        return row

    return add


def balance(
    dataset,
    model,
    *,
    label_key: str,
    sampling_strategy="auto",
    class_counts: Mapping[Any, int] | None = None,
    seed: int,
    batch_size: int | None = None,
    flag_key: str | None = None,
    synthetic_batch_size: int = 1024,
    mix_rows: int = 1,
):
    """Mixes a real dataset with per-class synthetic streams to reach a class distribution.

    Real rows and generated rows are interleaved one row at a time: each output row comes
    from the real stream or from class c's synthetic stream at random with the weights of
    `mixture_weights`, so it is of class c with probability ``p_c``. This is
    `tf.data.Dataset.sample_from_datasets`'s scheme; it is built from `choose_from_datasets`
    with the i.i.d. source indices drawn 4096 at a time (stateless), because
    `sample_from_datasets` draws one random op per row and was the bottleneck (6x slower).
    The output ends when the real dataset ends (one balanced epoch holds every real row
    once plus the synthetic rows); repeat or shuffle it as usual. Rows whose label is null are dropped (as when fitting); a label the
    model does not know fails the iteration with `tf.errors.InvalidArgumentError`.

    Args:
        dataset: feature dicts from `read_parquet` (batched) or the same unbatched (rows).
            Its keys pick the generated columns and null masks.
        model: an `Artifact` or a model directory.
        label_key: the label column (the model's label).
        sampling_strategy: ``"auto"`` (every class up to the majority) and imbalanced-learn's
            other forms, or a target distribution ``{class: proportion}`` (floats, sum 1).
        class_counts: real rows per class of `dataset` (default: the counts the model was
            trained on, right when `dataset` is the training data).
        seed: seeds both the mixing and the generation.
        batch_size: batch the output with this many rows; None yields single rows.
        flag_key: if given, add a bool entry of this name, True on generated rows.
        synthetic_batch_size: rows per decoder call in the synthetic streams.
        mix_rows: rows taken from one source at a time. 1 (default) mixes single rows;
            larger values mix chunks of that many rows with `Dataset.rebatch` instead of
            unbatching, several times faster (tf.data's per-element cost is paid per chunk)
            at the price of noisier class counts within a batch. Same target either way.

    Returns:
        A `tf.data.Dataset` of feature dicts (rows, or batches of `batch_size`).

    Raises:
        SchemaError: the dataset's structure differs from what the model generates.
        VAEAugmentError: a bad strategy, counts or batch size.

    Example:
        >>> real = read_parquet("examples/data/churn.parquet", 1024)          # doctest: +SKIP
        >>> ds = balance(real, "runs/churn", label_key="churn", seed=0, batch_size=256)
        ...                                                                  # doctest: +SKIP
        >>> model.fit(ds.map(to_features_and_label), epochs=5)               # doctest: +SKIP
    """
    import tensorflow as tf

    if batch_size is not None:
        _check_positive("batch_size", batch_size)
    _check_positive("synthetic_batch_size", synthetic_batch_size)
    _check_positive("mix_rows", mix_rows)
    check_seed(seed)
    art = _artifact(model)
    enc = art.encoding
    cols, masks, batched = _structure(art, dataset.element_spec, label_key, flag_key, "dataset")
    if flag_key is not None and flag_key in dataset.element_spec:
        raise SchemaError(f"`flag_key` '{flag_key}' is already a key of the dataset")
    counts = _counts(enc, class_counts)
    w_real, w_syn, _ = mixture_weights(counts, sampling_strategy, classes=enc.classes)

    label_col = next(c for c in cols if c.name == label_key)
    keep = _label_filter(enc, label_col, label_key, label_key in masks)
    chunked = mix_rows > 1
    if batched:  # filter whole batches (vectorised), then split them
        real = dataset.map(lambda b: _boolean_mask(b, keep(b)), num_parallel_calls=tf.data.AUTOTUNE)
        real = real.rebatch(mix_rows) if chunked else real.unbatch()
    elif chunked:
        real = dataset.batch(mix_rows).map(lambda b: _boolean_mask(b, keep(b))).rebatch(mix_rows)
    else:
        real = dataset.filter(keep)
    streams, weights = [real], [w_real]
    for c, w in w_syn.items():
        if w <= 1e-12:
            continue
        syn = _class_stream(
            art, enc.class_index(c), cols, masks, int(synthetic_batch_size), int(seed), None
        )
        syn = syn.rebatch(mix_rows) if chunked else syn.unbatch()
        _check_spec(real.element_spec, syn.element_spec, "dataset")
        streams.append(syn)
        weights.append(w)
    if flag_key is not None:
        streams = [s.map(_with_flag(flag_key, i > 0, chunked)) for i, s in enumerate(streams)]
    if len(streams) == 1:
        out = streams[0]
    else:
        out = tf.data.Dataset.choose_from_datasets(
            streams, _selector(weights, int(seed)), stop_on_empty_dataset=True
        )
    if not chunked:
        return out.batch(int(batch_size)) if batch_size is not None else out
    return out.rebatch(int(batch_size)) if batch_size is not None else out.unbatch()


def _seed_words(seed: int) -> np.ndarray:
    return np.asarray([int(seed) & 0x7FFFFFFF, (int(seed) >> 31) & 0x7FFFFFFF], np.int32)


def _selector(weights: Sequence[float], seed: int, chunk: int = 4096):
    """An endless int64 stream of i.i.d. source indices drawn with `weights`.

    What `sample_from_datasets` feeds `choose_from_datasets`, but drawn `chunk` at a time
    (inverse CDF of stateless uniforms, chunk i seeded from (seed, i)) instead of one random
    op per row, which made the per-row selector the slowest step of the pipeline.
    """
    import tensorflow as tf

    w = np.asarray(weights, np.float64)
    edges = tf.constant(np.cumsum(w / w.sum())[:-1])
    base = tf.constant(_seed_words(seed))

    def draw(i):
        key = tf.random.experimental.stateless_fold_in(base, i)
        u = tf.random.stateless_uniform([chunk], seed=key, dtype=tf.float64)
        return tf.searchsorted(edges, u, side="right", out_type=tf.int64)

    return tf.data.Dataset.counter(dtype=tf.int64).map(draw).unbatch()


def _boolean_mask(batch, keep):
    import tensorflow as tf

    return {k: tf.boolean_mask(v, keep) for k, v in batch.items()}


# ---------------------------------------------------------------------- per-batch augmentation
def augment_fn(
    model,
    *,
    label_key: str,
    ratio: float | None = None,
    seed: int,
    sampling_strategy="auto",
    class_counts: Mapping[Any, int] | None = None,
    flag_key: str | None = None,
) -> Callable:
    """A function for ``dataset.map(fn)`` on batched feature dicts: appends generated rows.

    For a batch of B rows it appends ``floor(ratio * B + u)`` generated rows (u uniform in
    [0, 1), so ``ratio * B`` on average), of classes drawn with the synthetic weights of
    `mixture_weights`: with the default `ratio` the augmented stream matches
    `sampling_strategy` in expectation, like `balance`, without unbatching. The generated
    rows come after the real ones in each batch.

    Randomness is stateless: the seed of a batch is derived from `seed` and a fingerprint of
    the batch's contents, or from the element index when the dataset is enumerated
    (``ds.enumerate().map(fn)``), so parallel maps stay deterministic.

    Args:
        model: an `Artifact` or a model directory.
        label_key: the label column (the model's label).
        ratio: generated rows per real row (default: from `sampling_strategy`).
        seed: run seed.
        sampling_strategy / class_counts: as in `balance`.
        flag_key: if given, add a bool entry of this name, True on generated rows.

    Returns:
        ``fn(batch)`` or ``fn(index, batch)`` -> batch with the generated rows appended.

    Example:
        >>> fn = augment_fn("runs/churn", label_key="churn", seed=0)     # doctest: +SKIP
        >>> ds = read_parquet("churn.parquet", 256).map(fn, num_parallel_calls=-1)
        ...                                                             # doctest: +SKIP
    """
    import tensorflow as tf

    check_seed(seed)
    art = _artifact(model)
    enc = art.encoding
    counts = _counts(enc, class_counts)
    w_real, w_syn, _ = mixture_weights(counts, sampling_strategy, classes=enc.classes)
    total_syn = sum(w_syn.values())
    if ratio is None:
        ratio = total_syn / w_real
    if not isinstance(ratio, numbers.Real) or isinstance(ratio, bool) or not ratio >= 0 or not math.isfinite(ratio):
        raise VAEAugmentError(f"`ratio` must be a non-negative number, got {ratio!r}")
    if total_syn <= 0:
        # the target already holds: generate in proportion to the target itself
        _, _, p = mixture_weights(counts, sampling_strategy, classes=enc.classes)
        w_syn, total_syn = p, 1.0
    logits = np.log(np.maximum([w_syn[c] / total_syn for c in enc.classes], 1e-30))
    ratio = float(ratio)
    base = _seed_words(seed)

    def augment(batch, batch_seed):
        cols, masks, batched = _structure(art, _spec_of(batch), label_key, flag_key, "batch")
        if not batched:
            raise SchemaError(
                f"`augment_fn` maps batches, but `label_key` '{label_key}' has shape "
                f"{batch[label_key].shape}; call `.batch(...)` first"
            )
        seeds = tf.random.experimental.stateless_split(batch_seed, num=3)
        rows = tf.shape(batch[label_key])[0]
        u = tf.random.stateless_uniform([], seed=seeds[0], dtype=tf.float64)
        k = tf.cast(tf.floor(ratio * tf.cast(rows, tf.float64) + u), tf.int32)
        y = tf.cast(
            tf.random.stateless_categorical(
                tf.constant(logits[None, :], tf.float32), k, seed=seeds[1]
            )[0],
            tf.int32,
        )
        syn = _synthetic_features(art, y, cols, masks, seeds[2])
        for key, v in syn.items():
            real = batch[key]
            if real.dtype != v.dtype or not real.shape[1:].is_compatible_with(v.shape[1:]):
                raise SchemaError(
                    f"the batch does not match the rows the model generates: '{key}' is "
                    f"{real.dtype.name} {real.shape} in the batch, {v.dtype.name} {v.shape} "
                    "when generated"
                )
        out = {}
        for key, v in batch.items():
            if key == flag_key:
                continue
            out[key] = tf.concat([v, syn[key]], axis=0)
        if flag_key is not None:
            out[flag_key] = tf.concat([tf.zeros([rows], tf.bool), tf.ones([k], tf.bool)], 0)
        return out

    @tf.autograph.experimental.do_not_convert  # plain TF ops; lets our errors through as-is
    def fn(*args):
        if len(args) == 2:
            index, batch = args
            batch_seed = tf.random.experimental.stateless_fold_in(
                tf.constant(base), tf.cast(index, tf.int64)
            )
        elif len(args) == 1:
            batch = args[0]
            batch_seed = tf.bitwise.bitwise_xor(_fingerprint_seed(batch), tf.constant(base))
        else:
            raise VAEAugmentError(
                f"`augment_fn`'s function takes (batch) or (index, batch), got {len(args)} arguments"
            )
        return augment(batch, batch_seed)

    return fn


def _spec_of(batch: Mapping[str, Any]) -> dict[str, Any]:
    import tensorflow as tf

    if not isinstance(batch, Mapping):
        raise SchemaError(f"`augment_fn` maps feature dicts, got {type(batch).__name__}")
    return {k: tf.TensorSpec(v.shape, v.dtype) for k, v in batch.items()}


def _fingerprint_seed(batch: Mapping[str, Any]):
    """A [2] int32 seed from the contents of a batch (stateless, graph-only)."""
    import tensorflow as tf

    parts = []
    for key in sorted(batch):
        v = batch[key]
        if v.shape.rank == 0:
            v = tf.reshape(v, [1])
        parts.append(tf.fingerprint(v))
    digest = tf.fingerprint(tf.reshape(tf.concat(parts, axis=0), [1, -1]))
    return tf.bitcast(tf.reshape(digest, [2, 4]), tf.int32)
