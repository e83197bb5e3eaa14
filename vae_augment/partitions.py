"""Hive-partitioned Parquet: the ``key=value`` folders of an input directory (their keys read
back as columns) and of a partitioned output (its rows split by their keys), pyarrow only."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment.errors import InputError, arg, columns_note
from vae_augment.views import schema_without_views, view_types, without_views

__all__ = [
    "MAX_PARTITIONS",
    "MAX_FOLDER_NAME",
    "WRITTEN_SCHEMA_KEY",
    "PartitionedPath",
    "check_partition_by",
    "partition_file_schema",
    "split_partitions",
    "partition_of",
    "with_partition",
    "partition_schema",
    "not_hive",
    "hive_layout",
]


#: partitions one output may have: each is an open file while writing (pyarrow.dataset's
#: `max_partitions` default too)
MAX_PARTITIONS = 1024


def check_partition_by(schema: pa.Schema, partition_by) -> list[str]:
    """The columns of `schema` to partition an output by (`partition_by`: a name or names),
    checked: present, once each, of a type a folder name holds (string, integer, bool, date,
    or a dictionary of those), not every column, and not named as folders that readers
    skip."""
    names = [partition_by] if isinstance(partition_by, str) else list(partition_by or [])
    if not names:
        return []
    what = arg("partition_by")
    bad = [n for n in names if not isinstance(n, str) or n not in schema.names]
    if bad:
        raise InputError(f"{what}: no column named {bad[0]!r} in the output. Columns: "
                         f"{columns_note(schema.names)}")
    if len(set(names)) < len(names):
        raise InputError(f"{what} names a column twice: {names}")
    if len(names) >= len(schema):
        raise InputError(f"{what} names every column; the files would hold none")
    for n in names:
        t = schema.field(n).type
        base = t.value_type if pa.types.is_dictionary(t) else t
        if not (pa.types.is_string(base) or pa.types.is_large_string(base)
                or pa.types.is_string_view(base) or pa.types.is_integer(base) or pa.types.is_boolean(base)
                or pa.types.is_date(base)):
            raise InputError(f"{what}: column '{n}' is {t}; partition by string, integer, "
                             f"bool or date columns (each value becomes a folder)")
        if n.startswith((".", "_")) or "/" in n or "=" in n:
            raise InputError(f"{what}: column '{n}' cannot name a partition folder (readers "
                             f"skip folders that begin with '_' or '.', and '/' or '=' would "
                             f"split the name): rename it first")
    return names


#: the longest folder name most file systems take, in bytes
MAX_FOLDER_NAME = 255


def partition_file_schema(schema: pa.Schema, names: Sequence[str]) -> pa.Schema:
    """The schema of a partitioned output's files: `schema` without the partition columns
    `names`, its metadata plus the whole `schema` (`WRITTEN_SCHEMA_KEY`), so this library
    reads the directory back as written."""
    import base64

    if not names:
        return schema
    return pa.schema([f for f in schema if f.name not in names], metadata={
        **(schema.metadata or {}),
        WRITTEN_SCHEMA_KEY: base64.b64encode(schema.serialize().to_pybytes())})


def split_partitions(batch: pa.RecordBatch, names: Sequence[str], file_schema: pa.Schema
                     ) -> list[tuple[tuple[str, ...], pa.RecordBatch]]:
    """`batch`'s rows grouped by their values of the columns `names`: a list of (the
    partition's folder names, its rows in `file_schema`, i.e. the other columns), one per
    partition present, each partition's rows in batch order."""
    import numpy as np
    import pyarrow.compute as pc

    if view_types(file_schema):  # no take kernel for views: split as large types, cast back
        return [(key, rows.cast(file_schema)) for key, rows in split_partitions(
            without_views(batch), names, schema_without_views(file_schema))]
    batch = without_views(batch)
    codes = np.zeros(batch.num_rows, np.int64)
    dictionaries = []
    for name in names:
        col = batch.column(batch.schema.get_field_index(name))
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        enc = pc.dictionary_encode(col, null_encoding="encode")
        dictionaries.append(enc.dictionary.to_pylist())
        codes = codes * len(enc.dictionary) + enc.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    files = pa.RecordBatch.from_arrays([batch.column(f.name) for f in file_schema],
                                       schema=file_schema)
    out = []
    for lo, hi in zip(starts, np.r_[starts[1:], len(order)]):
        code, key = int(codes[order[lo]]), []
        for name, values in zip(reversed(names), reversed(dictionaries)):
            code, i = divmod(code, len(values))
            key.append(_segment(name, values[i]))
        out.append((tuple(reversed(key)), files.take(pa.array(order[lo:hi]))))
    return out


