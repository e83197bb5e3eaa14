"""Tensor columns' shapes: a fixed-size list's shape from Arrow's fixed_shape_tensor type, the
column's own or the schema's ``image_shape`` metadata, or its values per row; and the
fixed-size list schema a column of variable-length lists trains as. `vae_augment.schema`
re-exports these names."""

from __future__ import annotations

import functools
import json

import numpy as np
import pyarrow as pa

from vae_augment.errors import SchemaError, option, warn

__all__ = [
    "column_image_shape",
    "shared_image_shape",
    "image_shape_unmatched",
    "trained_schema",
    "tensor_shape",
]


def _list_size(field: pa.Field, schema: pa.Schema | None = None) -> int | None:
    """A fixed-size list column's values per row without metadata of its own, else None."""
    if column_image_shape(field, schema) is not None:
        return None
    return field.type.list_size if pa.types.is_fixed_size_list(field.type) else None


def _image_shape_mapping(schema: pa.Schema | None) -> dict[str, str] | None:
    """Schema-level ``image_shape`` metadata in its per-column form, a JSON object
    (``{"img": [28, 28], "thumb": "8x8"}``), as ``{column: raw shape}``; None when the
    schema has none or the shared form ("28,28", applied to every fixed-size list of its
    size). A `SchemaError` when the object is not valid JSON or not shapes by name."""
    raw = (schema.metadata or {}).get(b"image_shape") if schema is not None else None
    if raw is None:
        return None
    text = raw.decode(errors="replace").strip()
    if not text.startswith("{"):
        return None
    return _parse_image_shape_mapping(text)


@functools.lru_cache(maxsize=64)
def _parse_image_shape_mapping(text: str) -> dict[str, str]:
    try:
        mapping = json.loads(text)
    except ValueError as exc:
        raise SchemaError(
            f"schema metadata image_shape {text!r} starts like a JSON object (shapes by "
            f"column) but is not valid JSON: {exc}") from exc
    out = {}
    for name, shape in mapping.items():
        if isinstance(shape, str):
            out[name] = shape
        elif (isinstance(shape, list) and shape
              and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)):
            out[name] = ",".join(str(d) for d in shape)
        else:
            raise SchemaError(
                f"schema metadata image_shape {text!r}: the shape of column {name!r} is "
                f"{shape!r}; give a list of ints ([28, 28]) or a string (\"28x28\")")
    return out


def column_image_shape(field: pa.Field, schema: pa.Schema | None) -> tuple[str, str] | None:
    """The ``image_shape`` metadata meant for column `field` alone, and where it is (for
    messages): its field metadata's, else its entry in the schema's per-column JSON form
    (`_image_shape_mapping`); None when neither names it (the shared schema-level form may
    still fit it: `tensor_shape`)."""
    if field.metadata and b"image_shape" in field.metadata:
        return field.metadata[b"image_shape"].decode(errors="replace"), "its `image_shape` metadata"
    mapping = _image_shape_mapping(schema)
    if mapping and field.name in mapping:
        return mapping[field.name], "its entry in the schema's `image_shape` metadata"
    return None


def shared_image_shape(schema: pa.Schema | None) -> str | None:
    """Schema-level ``image_shape`` in its shared form ("28,28", "[28, 28]"), which shapes
    every fixed-size list of its size with no shape of its own; None without one or when
    the metadata is the per-column JSON object."""
    raw = (schema.metadata or {}).get(b"image_shape") if schema is not None else None
    if raw is None or _image_shape_mapping(schema) is not None:
        return None
    return raw.decode(errors="replace")


def image_shape_unmatched(schema: pa.Schema) -> list[str]:
    """The columns named in the schema's per-column ``image_shape`` object that the schema
    does not have (a typo's likely place), in the object's order."""
    mapping = _image_shape_mapping(schema) or {}
    return [n for n in mapping if n not in schema.names]


def _is_var_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)


def _unsized_list(field: pa.Field, schema: pa.Schema | None = None) -> bool:
    """A variable-length list of numbers without `image_shape` metadata of its own (field
    metadata, or its entry in the schema's per-column form): its size is its rows'
    (`_ColumnStats`), unknown from the schema, so it may be what shared schema-level
    `image_shape` metadata is meant for."""
    t = field.type
    return (_is_var_list(t) and (pa.types.is_integer(t.value_type)
                                 or pa.types.is_floating(t.value_type))
            and column_image_shape(field, schema) is None)


