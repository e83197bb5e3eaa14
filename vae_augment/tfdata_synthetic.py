"""The synthetic half of `vae_augment.tfdata`: generated rows as a graph-mode tf.data stream.

`synthetic_dataset` yields one class's generated rows with the same keys, dtypes and shapes as
`tfdata.read_parquet` gives for real rows; block ``b`` of class ``c`` uses the sampler's
seed `sampler.block_seed(seed, c, b)`, computed here in TF ops (`_block_seed_tf`), so the rows
equal the CLI's. The whole path is TF ops (no `py_function`): see `vae_augment.tfdata`.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from vae_augment.errors import SchemaError, VAEAugmentError, check_guided, check_seed
from vae_augment.tfdata_read import (
    NULL_MASK_SUFFIX,
    _check_positive,
    _Column,
    _mask_names,
    _names,
)

__all__ = ["synthetic_dataset"]

# numpy.random.SeedSequence constants (O'Neill's seed_seq), used by `_block_seed_tf`.
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
_M32 = 0xFFFFFFFF


# ---------------------------------------------------------------------- synthetic stream
def _artifact(model):
    from vae_augment.artifact import Artifact, load_artifact, warn_if_sampler_changed

    if isinstance(model, (str, os.PathLike)):
        model = load_artifact(os.fspath(model))
    if isinstance(model, Artifact):
        warn_if_sampler_changed(model)  # other rows for a seed than when it was saved
        return model
    raise VAEAugmentError(
        f"`model` must be an Artifact or a model directory, got {type(model).__name__}"
    )


def _class_value(enc, value, what: str = "label"):
    """The model's class for `value`: one rule for every class key the tf.data API takes.

    Accepts a class, its string form (``"9"`` for 9), bytes as a stream's labels hold them
    (``b"yes"``) and numpy scalars. `what` names the argument in the error.
    """
    try:  # class_index takes numpy scalars and bytes too
        return enc.classes[enc.class_index(value)]
    except (SchemaError, TypeError) as exc:  # TypeError: unhashable, e.g. a list of classes
        if isinstance(value, (bytes, bytearray)):  # named as the user reads it
            value = bytes(value).decode("utf-8", "replace")
        raise SchemaError(
            f"`{what}` names class {value!r}, which is not one of the model's classes "
            f"{list(enc.classes)}"
        ) from exc


def _u32_words(n: int) -> list[int]:
    """numpy's _int_to_uint32_array for a non-negative int."""
    if n == 0:
        return [0]
    words = []
    while n > 0:
        words.append(n & _M32)
        n >>= 32
    return words


def _block_seed_tf(seed: int, class_idx: int, block):
    """`sampler.block_seed(seed, class_idx, block)` in TF ops: a [2] int32 stateless seed.

    A re-implementation of ``numpy.random.SeedSequence([seed & 0xFFFFFFFF, class_idx, block])
    .generate_state(2)`` with uint32 arithmetic, so a graph can derive the seed of any block
    (blocks below 2**32). Checked against the NumPy original in the tests.
    """
    import tensorflow as tf

    u32 = tf.uint32

    def c(v):
        return tf.constant(v & _M32, u32)

    def shr(x):
        return tf.bitwise.right_shift(x, c(16))

    hash_a = [_INIT_A]

    def hashmix(value):
        value = tf.bitwise.bitwise_xor(value, c(hash_a[0]))
        hash_a[0] = (hash_a[0] * _MULT_A) & _M32
        value = value * c(hash_a[0])
        return tf.bitwise.bitwise_xor(value, shr(value))

    def mix(x, y):
        r = c(_MIX_L) * x - c(_MIX_R) * y
        return tf.bitwise.bitwise_xor(r, shr(r))

    entropy = [c(w) for w in _u32_words(int(seed) & _M32) + _u32_words(int(class_idx))]
    entropy.append(tf.cast(block, u32))
    pool = [hashmix(entropy[i] if i < len(entropy) else c(0)) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_POOL, len(entropy)):
        for dst in range(_POOL):
            pool[dst] = mix(pool[dst], hashmix(entropy[src]))
    hash_b = _INIT_B
    state = []
    for i in range(2):
        v = tf.bitwise.bitwise_xor(pool[i % _POOL], c(hash_b))
        hash_b = (hash_b * _MULT_B) & _M32
        v = v * c(hash_b)
        state.append(tf.bitwise.bitwise_xor(v, shr(v)))
    return tf.bitcast(tf.stack(state), tf.int32)


def _constant_values(values: list[Any], c: _Column):
    import tensorflow as tf

    if c.np_dtype.kind == "O":
        return tf.constant([v if isinstance(v, bytes) else str(v) for v in values], tf.string)
    return tf.constant(np.asarray(values, dtype=c.np_dtype))


def _int_bounds(np_dtype) -> tuple[float, float]:
    from vae_augment.encoding import castable_int_bounds

    return castable_int_bounds(np_dtype)


def _rows_shape(rows, shape: tuple[int, ...]):
    """[rows, *shape] as an int32 shape tensor (also when `shape` is empty)."""
    import tensorflow as tf

    return tf.concat([[rows], tf.constant(shape, tf.int32, [len(shape)])], 0)