def _segment(name: str, value) -> str:
    """A hive folder name for `value` of column `name`: percent-encoded (as pyarrow writes
    them), null as ``__HIVE_DEFAULT_PARTITION__``, a bool as true / false."""
    from urllib.parse import quote

    if value is None:
        return f"{name}={_HIVE_NULL}"
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if text == _HIVE_NULL:  # its folder would read back as null, by any reader
        raise InputError(f"{arg('partition_by')}: column '{name}' holds the value "
                         f"'{_HIVE_NULL}', which readers take for null in a partition folder; "
                         f"partition by another column, or replace that value")
    segment = f"{name}={quote(text, safe='')}"
    if len(segment.encode()) > MAX_FOLDER_NAME:  # the writer's OSError otherwise, mid-write
        raise InputError(
            f"{arg('partition_by')}: a value makes the folder name '{segment[:60]}...' "
            f"({len(segment.encode())} bytes; file systems take {MAX_FOLDER_NAME}); partition "
            f"by another column")
    return segment


class PartitionedPath(str):
    """The path of a file in a hive-partitioned directory (``root/key=value/.../f.parquet``),
    carrying the partition columns its folders give: `fields` (names and types, as
    `pyarrow.dataset` infers them over the whole directory: int32 when every value is an
    int32, else string) and `values` (``__HIVE_DEFAULT_PARTITION__`` is null). A directory
    this library wrote (`AtomicParquetWriter`'s `partition_by`) records its schema, so its
    keys get their written types instead and `order` is the written column order."""

    def __new__(cls, path: str, fields: Sequence[pa.Field] = (), values: Sequence = (),
                order: Sequence[str] | None = None):
        obj = super().__new__(cls, path)
        obj.fields = tuple(fields)
        obj.values = tuple(values)
        obj.order = tuple(order) if order is not None else None
        return obj

    def __reduce__(self):
        return PartitionedPath, (str(self), self.fields, self.values, self.order)


def partition_of(path: str) -> tuple[tuple[pa.Field, ...], tuple]:
    """(partition fields, their values) of a path `resolve_inputs` gave; () for a plain file."""
    return getattr(path, "fields", ()), getattr(path, "values", ())


def with_partition(batch: pa.RecordBatch | pa.Table, path: str,
                   columns: Sequence[str] | None = None):
    """`batch` (read from the file at `path`) with `path`'s partition columns appended, or,
    given `columns`, those columns in that order (partition columns among them)."""
    fields, values = partition_of(path)
    if not fields:
        return batch
    n = batch.num_rows
    arrays = dict(zip(batch.schema.names, batch.columns))
    fields_by_name = {f.name: f for f in batch.schema}
    for f, v in zip(fields, values):
        arrays[f.name] = pa.repeat(pa.scalar(v, f.type), n)
        fields_by_name[f.name] = f
    order = getattr(path, "order", None)
    names = list(columns) if columns is not None else list(order or arrays)
    schema = pa.schema([fields_by_name[c] for c in names],
                       metadata=_without_written(batch.schema.metadata))
    make = pa.Table.from_arrays if isinstance(batch, pa.Table) else pa.RecordBatch.from_arrays
    return make([arrays[c] for c in names], schema=schema)


def partition_schema(schema: pa.Schema, path: str) -> pa.Schema:
    """The schema of the file at `path` with its partition columns appended."""
    fields, _ = partition_of(path)
    clash = [f.name for f in fields if f.name in schema.names]
    if clash:
        raise InputError(f"input '{path}' has column(s) {clash} that are also partition keys "
                         f"of its folders")
    for f in fields:
        schema = schema.append(f)
    order = getattr(path, "order", None)
    if order:
        schema = pa.schema([schema.field(c) for c in order], metadata=schema.metadata)
    return schema.with_metadata(_without_written(schema.metadata) or {})


def not_hive(item: str, pattern: str) -> InputError:
    """The error for a directory with Parquet files only in subdirectories that are not a
    hive-partitioned layout; `pattern` is the glob that would read them."""
    return InputError(
        f"input directory '{item}' contains no .parquet files; it holds .parquet files in "
        f"subdirectories that are not a hive-partitioned layout (every folder key=value, the "
        f"same keys at each level), which are not read: pass a glob such as '{pattern}', or "
        f"write the data unpartitioned")


_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def _hive_files(item: str) -> list[PartitionedPath] | None:
    """The files of a local hive-partitioned directory (`hive_layout`), or None."""
    found = []
    for root, dirs, files in os.walk(item):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        rel = os.path.relpath(root, item)
        segs = [] if rel == os.curdir else rel.split(os.sep)
        found.extend((os.path.join(root, f), segs) for f in files
                     if f.endswith(".parquet") and not f.startswith((".", "_")))
    return hive_layout(found, pq.read_schema)


