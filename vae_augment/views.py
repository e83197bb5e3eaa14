"""Arrow's string_view / binary_view columns (Polars hands its strings over as views): read
as the large types few Arrow kernels lack, cast back for writing (pyarrow only)."""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "view_types",
    "schema_without_views",
    "array_without_view",
    "with_views",
    "without_views",
]


_VIEW_TYPES = {"string_view": pa.large_string(), "binary_view": pa.large_binary()}


def _viewless(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t) and str(t.value_type) in _VIEW_TYPES:
        return pa.dictionary(t.index_type, _VIEW_TYPES[str(t.value_type)], t.ordered)
    return _VIEW_TYPES.get(str(t), t)


def view_types(schema: pa.Schema) -> dict[str, pa.DataType]:
    """``{column: type}`` of `schema`'s string_view / binary_view columns (and dictionaries
    of them): the columns `without_views` casts, and a model's outputs cast back
    (`Encoding.list_tensors`)."""
    return {f.name: f.type for f in schema if not _viewless(f.type).equals(f.type)}


def schema_without_views(schema: pa.Schema) -> pa.Schema:
    """`schema` with its view columns (`view_types`) of the large types `without_views`
    gives (nullability and metadata kept)."""
    if not view_types(schema):
        return schema
    return pa.schema([f.with_type(_viewless(f.type)) for f in schema], metadata=schema.metadata)


def array_without_view(col: pa.Array) -> pa.Array:
    """One string_view / binary_view array as large_string / large_binary (`without_views`
    for a table); any other array as it is."""
    t = _viewless(col.type)
    return col if t.equals(col.type) else col.cast(t)


def with_views(table: pa.Table | pa.RecordBatch, schema: pa.Schema):
    """`table` (a table or batch whose string views were read as large types:
    `without_views`) with the string_view / binary_view columns of `schema` cast back: what
    a writer of `schema` takes. `table` itself when it holds them already or `schema` has
    none."""
    views = view_types(schema)
    if not any(n in views and not table.schema.field(n).type.equals(views[n])
               for n in table.schema.names):
        return table
    return table.cast(schema)


def without_views(table: pa.Table | pa.RecordBatch) -> pa.Table | pa.RecordBatch:
    """`table` (or a record batch) with its string_view / binary_view columns (and
    dictionaries of them) as large_string / large_binary: few Arrow kernels of pyarrow 25
    take views (not filter, take, is_in or equal), and Polars hands its strings over as views
    through the Arrow stream interface (its own ``to_arrow()`` gives large_string); pyarrow
    writes them to Parquet files as they are (the file's Arrow schema keeps the view type)."""
    schema = schema_without_views(table.schema)
    return table if schema is table.schema else table.cast(schema)