def _synthetic_features(art, y, cols: list[_Column], masks: list[str], seed, *,
                        candidates: int | None = None) -> dict[str, Any]:
    """Generates one batch for classes `y` ([B] int32) as a feature dict (TF ops only).
    `candidates`: in place of the model's (1: one plain draw per row)."""
    import tensorflow as tf

    from vae_augment.constraints import constrained_generate

    enc = art.encoding
    decoded = enc.decode_tf(constrained_generate(art.model, enc, y, seed,
                                                 candidates=candidates))
    specs = {s.name: s for s in enc.specs}
    rows = tf.shape(y)[0]
    want = set(masks)
    out: dict[str, Any] = {}
    for c in cols:
        isnull = None
        if c.name == enc.label:
            values = tf.gather(_constant_values(list(enc.classes), c), y)
        else:
            s = specs[c.name]
            if s.kind in ("excluded", "null"):
                values = tf.fill(_rows_shape(rows, c.shape), tf.constant(c.fill, c.tf_dtype))
                isnull = tf.ones([rows], tf.bool)
            elif s.kind == "categorical":
                codes, _ = decoded[c.name]
                n_vocab = len(s.vocab)
                table = _constant_values(list(s.vocab) + [c.fill], c)
                values = tf.gather(table, tf.minimum(codes, n_vocab))
                if s.has_nulls:
                    isnull = codes >= n_vocab
            else:
                v, isnull = decoded[c.name]
                if c.kind == "tensor":
                    v = tf.reshape(v, _rows_shape(rows, c.shape))
                if c.np_dtype.kind in "iu":
                    lo, hi = _int_bounds(c.np_dtype)
                    v = tf.clip_by_value(tf.round(v), lo, hi)
                values = tf.cast(v, c.tf_dtype)
                if s.int_low is not None:  # exact extremes, as `decode`
                    values = tf.clip_by_value(values, tf.constant(s.int_low, c.tf_dtype),
                                              tf.constant(s.int_high, c.tf_dtype))
        if isnull is not None:
            cond = tf.reshape(isnull, tf.concat([[rows], tf.ones([len(c.shape)], tf.int32)], 0))
            values = tf.where(cond, tf.constant(c.fill, c.tf_dtype), values)
        out[c.name] = values
        if c.name in want:
            out[c.name + NULL_MASK_SUFFIX] = (
                isnull if isnull is not None else tf.zeros([rows], tf.bool)
            )
    return out


def _filled_lists(enc) -> dict[str, str]:
    """The model's variable-length list columns that it fills rather than generates, by
    name: why ("excluded from" or "null in every row of" its training data). It learned no
    size for them (training reads none from an excluded column or from null rows), so their
    row shape is the real data's (`_model_column`)."""
    from vae_augment.schema import _is_var_list

    why = {"excluded": "excluded from", "null": "null in every row of"}
    return {s.name: why[s.kind] for s in enc.specs
            if s.kind in why and _is_var_list(enc.schema.field(s.name).type)}


def _model_column(enc, name: str, row_shape=None) -> _Column:
    """How the model's column `name` appears in its feature dicts. A variable-length list it
    fills (`_filled_lists`) takes `row_shape`, the real data's per-row shape, when known
    (`tfdata.balance`: it fills rows of any shape, and must match the real ones); without
    one, its field's or the schema's `image_shape` metadata, else a `SchemaError` naming
    the column and saying why the model knows no shape for it."""
    field = enc.schema.field(name)
    filled = _filled_lists(enc)
    if name in filled and row_shape is not None and row_shape.is_fully_defined():
        shape = tuple(int(d) for d in row_shape)
        col = _Column(field, enc.schema, (int(np.prod(shape)), "the real data's rows"))
        col.shape = shape
        return col
    try:
        return _Column(field, enc.schema)
    except SchemaError as exc:
        if name not in filled:
            raise
        raise SchemaError(
            f"column '{name}' is a variable-length list ({field.type}) that the model does not "
            f"generate (it was {filled[name]} its training data), so the model knows no row "
            f"shape for it: leave it out with `columns=` (`tfdata.balance` takes the real "
            f"dataset's shape)") from exc


def _model_columns(art, columns, null_masks) -> tuple[list[_Column], list[str]]:
    enc = art.encoding
    cols = [_model_column(enc, n) for n in _names(enc.schema, columns, "the model's training data")]
    return cols, _mask_names(null_masks, cols)