#: file metadata of a partitioned output: the whole schema written (base64 IPC), so this
#: library reads the keys back with their own types and the columns in their own order
WRITTEN_SCHEMA_KEY = b"vae_augment.partitioned_schema"


def _without_written(metadata):
    if not metadata or WRITTEN_SCHEMA_KEY not in metadata:
        return metadata
    return {k: v for k, v in metadata.items() if k != WRITTEN_SCHEMA_KEY} or None


def _written_schema(file_schema: pa.Schema, keys: Sequence[str]) -> pa.Schema | None:
    """The schema `AtomicParquetWriter` recorded in a partitioned output's file, when it is
    there and fits the file and its folders' `keys`; else None."""
    import base64

    raw = (file_schema.metadata or {}).get(WRITTEN_SCHEMA_KEY)
    if raw is None:
        return None
    try:
        written = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(raw)))
    except (ValueError, pa.ArrowException):
        return None
    own = [f for f in written if f.name not in keys]
    if (sorted(written.names) != sorted([*file_schema.names, *keys])
            or any(not f.equals(file_schema.field(f.name)) for f in own)):
        return None
    return written


def hive_layout(found: Sequence[tuple[str, Sequence[str]]],
                schema_of=None) -> list[PartitionedPath] | None:
    """`found` ((file path, its folders below the root)) as the files of a hive-partitioned
    directory, each with its partition values, when every folder is a ``key=value``, with the
    same keys in the same order for every file; else None. Values are percent-decoded and
    typed as `pyarrow.dataset`'s hive discovery types them (int32 when every value of a key
    is one, else string; ``__HIVE_DEFAULT_PARTITION__`` is null), from the paths alone;
    or, when `schema_of` (path -> its Arrow schema) finds the schema this library's writer
    recorded in the first file, with the types and column order written."""
    from urllib.parse import unquote

    keys: list[str] | None = None
    rows = []
    for path, segs in found:
        these = [seg.split("=", 1)[0] for seg in segs]
        if not segs or any("=" not in seg for seg in segs) or keys not in (None, these):
            return None
        keys = these
        rows.append((path, [unquote(seg.split("=", 1)[1]) for seg in segs]))
    if not rows:
        return None

    def int32(v: str) -> bool:  # as Arrow parses: "007" is 7; "+5", "1_000" are strings
        return re.fullmatch(r"-?[0-9]+", v) is not None and -2**31 <= int(v) < 2**31

    rows.sort()
    if schema_of is not None:
        typed = _as_written(rows, keys, schema_of)
        if typed is not None:
            return typed
        if _keys_in_files(rows, keys, schema_of):
            return [PartitionedPath(path) for path, _ in rows]
    fields = []
    for i, k in enumerate(keys):
        present = [vals[i] for _, vals in rows if vals[i] != _HIVE_NULL]
        ints = bool(present) and all(int32(v) for v in present)
        fields.append(pa.field(k, pa.int32() if ints else pa.string()))
    return [PartitionedPath(path, fields, [
        None if v == _HIVE_NULL else (int(v) if f.type == pa.int32() else v)
        for f, v in zip(fields, vals)]) for path, vals in rows]


def _keys_in_files(rows, keys, schema_of) -> bool:
    """Whether the first file holds every partition key as a column of its own, as Polars'
    ``write_parquet(partition_by=...)`` and DuckDB's ``WRITE_PARTITION_COLUMNS`` write
    them: then the files are read as they are (the folders add nothing)."""
    try:
        names = schema_of(rows[0][0]).names
    except (OSError, pa.ArrowException):  # unreadable: the read names it later
        return False
    return all(k in names for k in keys)


def _as_written(rows, keys, schema_of) -> list[PartitionedPath] | None:
    """`hive_layout`'s files typed by the schema the writer recorded, or None (no record, or
    a folder value that does not parse as its written type: folders renamed by hand)."""
    try:
        written = _written_schema(schema_of(rows[0][0]), keys)
    except (OSError, pa.ArrowException):  # unreadable: the read names it later
        return None
    if written is None:
        return None
    fields = [written.field(k) for k in keys]
    out = []
    for path, vals in rows:
        try:
            values = [None if v == _HIVE_NULL else pa.array([v]).cast(f.type)[0].as_py()
                      for f, v in zip(fields, vals)]
        except (pa.ArrowException, ValueError):
            return None
        out.append(PartitionedPath(path, fields, values, written.names))
    return out