def _parse_image_shape(name: str, raw: str, leave_out: str | None = None) -> list[int]:
    """The shape `image_shape` metadata `raw` names ("28,28", "28x28x1"); a `SchemaError`
    naming column `name` when it is not positive ints, saying to fix the metadata or leave
    the column out (`leave_out`: how, for callers without ``--exclude``)."""
    leave_out = leave_out or f"exclude the column with {option('exclude', name, many=True)}"
    try:
        bare = raw.strip().removeprefix("[").removesuffix("]")  # JSON's [28, 28] too
        shape = [int(s) for s in bare.replace("x", ",").split(",") if s.strip()]
    except ValueError as exc:
        raise SchemaError(
            f"column '{name}': `image_shape` metadata {raw!r} is not a "
            f"comma-separated list of ints (fix the metadata, or {leave_out})"
        ) from exc
    if not shape or min(shape) < 1:
        raise SchemaError(
            f"column '{name}': `image_shape` metadata {raw!r} must be positive "
            f"ints (fix the metadata, or {leave_out})")
    return shape


def trained_schema(schema: pa.Schema, sizes: dict[str, int]) -> pa.Schema:
    """`schema` with its variable-length list columns named in `sizes` as fixed-size lists of
    that many values (element field, nullability and metadata kept): the type a model is
    trained on and its artifact records, so every model-dir path takes the input as it takes
    any list input (`Encoding.list_tensors`)."""
    if not sizes:
        return schema
    return pa.schema([f.with_type(pa.list_(f.type.value_field, sizes[f.name]))
                      if f.name in sizes else f for f in schema], metadata=schema.metadata)


def tensor_shape(field: pa.Field, schema: pa.Schema) -> list[int] | None:
    """Shape of a fixed-shape tensor column, or None when the column is not one.

    Order of precedence: Arrow's fixed_shape_tensor type; field metadata ``image_shape``;
    the column's entry in schema metadata ``image_shape`` given per column as a JSON object
    (``{"img": [28, 28]}``; a column it does not name is flat); schema metadata
    ``image_shape`` in the shared form ("28,28": applies to fixed-size list columns of
    matching size); otherwise the flat list size. A variable-length list column is a tensor
    too: its size is given by its own metadata (field, or its entry in the JSON object),
    else by its rows (all of one length), and its shape is then this function's for the
    fixed-size list of that size (`SchemaStats.finalize`).
    """
    t = field.type
    if isinstance(t, pa.FixedShapeTensorType):
        return [int(s) for s in t.shape]
    if not pa.types.is_fixed_size_list(t):
        return None
    size = t.list_size
    if size == 0:
        raise SchemaError(
            f"column '{field.name}' is a fixed-size list of size 0 (no values to model): "
            f"exclude it with {option('exclude', field.name, many=True)}")
    own = column_image_shape(field, schema)
    if own is not None:  # meant for this column: a misfit is a typo, not another's shape
        raw, where = own
        shape = _parse_image_shape(field.name, raw)
        if int(np.prod(shape)) == size:
            return shape
        raise SchemaError(
            f"column '{field.name}': {where} {raw!r} holds "
            f"{int(np.prod(shape))} values, the column {size} per row (fix the "
            f"metadata, or exclude the column with "
            f"{option('exclude', field.name, many=True)})")
    raw = shared_image_shape(schema)
    if raw is not None:
        shape = _parse_image_shape(field.name, raw)
        if int(np.prod(shape)) == size:
            return shape
        if not any(_list_size(f, schema) == int(np.prod(shape)) or _unsized_list(f, schema)
                   for f in schema):
            # meant for no column of this table (a column that fits takes it: an
            # embedding beside the images is simply a vector, no warning)
            warn(
                f"schema metadata image_shape {raw!r} ({int(np.prod(shape))} values) does "
                f"not fit column '{field.name}' ({size} values per row): it is modelled as "
                f"a flat vector, with no conv net and no image grid in reports (to shape "
                f"columns one by one, give it as a JSON object: "
                f'{{"{field.name}": [...]}})')
    return [size]
