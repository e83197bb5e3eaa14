"""Parquet to tf.data: `read_parquet`, the real stream of feature dicts.

Also how an Arrow column appears in a feature dict (dtype, per-row shape, the `fill_value` a
null becomes), which the synthetic streams of `vae_augment.tfdata` share. See that module's
docstring for the column types; `vae_augment.tfdata` re-exports every public name here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment.errors import SchemaError, VAEAugmentError
from vae_augment.io import iter_batches, read_schema, resolve_inputs, schema_without_views
from vae_augment.schema import (
    _parse_image_shape,
    _unsized_list,
    as_numbers,
    column_image_shape,
    numeric_storage,
    shared_image_shape,
    tensor_shape,
    trained_schema,
)

__all__ = ["NULL_MASK_SUFFIX", "read_parquet", "fill_value"]

NULL_MASK_SUFFIX = "__is_null"


# ---------------------------------------------------------------------- column typing
class _Column:
    """How one Arrow column appears in a feature dict: dtype, per-row shape, fill value."""

    __slots__ = ("name", "np_dtype", "shape", "kind", "size_source")

    def __init__(self, field: pa.Field, schema: pa.Schema,
                 learned: tuple[int, str] | None = None):
        """`learned`: a variable-length list column's values per row and where that came
        from, read from its rows (`_learn_list_sizes`) when its field metadata gives none."""
        self.name = field.name
        self.size_source = ""
        t = field.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        self.shape: tuple[int, ...] = ()
        self.kind = "scalar"
        if isinstance(t, pa.FixedShapeTensorType) or pa.types.is_fixed_size_list(t):
            self.kind = "tensor"
            self.shape = tuple(int(s) for s in tensor_shape(field, schema))
            t = t.value_type
        elif ((pa.types.is_list(t) or pa.types.is_large_list(t))
              and (pa.types.is_integer(t.value_type) or pa.types.is_floating(t.value_type))):
            # images stored as variable-length lists, as training takes them: the size is the
            # field's `image_shape` metadata's, else its first non-null row's; each row checked
            self.kind = "tensor"
            self.shape, self.size_source = _list_shape(field, schema, learned)
            t = t.value_type
        if pa.types.is_null(t) and self.kind == "scalar":
            self.kind = "null"
            self.np_dtype = np.dtype(np.float32)
        elif pa.types.is_boolean(t):
            self.np_dtype = np.dtype(bool)
        elif (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
        ) and self.kind == "scalar":
            self.np_dtype = np.dtype(object)
        elif pa.types.is_integer(t) or pa.types.is_floating(t):
            self.np_dtype = np.dtype(t.to_pandas_dtype())
        elif numeric_storage(t) is not None and self.kind == "scalar":
            # times and dates as their count of units, decimals as float64 (as modelled)
            self.np_dtype = np.dtype(numeric_storage(t).to_pandas_dtype())
        else:
            raise SchemaError(
                f"column '{field.name}' has type {field.type}, which tf.data feature dicts do "
                "not support (numbers, bool, string, dictionary, fixed-size numeric lists); "
                "leave it out with `columns=`"
            )

    @property
    def tf_dtype(self):
        import tensorflow as tf

        return tf.string if self.np_dtype.kind == "O" else tf.as_dtype(self.np_dtype)

    @property
    def fill(self):
        return fill_value(self.np_dtype)

    def spec(self):
        import tensorflow as tf

        return tf.TensorSpec([None, *self.shape], self.tf_dtype, name=None)


def _parse_shape(name: str, raw: str) -> tuple[int, ...]:
    """The shape `image_shape` metadata `raw` names ("8,8", "8x8"), for column `name`
    (training's parser, `schema._parse_image_shape`)."""
    return tuple(_parse_image_shape(name, raw, "leave it out with `columns=`"))


def _list_shape(field: pa.Field, schema: pa.Schema, learned: tuple[int, str] | None
                ) -> tuple[tuple[int, ...], str]:
    """The row shape of a variable-length list column, and where its size came from (for
    the row-length error), by training's rule (`SchemaStats.finalize`): its own
    ``image_shape`` metadata (field, or its entry in the schema's per-column object); else
    the size `learned` from its rows, shaped as the fixed-size list of that size is
    (`tensor_shape`: schema-level ``image_shape`` when it holds that many values, else flat; `schema` is the one training sees, every learned
    list a fixed-size one, so one that fits no column warns as in training). A column of no
    non-null row falls back to the schema's ``image_shape``; a `SchemaError` without one."""
    own = column_image_shape(field, schema)
    if own is not None:
        shape = _parse_shape(field.name, own[0])
        return shape, f"image_shape {list(shape)}"
    if learned is not None:
        size, where = learned
        fixed = field.with_type(pa.list_(field.type.value_field, size))
        shape = tuple(int(s) for s in tensor_shape(fixed, schema))
        return shape, f"{where}; shape {list(shape)}"
    shared = shared_image_shape(schema)
    if shared is not None:
        shape = _parse_shape(field.name, shared)
        return shape, f"image_shape {list(shape)}"
    raise SchemaError(
        f"column '{field.name}' is a variable-length list ({field.type}) with no non-null "
        f"row to learn its size from, and tf.data needs its row shape: give it "
        f"`image_shape` metadata (field or schema), cast it to a fixed-size list, or leave "
        f"it out with `columns=`")


def _learn_list_sizes(files: Sequence[str], names: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The values per row of the list columns `names`, each its first non-null row's length
    and where that row is, reading only those columns and only until every one has a
    non-null row (the dataset's element spec is needed before streaming). A column of no
    non-null row is left out; one whose first non-null row is empty is a `SchemaError`."""
    import pyarrow.compute as pc

    sizes: dict[str, tuple[int, str]] = {}
    todo = list(names)
    if not todo:
        return sizes
    seen = 0
    # small batches: a large image's rows are big, and the first one usually holds the size
    for rb in iter_batches(files, batch_size=64, columns=list(todo)):
        for n in list(todo):
            lengths = pc.list_value_length(rb.column(n)).fill_null(-1).to_numpy(
                zero_copy_only=False)
            found = np.flatnonzero(lengths >= 0)
            if not len(found):
                continue
            i = int(found[0])
            if lengths[i] == 0:
                raise SchemaError(
                    f"column '{n}' is a list whose first non-null row (row {seen + i} of the "
                    f"input) is empty: no values to read as a tensor; give it `image_shape` "
                    f"field metadata, or leave it out with `columns=`")
            sizes[n] = (int(lengths[i]),
                        f"the length of its first non-null row, row {seen + i} of the input")
            todo.remove(n)
        if not todo:
            break
        seen += rb.num_rows
    return sizes


def fill_value(dtype) -> Any:
    """The value a null becomes in a feature dict of this numpy / tf dtype.

    NaN for floats, -1 for signed integers, 0 for unsigned integers, False for bools and
    ``b""`` for strings.

    Example:
        >>> fill_value(np.int64), fill_value(np.uint8), fill_value(np.float32)
        (-1, 0, nan)
    """
    if hasattr(dtype, "as_numpy_dtype"):
        dtype = object if dtype.name == "string" else dtype.as_numpy_dtype
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":
        return b""
    if dtype.kind == "b":
        return False
    if dtype.kind == "f":
        return float("nan")
    if dtype.kind == "u":
        return 0
    if dtype.kind == "i":
        return -1
    raise SchemaError(f"no fill value for dtype {dtype}")


def _columns(schema: pa.Schema, columns: Sequence[str] | None, what: str,
             learned: dict[str, tuple[int, str]] | None = None) -> list[_Column]:
    """The `_Column`s of `columns` (default: all) of `schema`, checked; `learned`: the
    sizes of variable-length list columns read from their rows (`_learn_list_sizes`)."""
    learned = learned or {}
    # shapes by training's rule, in the schema it trains on (each learned list as the
    # fixed-size list of its size): schema-level `image_shape` that fits none of its columns
    # warns as training does (`tensor_shape`), rather than the lists hiding it
    trained = trained_schema(schema, {n: size for n, (size, _) in learned.items()})
    return [_Column(schema.field(c), trained, learned.get(c))
            for c in _names(schema, columns, what)]


def _names(schema: pa.Schema, columns: Sequence[str] | None, what: str) -> list[str]:
    """`columns` (default: all of `schema`) as a list, checked: a `SchemaError` for a string,
    none, a name twice or a name `schema` does not have."""
    if columns is None:
        return list(schema.names)
    if isinstance(columns, str):
        raise SchemaError(f"`columns` must be a list of column names, got the string {columns!r}")
    columns = list(columns)  # once: a generator is read here, not consumed by the checks
    if not columns:
        raise SchemaError("`columns` is empty; name at least one column (or pass None for all)")
    twice = list(dict.fromkeys(c for c in columns if columns.count(c) > 1))
    if twice:
        raise SchemaError(f"`columns` names {twice} more than once")
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise SchemaError(f"`columns` names {missing}, which {what} does not have. Columns: {schema.names}")
    return columns


def _mask_names(null_masks: bool | Sequence[str], cols: list[_Column]) -> list[str]:
    names = [c.name for c in cols]
    if null_masks is True:
        return names
    if null_masks is False or null_masks is None:
        return []
    if isinstance(null_masks, str):
        raise SchemaError(f"`null_masks` must be a bool or a list of columns, got {null_masks!r}")
    unknown = [m for m in null_masks if m not in names]
    if unknown:
        raise SchemaError(f"`null_masks` names columns {unknown} that are not in the dataset: {names}")
    return [n for n in names if n in set(null_masks)]


def _element_spec(cols: list[_Column], masks: list[str]) -> dict[str, Any]:
    import tensorflow as tf

    spec = {c.name: c.spec() for c in cols}
    for m in masks:
        spec[m + NULL_MASK_SUFFIX] = tf.TensorSpec([None], tf.bool)
    return spec


# ---------------------------------------------------------------------- real stream
def _arrow_column_to_numpy(col, c: _Column, first_row: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One Arrow column -> (values with nulls filled, null mask) as numpy. `first_row`: the
    position of its first row in the input (for an error naming a row)."""
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    mask = (
        pc.is_null(col).to_numpy(zero_copy_only=False)
        if col.null_count
        else np.zeros(n, bool)
    )
    if c.kind == "null":
        return np.full(n, np.nan, np.float32), np.ones(n, bool)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if c.kind == "tensor":
        if isinstance(col, pa.ExtensionArray):
            col = col.storage
        size = int(np.prod(c.shape)) if c.shape else 0
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            lengths = pc.list_value_length(col).fill_null(size).to_numpy(zero_copy_only=False)
            wrong = lengths != size
            if wrong.any():
                many, i = int(wrong.sum()), int(np.argmax(wrong))
                raise SchemaError(
                    f"column '{c.name}' has lists of another length than its {size} values "
                    f"({c.size_source}) ({many} row{'s' if many != 1 else ''} of this batch; "
                    f"the first is row {first_row + i} of the input, which holds "
                    f"{int(lengths[i])})")
            child = pc.list_flatten(col.fill_null(pa.scalar([0] * size, col.type))
                                    if col.null_count else col)
        else:
            child = col.values.slice(col.offset * size, n * size)
        values = child.to_numpy(zero_copy_only=False)
        if child.null_count:
            raise SchemaError(f"tensor column '{c.name}' has null elements inside a tensor")
        values = values.astype(c.np_dtype, copy=mask.any()).reshape((n, *c.shape))
        if mask.any():
            values[mask] = c.fill
        return values, mask
    if c.np_dtype.kind == "O":
        if col.null_count:
            binary = pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)
            col = col.fill_null(pa.scalar(b"" if binary else "", col.type))
        return col.to_numpy(zero_copy_only=False), mask
    col = as_numbers(col)
    if col.null_count:
        col = col.fill_null(pa.scalar(c.fill, col.type) if c.np_dtype.kind != "f" else math.nan)
    return col.to_numpy(zero_copy_only=False).astype(c.np_dtype, copy=False), mask


def _record_batch_to_numpy(batch: pa.Table, cols: list[_Column], masks: list[str],
                           first_row: int = 0):
    out: dict[str, np.ndarray] = {}
    want = set(masks)
    for c in cols:
        values, mask = _arrow_column_to_numpy(batch.column(c.name), c, first_row)
        out[c.name] = values
        if c.name in want:
            out[c.name + NULL_MASK_SUFFIX] = mask
    return out


def _check_positive(name: str, value) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise VAEAugmentError(f"`{name}` must be a positive integer, got {value!r}")


def read_parquet(
    paths,
    batch_size: int,
    columns: Sequence[str] | None = None,
    *,
    null_masks: bool | Sequence[str] = False,
):
    """Streams Parquet rows as batched feature dicts (pyarrow, one record batch at a time).

    Every element has exactly `batch_size` rows except the last one, and the dataset's
    `cardinality()` (``len``) is that number of batches, from the files' footers. Files are
    read in order with `pyarrow.parquet.ParquetFile.iter_batches`, never loaded whole; each
    iteration (epoch) reopens them. This is the one part of the module that runs Python per batch
    (`tf.data.Dataset.from_generator`): keep it for the real data only.

    Args:
        paths: a Parquet path, directory, glob or list of those (one schema).
        batch_size: rows per element.
        columns: columns to read (default: all), in this order. A variable-length list of
            numbers is read as training reads it: a tensor of its field's `image_shape`
            metadata's size, else its first non-null row's (read up front, that column only),
            every row checked; shaped as the model trained on the file sees it.
        null_masks: add a bool ``"<column>__is_null"`` entry for every column (True) or for
            the listed columns. Nulls themselves become the dtype's `fill_value`.

    Returns:
        A `tf.data.Dataset` of ``{column: Tensor[B, *shape]}`` dicts.

    Raises:
        InputError: no file matches, a file is unreadable or the schemas differ.
        SchemaError: `columns` names an unknown column, one twice or none, a column type is
            not supported, or a variable-length list column without `image_shape` metadata
            has no non-null row or an empty first one (its size is that row's length). A
            list row of another length fails the iteration (`tf.errors.InvalidArgumentError`
            carrying the SchemaError's message).

    Example:
        >>> ds = read_parquet("examples/data/churn.parquet", 256)  # doctest: +SKIP
        >>> next(iter(ds))["total_day_minutes"].shape              # doctest: +SKIP
        TensorShape([256])
    """
    import tensorflow as tf

    _check_positive("batch_size", batch_size)
    files = resolve_inputs(paths)
    schema = schema_without_views(read_schema(files))  # as `iter_batches` reads them
    names = _names(schema, columns, "the Parquet input")
    # a variable-length list's size is its rows' (as training's): read up front, only those
    # columns and only until each has a non-null row, since the element spec is needed now
    learned = _learn_list_sizes(files, [n for n in names if _unsized_list(schema.field(n), schema)])
    cols = _columns(schema, names, "the Parquet input", learned)
    masks = _mask_names(null_masks, cols)
    read_schema_ = pa.schema([schema.field(n) for n in names])
    bs = int(batch_size)

    def generate():
        pending: pa.Table | None = None
        done = 0  # rows yielded: a bad row is named by its position in the input
        for rb in iter_batches(files, batch_size=bs, columns=names):
            t = pa.Table.from_batches([rb]).cast(read_schema_)
            pending = t if pending is None else pa.concat_tables([pending, t])
            while pending.num_rows >= bs:
                yield _record_batch_to_numpy(pending.slice(0, bs), cols, masks, done)
                pending = pending.slice(bs)
                done += bs
        if pending is not None and pending.num_rows:
            yield _record_batch_to_numpy(pending, cols, masks, done)

    ds = tf.data.Dataset.from_generator(generate, output_signature=_element_spec(cols, masks))
    # the files' footers give the length: `len(ds)`, and Keras shows progress bars and ends an
    # epoch without running into (and warning about) the end of the data
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return ds.apply(tf.data.experimental.assert_cardinality(-(-rows // bs)))
