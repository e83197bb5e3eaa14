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
                              ``image_shape``
                              metadata or ``[n]``
    fixed_shape_tensor        T, its ``shape``     every element filled as T
                              (stored layout; the
                              permutation is not
                              applied)
    list<T> (numeric)         T, shape from the    every element filled as T
                              ``image_shape``      (a row of another length is
                              metadata (required)  an error naming it)
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
``batch_size=sampler.block_rows(encoding)`` (8192, fewer for models of large images) a synthetic stream yields the same rows as ``vae-augment sample``.

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

from vae_augment.errors import SchemaError, VAEAugmentError, check_seed, warn
from vae_augment.sampler import block_rows
from vae_augment.tfdata_read import (  # the Parquet reader; re-exported: public names, tests
    NULL_MASK_SUFFIX,
    _arrow_column_to_numpy,  # noqa: F401
    _check_positive,
    _Column,
    _columns,  # noqa: F401
    _element_spec,
    fill_value,
    read_parquet,
)
from vae_augment.tfdata_synthetic import (  # the synthetic stream; re-exported
    _artifact,
    _block_seed_tf,  # noqa: F401
    _class_value,
    _constant_values,
    _mixed_stream,
    _model_column,
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
def _counts(enc, class_counts) -> dict[Any, int]:
    if class_counts is None:
        return dict(enc.class_counts)
    if not isinstance(class_counts, Mapping):
        raise VAEAugmentError(f"`class_counts` must be a mapping {{class: rows}}, got {class_counts!r}")
    counts = {c: 0 for c in enc.classes}
    for k, v in class_counts.items():
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
            raise VAEAugmentError(f"`class_counts` for class {k!r} must be a non-negative integer, got {v!r}")
        counts[_class_value(enc, k, "class_counts")] += int(v)
    return counts


def _strategy(enc, sampling_strategy):
    """`sampling_strategy` with its dict keys as the model's classes (`map_strategy_keys`'
    rule, as the Python API's: ``b"yes"``, ``"9"`` for 9 and numpy scalars are accepted as
    in `class_counts`)."""
    if not isinstance(sampling_strategy, Mapping):
        return sampling_strategy
    from vae_augment.balancing import map_strategy_keys

    return map_strategy_keys(sampling_strategy, enc.classes, known="model")


def _is_distribution(strategy) -> bool:
    """A ``{class: proportion}`` target: some value is a non-integral real (a Python or
    numpy float), as opposed to imbalanced-learn's ``{class: count}``."""
    return isinstance(strategy, Mapping) and any(
        isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral)
        for v in strategy.values()
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


def _check_label_key(enc, label_key) -> None:
    if label_key != enc.label:
        raise SchemaError(
            f"`label_key` {label_key!r} is not the model's label column '{enc.label}'"
        )


def _check_flag_key(flag_key) -> None:
    if flag_key is not None and not isinstance(flag_key, str):
        raise VAEAugmentError(f"`flag_key` must be None or a column name (str), got {flag_key!r}")


def _structure(art, spec, label_key: str, flag_key: str | None, what: str):
    """Columns, masks and batchedness of a feature-dict element spec, checked against a model."""
    if not isinstance(spec, Mapping):
        kind = type(spec).__name__
        if isinstance(spec, tuple):  # (features, label) pairs: the usual Keras form
            kind = f"tuples of {len(spec)} ({', '.join(type(x).__name__ for x in spec)})"
        raise SchemaError(
            f"`{what}` must yield feature dicts {{column: tensor}} with the label among them, "
            f"got elements of {kind}; balance before splitting off the label (e.g. "
            f"`.map(lambda d: (d, d.pop('label')))` after it)")
    enc = art.encoding
    if label_key not in spec:
        raise SchemaError(f"`label_key` '{label_key}' is not a key of the {what}: {sorted(spec)}")
    _check_label_key(enc, label_key)
    if flag_key is not None and flag_key in spec:
        raise SchemaError(f"`flag_key` '{flag_key}' is already a key of the {what}")
    keys = list(spec)
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
    batched = rank == 1
    # a list column the model only fills (excluded, or null in training) has the real shape
    cols = [_model_column(enc, c, spec[c].shape[1:] if batched else spec[c].shape)
            for c in order]
    return cols, [c.name for c in cols if c.name in masks], batched


def _check_spec(spec, cols: list[_Column], masks: list[str], batched: bool, what: str,
                label_key: str | None = None, classes: Sequence[Any] = ()) -> dict[str, Any]:
    """Every entry's dtype and per-row shape equal what the model generates (checked before
    any op touches the data, so a wrong dtype is reported here, not as a tracing error).
    A feature of another integer or float width than the model's (int32 for its int64, as
    Spark writes them; float32 after a user's cast) is taken: returns ``{key: dtype}``, the
    real dtypes the synthetic rows are cast to (`_as_real`), as `balance` and the CLI do.
    So is a label of another integer width, if it can hold every one of the model's
    `classes`."""
    import tensorflow as tf

    diffs, casts = [], {}
    for k, want in _element_spec(cols, masks).items():
        got = spec[k]
        row = got.shape[1:] if batched else got.shape
        same_kind = ((got.dtype.is_integer and want.dtype.is_integer)
                     or (got.dtype.is_floating and want.dtype.is_floating))
        if k == label_key:  # a label of another width and the same signedness (null fill)
            same_kind = (got.dtype.is_integer and want.dtype.is_integer
                         and got.dtype.is_unsigned == want.dtype.is_unsigned)
        if got.dtype != want.dtype and row == want.shape[1:] and same_kind:
            if k == label_key:  # an int32 label for a model of int64 classes: every class
                # must be a value of it, or its synthetic rows would carry another class
                outside = [c for c in classes if not got.dtype.min <= int(c) <= got.dtype.max]
                if outside:
                    raise SchemaError(
                        f"`label_key` '{k}' has dtype {got.dtype.name}, which cannot hold the "
                        f"model's class(es) {outside[:5]}: cast it to {want.dtype.name}")
            casts[k] = got.dtype
            continue
        if got.dtype != want.dtype or row != want.shape[1:]:
            diffs.append(
                f"'{k}': real {tf.TensorSpec(row, got.dtype)} vs synthetic "
                f"{tf.TensorSpec(want.shape[1:], want.dtype)}"
            )
    if diffs:
        raise SchemaError(
            f"the {what} does not match the rows the model generates (per row): "
            f"{'; '.join(diffs[:5])} (read it with `read_parquet` from files with the model's "
            "training schema)"
        )
    return casts


def _as_real(features: Mapping[str, Any], casts: Mapping[str, Any]) -> dict[str, Any]:
    """Synthetic `features` with the `casts` entries (`_check_spec`) in the real rows'
    dtypes; integers clipped to a narrower type's range first."""
    import tensorflow as tf

    out = dict(features)
    for k, dtype in casts.items():
        v = out[k]
        if dtype.is_integer and v.dtype.is_integer:
            v = tf.clip_by_value(v, tf.cast(max(dtype.min, v.dtype.min), v.dtype),
                                 tf.cast(min(dtype.max, v.dtype.max), v.dtype))
        out[k] = tf.cast(v, dtype)
    return out


def _label_filter(enc, label_col: _Column, label_key: str, has_mask: bool):
    """keep(row or batch) -> bool (per row): known classes; null labels are dropped and an
    unknown class fails the iteration."""
    import tensorflow as tf

    classes = _constant_values(list(enc.classes), label_col)
    fill = tf.constant(label_col.fill, label_col.tf_dtype)
    widen = label_col.tf_dtype.is_integer  # a label of another integer width (`_check_spec`)
    if widen:  # compared as int64: a narrower label's values are all values of it
        classes, fill = tf.cast(classes, tf.int64), tf.cast(fill, tf.int64)
    fill_is_class = any(
        (label_col.fill == (c.encode() if isinstance(c, str) else c)) for c in enc.classes
    )

    if fill_is_class and not has_mask:
        warn(
            f"`label_key` '{label_key}' has dtype {label_col.tf_dtype.name}, whose null fill "
            f"value ({label_col.fill!r}) is one of the model's classes: rows with a null label "
            f"cannot be told from that class and are kept as it. Read the data with "
            f"read_parquet(..., null_masks=['{label_key}']) to drop them")

    def keep(row):
        label = tf.cast(row[label_key], tf.int64) if widen else row[label_key]
        known = tf.reduce_any(tf.equal(tf.expand_dims(label, -1), classes), axis=-1)
        if has_mask:
            null = row[label_key + NULL_MASK_SUFFIX]
        elif fill_is_class:
            null = tf.zeros_like(known)
        else:
            null = tf.equal(label, fill)
        fine = tf.logical_or(known, null)
        unknown = tf.unique(  # each value once, not once per row
            tf.boolean_mask(tf.reshape(label, [-1]), tf.logical_not(tf.reshape(fine, [-1]))))[0]
        ok = tf.debugging.Assert(  # the data is only computed when the check fails
            tf.reduce_all(fine),
            [f"`label_key` '{label_key}' holds a class the model does not know "
             f"(known: {list(enc.classes)}); unknown values:", unknown],
            summarize=20,
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
    reseed_each_epoch: bool = False,
):
    """Mixes a real dataset with a synthetic stream to reach a class distribution.

    Real rows and generated rows are interleaved one row at a time: each output row comes
    from the real stream or from the synthetic stream at random with the weights of
    `mixture_weights` (the synthetic stream's rows have their classes drawn with the
    classes' synthetic weights), so it is of class c with probability ``p_c``. This is
    `tf.data.Dataset.sample_from_datasets`'s scheme; it is built from `choose_from_datasets`
    with the i.i.d. source indices drawn 4096 at a time (stateless), because
    `sample_from_datasets` draws one random op per row and was the bottleneck (6x slower).
    The output ends when the real dataset ends (one balanced epoch holds every real row
    once plus the synthetic rows); repeat or shuffle it as usual. Its length is not known in
    advance, so its `cardinality()` is ``tf.data.UNKNOWN_CARDINALITY`` (`read_parquet`'s is known).
    Rows whose label is null are dropped (as when fitting); a label the model does not know
    fails the iteration with `tf.errors.InvalidArgumentError` naming the unknown values.

    Args:
        dataset: feature dicts from `read_parquet` (batched) or the same unbatched (rows).
            Its keys pick the generated columns and null masks.
        model: an `Artifact` or a model directory.
        label_key: the label column (the model's label).
        sampling_strategy: ``"auto"`` (every class up to the majority) and imbalanced-learn's
            other forms, or a target distribution ``{class: proportion}`` (floats, sum 1).
        class_counts: real rows per class of `dataset` (default: the counts the model was
            trained on, right when `dataset` is the training data). Class keys here and in
            a `sampling_strategy` dict may be the class, its string form or bytes
            (``b"yes"``, as counted from the stream's own labels).
        seed: seeds both the mixing and the generation.
        batch_size: batch the output with this many rows; None yields single rows. Under
            `tf.distribute.MirroredStrategy` use a multiple of the replica count.
        flag_key: if given, add a bool entry of this name, True on generated rows.
        synthetic_batch_size: rows per decoder call of the synthetic stream (one stream,
            every class's rows drawn in it), at most: when an epoch needs fewer synthetic
            rows (from ``class_counts`` and the strategy), the next power of two at or above
            that need (64 at least), so a small dataset does not generate blocks it drops;
            for models of large images, at most `vae_augment.sampler.block_rows` rows.
        mix_rows: rows taken from one source at a time. 1 (default) mixes single rows;
            larger values mix chunks of that many rows with `Dataset.rebatch` instead of
            unbatching, several times faster (tf.data's per-element cost is paid per chunk)
            at the price of noisier class counts within a batch. Same target either way.
        reseed_each_epoch: False (default): every iteration (epoch) replays the same rows.
            True: each iteration draws a fresh key from ``tf.data.Dataset.random(seed,
            rerandomize_each_iteration=True)`` and folds it into the mixing and generation
            seeds, so every epoch has new synthetic rows and a new interleaving; the n-th
            epoch is the same in every run with the same `seed` (and TF global seed).
            Its epochs differ in length by the random number of synthetic rows, and Keras 3's
            `fit` takes the step count from the first epoch and cuts longer ones short (about
            1 % of a churn epoch's real rows): with `model.fit`, pass
            ``ds.repeat()`` and a `steps_per_epoch`, or keep the default.

    Returns:
        A `tf.data.Dataset` of feature dicts (rows, or batches of `batch_size`).

    Raises:
        SchemaError: the dataset's structure or dtypes differ from what the model generates.
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
    if not isinstance(reseed_each_epoch, bool):
        raise VAEAugmentError(f"`reseed_each_epoch` must be a bool, got {reseed_each_epoch!r}")
    _check_flag_key(flag_key)
    if not isinstance(dataset, tf.data.Dataset):
        raise VAEAugmentError(
            f"`dataset` must be a tf.data.Dataset of feature dicts (e.g. from `read_parquet`), "
            f"got {type(dataset).__name__}")
    art = _artifact(model)
    enc = art.encoding
    spec = dataset.element_spec
    cols, masks, batched = _structure(art, spec, label_key, flag_key, "dataset")
    casts = _check_spec(spec, cols, masks, batched, "dataset", label_key, enc.classes)
    counts = _counts(enc, class_counts)
    w_real, w_syn, _ = mixture_weights(counts, _strategy(enc, sampling_strategy), classes=enc.classes)
    total_syn = sum(w_syn.values())
    # synthetic rows per epoch, in expectation: sets the generator's block size
    rows_needed = total_syn / w_real * sum(counts.values()) if w_real > 0 else math.inf
    keep = _real_rows(enc, cols, masks, label_key)
    chunked = mix_rows > 1

    def one_epoch(key=None):
        mask = lambda b: _boolean_mask(b, keep(b))  # noqa: E731
        if batched:  # filter whole batches (vectorised), then split them
            real = dataset.map(mask, num_parallel_calls=tf.data.AUTOTUNE)
            real = real.rebatch(mix_rows) if chunked else real.unbatch()
        elif chunked:
            real = dataset.batch(mix_rows).map(mask).rebatch(mix_rows)
        else:
            real = dataset.filter(keep)
        streams, weights = [real], [w_real]
        if total_syn > 1e-12:
            # one stream of all classes (each row's class drawn with the synthetic weights):
            # a source chosen with weights (real, class 1, ..., class k) row by row is the
            # same mixture as (real, synthetic) and then a class for each synthetic row
            syn = _mixed_stream(
                art, [w_syn.get(c, 0.0) / total_syn for c in enc.classes], cols, masks,
                # no larger than the sampler's block for this model (big images: smaller)
                _block_rows(rows_needed, min(int(synthetic_batch_size), block_rows(enc))),
                int(seed), key,
            )
            # Endless, but the mixture ends with the real rows: a finite (never reached) take
            # makes the output's cardinality UNKNOWN instead of INFINITE, so `len()`, `take(n)`
            # and Keras do not treat one balanced epoch as endless. Per block: no row cost.
            syn = syn.take(2**62)
            if casts:  # features of another width in the real rows: theirs
                syn = syn.map(lambda d: _as_real(d, casts))
            streams.append(syn.rebatch(mix_rows) if chunked else syn.unbatch())
            weights.append(total_syn)
        if flag_key is not None:
            streams = [s.map(_with_flag(flag_key, i > 0, chunked)) for i, s in enumerate(streams)]
        if len(streams) == 1:
            return streams[0]
        return tf.data.Dataset.choose_from_datasets(
            streams, _selector(weights, int(seed), key=key), stop_on_empty_dataset=True
        )

    if reseed_each_epoch:
        keys = tf.data.Dataset.random(seed=int(seed) % 2**63, rerandomize_each_iteration=True)
        out = keys.take(1).flat_map(one_epoch)
    else:
        out = one_epoch()
    if not chunked:
        return out.batch(int(batch_size)) if batch_size is not None else out
    return out.rebatch(int(batch_size)) if batch_size is not None else out.unbatch()


def _block_rows(needed: float, most: int, least: int = 64) -> int:
    """Rows per decoder call for a stream that needs `needed` rows per epoch: the next power
    of two at or above it, within [min(least, most), most]."""
    if not math.isfinite(needed) or needed >= most:
        return most
    return max(min(least, most), min(most, 1 << max(0, math.ceil(math.log2(max(needed, 1.0))))))


def _real_rows(enc, cols: list[_Column], masks: list[str], label_key: str):
    """keep(row or batch) -> bool per row: the one rule for the real rows `balance` and
    `augment_fn` keep (null labels dropped, an unknown class fails the iteration)."""
    label_col = next(c for c in cols if c.name == label_key)
    return _label_filter(enc, label_col, label_key, label_key in masks)


def _seed_words(seed: int) -> np.ndarray:
    return np.asarray([int(seed) & 0x7FFFFFFF, (int(seed) >> 31) & 0x7FFFFFFF], np.int32)


def _selector(weights: Sequence[float], seed: int, chunk: int = 4096, key=None):
    """An endless int64 stream of i.i.d. source indices drawn with `weights`.

    What `sample_from_datasets` feeds `choose_from_datasets`, but drawn `chunk` at a time
    (inverse CDF of stateless uniforms, chunk i seeded from (seed, i)) instead of one random
    op per row, which made the per-row selector the slowest step of the pipeline. `key` (an
    int64 scalar tensor, optional) is folded into the seed first.
    """
    import tensorflow as tf

    w = np.asarray(weights, np.float64)
    edges = tf.constant(np.cumsum(w / w.sum())[:-1])
    base = tf.constant(_seed_words(seed))
    if key is not None:
        base = tf.random.experimental.stateless_fold_in(base, key)

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
    rows_multiple_of: int | None = None,
) -> Callable:
    """A function for ``dataset.map(fn)`` on batched feature dicts: appends generated rows.

    Real rows follow `balance`'s rule: rows whose label is null are dropped, and a label the
    model does not know fails the iteration (`tf.errors.InvalidArgumentError`). For a batch
    with B rows left it appends ``floor(ratio * B + u)`` generated rows (u uniform in
    [0, 1), so ``ratio * B`` on average), of classes drawn with the synthetic weights of
    `mixture_weights`: with the default `ratio` the augmented stream matches
    `sampling_strategy` in expectation, like `balance`, without unbatching. The generated
    rows come after the real ones in each batch.

    Randomness is stateless: the seed of a batch is derived from `seed` and a fingerprint of
    the batch's contents, or from the element index when the dataset is enumerated
    (``ds.enumerate().map(fn)``), so parallel maps stay deterministic.

    Output batches vary in size. Under `tf.distribute.MirroredStrategy`, Keras needs the
    first batch's size to divide by the replica count (it builds the model from the mean of
    the first batch across replicas): pass ``rows_multiple_of=strategy.num_replicas_in_sync``,
    or use `balance` with such a `batch_size`, or ``.rebatch(n)`` the output.

    Args:
        model: an `Artifact` or a model directory.
        label_key: the label column (the model's label; checked here).
        ratio: generated rows per real row (default: from `sampling_strategy`).
        seed: run seed.
        sampling_strategy / class_counts: as in `balance`.
        flag_key: if given, add a bool entry of this name, True on generated rows (it must
            not be a key of the batches).
        rows_multiple_of: if given, generate up to ``rows_multiple_of - 1`` more rows per
            batch so that every output batch's size is a multiple of it.

    Returns:
        ``fn(batch)`` or ``fn(index, batch)`` -> batch with the generated rows appended.

    Raises:
        SchemaError: `label_key` is not the model's label; when mapped, the batches are not
            feature dicts (or ``(index, dict)`` pairs) or do not match the model.

    Example:
        >>> fn = augment_fn("runs/churn", label_key="churn", seed=0)     # doctest: +SKIP
        >>> ds = read_parquet("churn.parquet", 256).map(fn, num_parallel_calls=-1)
        ...                                                             # doctest: +SKIP
    """
    import tensorflow as tf

    check_seed(seed)
    _check_flag_key(flag_key)
    if rows_multiple_of is not None:
        _check_positive("rows_multiple_of", rows_multiple_of)
    art = _artifact(model)
    enc = art.encoding
    _check_label_key(enc, label_key)
    counts = _counts(enc, class_counts)
    strategy = _strategy(enc, sampling_strategy)
    w_real, w_syn, p = mixture_weights(counts, strategy, classes=enc.classes)
    total_syn = sum(w_syn.values())
    if ratio is None:
        ratio = total_syn / w_real
    if not isinstance(ratio, numbers.Real) or isinstance(ratio, bool) or not ratio >= 0 or not math.isfinite(ratio):
        raise VAEAugmentError(f"`ratio` must be a non-negative number, got {ratio!r}")
    if total_syn <= 0:
        # the target already holds: generate in proportion to the target itself
        w_syn, total_syn = p, 1.0
    logits = np.log(np.maximum([w_syn[c] / total_syn for c in enc.classes], 1e-30))
    ratio = float(ratio)
    base = _seed_words(seed)

    def augment(batch, batch_seed):
        spec = {k: tf.TensorSpec(v.shape, v.dtype) for k, v in batch.items()}
        cols, masks, batched = _structure(art, spec, label_key, flag_key, "batch")
        if not batched:
            raise SchemaError(
                f"`augment_fn` maps batches, but `label_key` '{label_key}' has shape "
                f"{batch[label_key].shape}; call `.batch(...)` first"
            )
        casts = _check_spec(spec, cols, masks, True, "batch", label_key, enc.classes)
        keep = _real_rows(enc, cols, masks, label_key)
        batch = _boolean_mask(batch, keep(batch))
        seeds = tf.random.experimental.stateless_split(batch_seed, num=3)
        rows = tf.shape(batch[label_key])[0]
        u = tf.random.stateless_uniform([], seed=seeds[0], dtype=tf.float64)
        k = tf.cast(tf.floor(ratio * tf.cast(rows, tf.float64) + u), tf.int32)
        if rows_multiple_of is not None:
            k += tf.math.floormod(-(rows + k), int(rows_multiple_of))
        y = tf.cast(
            tf.random.stateless_categorical(
                tf.constant(logits[None, :], tf.float32), k, seed=seeds[1]
            )[0],
            tf.int32,
        )
        syn = _as_real(_synthetic_features(art, y, cols, masks, seeds[2]), casts)
        out = {key: tf.concat([v, syn[key]], axis=0) for key, v in batch.items()}
        if flag_key is not None:
            out[flag_key] = tf.concat([tf.zeros([rows], tf.bool), tf.ones([k], tf.bool)], 0)
        return out

    @tf.autograph.experimental.do_not_convert  # plain TF ops; lets our errors through as-is
    def fn(*args):
        if len(args) == 1 and isinstance(args[0], Mapping):
            batch = args[0]
            batch_seed = tf.bitwise.bitwise_xor(_fingerprint_seed(batch), tf.constant(base))
        elif len(args) == 2 and isinstance(args[1], Mapping) and _is_index(args[0]):
            index, batch = args
            batch_seed = tf.random.experimental.stateless_fold_in(
                tf.constant(base), tf.cast(index, tf.int64)
            )
        else:
            raise SchemaError(
                "`augment_fn` maps feature dicts {column: batch} (as `read_parquet` yields), "
                "or (index, feature dict) pairs after `.enumerate()`; got elements "
                f"{_describe(args)}. Map it before converting batches to (features, label)"
            )
        return augment(batch, batch_seed)

    return fn


def _is_index(x) -> bool:
    import tensorflow as tf

    return isinstance(x, tf.Tensor) and x.dtype.is_integer and x.shape.rank == 0


def _describe(args) -> str:
    def one(x):
        if isinstance(x, Mapping):
            return "dict"
        shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
        if shape is not None and dtype is not None:
            return f"Tensor({getattr(dtype, 'name', dtype)}, {shape})"
        return type(x).__name__

    return "(" + ", ".join(one(x) for x in args) + ")" if len(args) != 1 else one(args[0])


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