def synthetic_dataset(
    model,
    label,
    *,
    batch_size: int,
    seed: int,
    n: int | None = None,
    columns: Sequence[str] | None = None,
    null_masks: bool | Sequence[str] = False,
    guided: bool = False,
):
    """An endless (or `n`-row) stream of generated rows of one class, in graph mode.

    Elements have the same keys, dtypes and shapes as `read_parquet` gives for the model's
    training files with the same `columns` and `null_masks`. Each element is one decoder
    call of `batch_size` rows (the last one of an `n`-row stream is shorter); block ``b``
    uses the stateless seed `sampler.block_seed(seed, class, b)`, so with
    ``batch_size=sampler.block_rows(encoding)`` (8192, fewer for models of large images) the
    rows equal the CLI's ``vae-augment sample`` rows.

    Args:
        model: an `Artifact` or a model directory.
        label: the class value to generate (or its string form, or bytes such as
            ``b"yes"`` as a stream's labels hold them).
        batch_size: rows per element (and per decoder call). `sampler.block_rows` (8192
            for tables) reproduces the CLI's rows.
            8192 and 1024 generate at about the same rate on a 2-core CPU (379k vs 351k
            rows/s in benchmarks/results/tfdata.md; 146k vs 144k under load in a later
            round-robin run); each call runs on one intra-op thread, several in parallel.
        seed: run seed; the same seed gives the same rows.
        n: total rows, or None for an endless stream.
        columns: columns to produce (default: every column of the training schema).
        null_masks: as in `read_parquet`.
        guided: the model's selection at generation (its class guide's redraws), as
            `balance` and `augment_fn` generate; about 3x slower on a guided model. False
            (the default): one plain draw per row, as ``vae-augment sample`` without
            ``--guided``.

    Returns:
        A `tf.data.Dataset` of ``{column: Tensor[B, *shape]}`` dicts.

    Raises:
        SchemaError: `label` is not one of the model's classes, `columns` is unknown, or
            it names a variable-length list column the model does not generate (excluded,
            or null in training) with no `image_shape` metadata to give its shape.

    Example:
        >>> ds = synthetic_dataset("runs/churn", "yes", batch_size=1024, seed=0)  # doctest: +SKIP
        >>> ds.element_spec == read_parquet("churn.parquet", 1024).element_spec  # doctest: +SKIP
        True
    """
    _check_positive("batch_size", batch_size)
    if n is not None and (not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0):
        raise VAEAugmentError(f"`n` must be None or a non-negative integer, got {n!r}")
    check_seed(seed)
    art = _artifact(model)
    class_idx = art.encoding.class_index(_class_value(art.encoding, label, "label"))
    cols, masks = _model_columns(art, columns, null_masks)
    guided = check_guided(guided)
    return _class_stream(art, class_idx, cols, masks, int(batch_size), int(seed), n,
                         candidates=None if guided else 1)


def _mixed_stream(art, probs, cols, masks, batch_size: int, seed: int, key=None):
    """Endless blocks of `batch_size` synthetic rows whose classes are drawn i.i.d. with
    `probs` (one per model class): `balance`'s one synthetic stream. One stream, not one per
    class: each stream costs an instantiation of the generator's graph per iteration (about
    0.17 s for digits' decoder), which ten classes paid every epoch. `key` (an int64 scalar
    tensor, optional) is folded into every block's seed (`balance(reseed_each_epoch=True)`)."""
    import tensorflow as tf

    logits = tf.constant(np.log(np.maximum(np.asarray(probs, np.float64), 1e-30))[None, :],
                         tf.float32)
    slot = len(art.encoding.classes)  # a seed slot no class's own stream uses

    def block(b):
        block_seed = _block_seed_tf(seed, slot, b)
        if key is not None:
            block_seed = tf.random.experimental.stateless_fold_in(block_seed, key)
        seeds = tf.random.experimental.stateless_split(block_seed, num=2)
        y = tf.cast(tf.random.stateless_categorical(logits, batch_size, seed=seeds[0])[0],
                    tf.int32)
        return _synthetic_features(art, y, cols, masks, seeds[1])

    return tf.data.Dataset.counter(dtype=tf.int64).map(
        block, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _class_stream(art, class_idx: int, cols, masks, batch_size: int, seed: int, n: int | None,
                  *, candidates: int | None = None):
    """Class `class_idx`'s blocks (`synthetic_dataset`)."""
    import tensorflow as tf

    if n is None:
        blocks = tf.data.Dataset.counter(dtype=tf.int64).map(
            lambda b: (b, tf.constant(batch_size, tf.int32))
        )
    else:
        full, rest = divmod(int(n), batch_size)
        sizes = [batch_size] * full + ([rest] if rest else [])
        blocks = tf.data.Dataset.from_tensor_slices(
            (np.arange(len(sizes), dtype=np.int64), np.asarray(sizes, np.int32))
        )

    def block(b, rows):
        y = tf.fill([batch_size], tf.constant(class_idx, tf.int32))
        feats = _synthetic_features(art, y, cols, masks, _block_seed_tf(seed, class_idx, b),
                                    candidates=candidates)
        return {k: v[:rows] for k, v in feats.items()}

    # One intra-op thread per call, several blocks generated at once (rows do not depend on
    # it: categories are drawn with `distributions.categorical_sample`, which is independent
    # of the thread count). tf.data applies threading options to the whole pipeline they end
    # up in, not to one branch, so `balance`'s stream (`_mixed_stream`) leaves them out
    # rather than slow the user's own maps; measured: no loss there.
    ds = blocks.map(block, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.threading.max_intra_op_parallelism = 1
    return ds.with_options(options)
