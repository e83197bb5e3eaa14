"""Parquet input resolution, streaming reads and atomic writes (pyarrow only, no TensorFlow)."""

from __future__ import annotations

import glob
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment.errors import InputError, arg, columns_note, option, warn

__all__ = [
    "SYNTHETIC_COLUMN",
    "resolve_inputs",
    "is_table_like",
    "is_pandas_frame",
    "array_without_view",
    "schema_without_views",
    "view_types",
    "with_views",
    "without_views",
    "in_memory_table",
    "read_schema",
    "iter_batches",
    "read_table",
    "partition_of",
    "hive_layout",
    "not_parquet",
    "in_file",
    "partition_schema",
    "with_partition",
    "output_schema",
    "schema_difference",
    "with_umask_mode",
    "refuse_existing",
    "refuse_output",
    "refuse_input_as_output",
    "check_partition_by",
    "check_partition_values",
    "partition_file_schema",
    "split_partitions",
    "probe_writable",
    "check_output_parent",
    "os_reason",
    "AtomicParquetWriter",
]

SYNTHETIC_COLUMN = "is_synthetic"


def refuse_existing(path, overwrite: bool, what: str = "output") -> None:
    """`InputError` when `path` exists and not `overwrite`: the rule of every output (a
    Parquet file or directory, a report); the message names the flag or keyword to pass."""
    if not overwrite and os.path.exists(path):
        raise InputError(f"{what} '{os.fspath(path)}' already exists; pass "
                         f"{option('overwrite', True)} to replace it")


_SHARD_NAME = re.compile(r"part-\d{5}-of-\d{5}\.parquet")
_PART_NAME = re.compile(r"part-\d{5}\.parquet")  # a partition folder's file


def _foreign(path: str) -> list[str]:
    """What in output directory `path` an earlier run did not write: anything but shard files
    (``part-NNNNN-of-NNNNN.parquet``), or a hive layout of ``key=value`` folders holding
    ``part-NNNNN.parquet`` files (`partition_by`); paths relative to `path`."""
    out = []
    for root, dirs, files in os.walk(path):
        rel = os.path.relpath(root, path)
        top = rel == os.curdir
        out.extend(os.path.normpath(os.path.join(rel, d)) for d in dirs if "=" not in d)
        dirs[:] = [d for d in dirs if "=" in d]
        name = _SHARD_NAME if top else _PART_NAME
        out.extend(os.path.normpath(os.path.join(rel, f)) for f in files
                   if not name.fullmatch(f))
    return sorted(out)


def refuse_output(path, overwrite: bool, shards: int | None = None,
                  partition_by: Sequence[str] | None = None) -> None:
    """`refuse_existing` for a Parquet output (one file, `shards` files in a directory, or a
    hive-partitioned directory by `partition_by`), and with `overwrite` the rule that keeps it
    from deleting data the tool did not write: an existing directory is replaced only when it
    holds nothing but what such an earlier output wrote (shard files, or ``key=value`` folders
    of ``part-NNNNN.parquet`` files)."""
    refuse_existing(path, overwrite)
    if shards is not None and partition_by:
        raise InputError(f"give {arg('output_shards')} or {arg('partition_by')}, not both "
                         f"(a partitioned output has one file per partition)")
    path = os.fspath(path)
    if not os.path.isdir(path):
        return
    foreign = _foreign(path)
    if foreign:
        hint = "" if shards is not None or partition_by else (
            f"; give a file path for one output file (or {arg('output_shards')} for a "
            f"directory of shards)")
        raise InputError(
            f"output '{path}' is a directory holding files that are not shards of an earlier "
            f"output (e.g. '{foreign[0]}'), which {option('overwrite', True)} does not "
            f"delete: choose another output, or remove them first{hint}")


def refuse_input_as_output(output, inputs: Sequence[str], what: str = "output") -> None:
    """`InputError` when `output` is one of `inputs` (resolved files) or a directory holding
    one: the input is read while the output is written, and `overwrite` would replace or
    delete it (the written file is renamed over it at the end, a directory is emptied)."""
    if output is None:
        return
    out = os.path.realpath(os.fspath(output))
    for path in inputs:
        real = os.path.realpath(os.fspath(path))
        if real == out or real.startswith(out.rstrip(os.sep) + os.sep):
            held = "is" if real == out else "holds"
            raise InputError(
                f"{what} '{os.fspath(output)}' {held} the input file '{os.fspath(path)}': "
                f"the input is read while the {what} is written; write to another path")


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


def check_partition_values(paths: Sequence[str], names: Sequence[str], *,
                           batches: Callable[..., Iterator[pa.RecordBatch]] | None = None
                           ) -> None:
    """Before any training: an `InputError` when the input's own rows would make more than
    `MAX_PARTITIONS` partitions by the columns `names`, or a folder name longer than
    `MAX_FOLDER_NAME` bytes (the writer would fail only when it meets them). Reads those
    columns only: from `paths`, or ``batches(columns=names)`` (a table in memory)."""
    if not names:
        return
    keys: set = set()
    read = batches(columns=list(names)) if batches is not None else iter_batches(
        paths, columns=list(names))
    for batch in read:
        # a folder name too long is `split_partitions`' own error (`_segment`)
        for key, _ in split_partitions(batch, names, pa.schema([])):
            keys.add(key)
        if len(keys) > MAX_PARTITIONS:
            raise InputError(
                f"{arg('partition_by')} {list(names)} makes more than {MAX_PARTITIONS} "
                f"partitions from the input's rows alone (one open file each); partition by "
                f"columns with fewer distinct values")


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


def one_dictionary(table: pa.Table) -> pa.Table:
    """`table` with the chunks of each dictionary column sharing one dictionary
    (`pyarrow.Table.unify_dictionaries`). Written as one row group, chunks whose dictionaries
    differ (the input's rows in the input's category order, then synthetic rows in the
    model's) make Arrow's Parquet writer fall back to PLAIN pages for the rest of the column
    chunk, which Polars (1.44) cannot read as a categorical."""
    if isinstance(table, pa.Table) and any(pa.types.is_dictionary(f.type)
                                           for f in table.schema):
        return table.unify_dictionaries()
    return table  # a record batch holds one dictionary a column already


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


def check_output_parent(path) -> None:
    """`InputError` unless the folder `path` is to be written in exists: "does not exist",
    or, when a file is in its place or on the way to it, that file's name (`afile/out.parquet`
    said the folder 'afile' did not exist)."""
    parent = os.path.dirname(os.path.abspath(os.fspath(path)))
    if os.path.isdir(parent):
        return
    at = parent
    while at and not os.path.exists(at) and os.path.dirname(at) != at:
        at = os.path.dirname(at)
    if os.path.exists(at) and not os.path.isdir(at):
        raise InputError(f"cannot write '{os.fspath(path)}': '{at}' is a file, not a directory")
    raise InputError(f"output directory '{parent}' does not exist")


def probe_writable(path, what: str, *, replaced: bool = False) -> None:
    """`InputError` unless a directory can be made where `path` is to be written: inside it
    when it is a directory written into, else (or when saving `replaced` it whole, as a model
    directory is) in its nearest existing ancestor. Checked before long work, not found out
    after it. A directory `replaced` whole must also let its files be deleted (a read-only
    model directory trained the whole run, then failed to save)."""
    path = os.path.abspath(os.fspath(path))
    parent = path if os.path.isdir(path) and not replaced else os.path.dirname(path)
    while parent and not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    folders = [parent or "."]
    if replaced and os.path.isdir(path):
        folders.append(path)
    try:
        for folder in folders:
            os.rmdir(tempfile.mkdtemp(prefix=".vae-augment-probe.", dir=folder))
    except OSError as exc:
        raise InputError(f"cannot write {what} '{path}': {exc.strerror or exc}") from exc


def os_reason(exc: OSError) -> str:
    """An `OSError`'s reason in a few words ("No space left on device"), also for pyarrow's,
    whose `strerror` is a sentence with the errno inside."""
    if exc.errno:
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)


def with_umask_mode(path: str) -> str:
    """Gives `path` (made by `tempfile`, which creates files 0600 and directories 0700) the
    mode a plain `open` or `mkdir` would have (0666 or 0777 less the umask), so that an output
    renamed into place is as readable as any other file the user writes. Returns `path`."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~mask)
    return path


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


def _file_columns(path: str, columns: Sequence[str] | None) -> list[str] | None:
    """The columns to read from the file itself (partition columns are in its folders)."""
    if columns is None:
        return None
    keys = {f.name for f in partition_of(path)[0]}
    return [c for c in columns if c not in keys]


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


def is_table_like(obj) -> bool:
    """Whether `obj` is a table in memory that `in_memory_table` converts: a pandas
    DataFrame, or any object with the Arrow PyCapsule stream interface
    (``__arrow_c_stream__``: Polars and DuckDB results, a `pyarrow.RecordBatchReader`, ...)."""
    if isinstance(obj, (pa.Table, pa.RecordBatch, str, os.PathLike)):
        return False
    return is_pandas_frame(obj) or hasattr(obj, "__arrow_c_stream__")


def is_pandas_frame(obj) -> bool:
    return type(obj).__name__ == "DataFrame" and type(obj).__module__.split(".")[0] == "pandas"


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


def in_memory_table(obj) -> pa.Table:
    """A table in memory as a `pyarrow.Table`: a pandas DataFrame without its index
    (`pyarrow.Table.from_pandas`), an Arrow PyCapsule stream through `pyarrow.table` (its
    producer's types, but views (Polars' strings) as large types: `without_views`)."""
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    if is_pandas_frame(obj):
        return pa.Table.from_pandas(obj, preserve_index=False)
    try:
        return without_views(pa.table(obj))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError) as exc:
        raise InputError(f"a {type(obj).__name__} offers an Arrow stream that pyarrow cannot "
                         f"read as a table: {' '.join(str(exc).split())}") from exc


def resolve_inputs(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """Expands one path, a directory of Parquet files, a glob, or a list of those. A file
    that several of them match is read once, where it first appears. A directory holding no
    Parquet file of its own but ``key=value`` folders (a hive-partitioned dataset, as Spark or
    `pyarrow.dataset.write_dataset` write it) is read whole, its partition keys as columns
    after the files' own (`PartitionedPath`).

    Raises:
        InputError: when nothing matches, naming the pattern.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if (isinstance(inputs, (pa.Table, pa.RecordBatch)) or is_table_like(inputs)
            or not isinstance(inputs, Sequence)):
        hint = ("; a table in memory goes to `fit` (and `sample`), or to "
                "`VAEOverSampler.fit_resample`" if isinstance(inputs, (pa.Table, pa.RecordBatch))
                or is_table_like(inputs) else "")
        raise InputError(f"expected Parquet paths (a file, a directory, a glob or a list of "
                         f"them), got {type(inputs).__name__}; write the table to Parquet "
                         f"first (pyarrow.parquet.write_table){hint}")
    paths: list[str] = []
    for item in inputs:
        if not isinstance(item, (str, os.PathLike)):
            raise InputError(f"expected Parquet paths, got an item of type "
                             f"{type(item).__name__}")
        item = os.fspath(item)
        if os.path.isdir(item):
            try:
                names = os.listdir(item)
            except OSError as exc:  # a directory without read permission
                raise InputError(f"cannot read input directory '{item}': "
                                 f"{exc.strerror or exc}") from exc
            found = sorted(
                os.path.join(item, f)
                for f in names
                if f.endswith(".parquet") and not f.startswith((".", "_"))
            )
            if not found:
                hive = _hive_files(item)
                if hive:
                    paths.extend(hive)
                    continue
                if next(glob.iglob(os.path.join(item, "*", "**", "*.parquet"), recursive=True),
                        None) is not None:
                    raise not_hive(item, os.path.join(item, "**", "*.parquet"))
                raise InputError(f"input directory '{item}' contains no .parquet files")
            # the first nested file is enough (a lazy walk: a big tree is not listed whole)
            if next(glob.iglob(os.path.join(item, "*", "**", "*.parquet"), recursive=True),
                    None) is not None:
                warn(
                    f"input directory '{item}' also holds .parquet files in subdirectories, "
                    f"which are not read (only its own files are); pass a glob such as "
                    f"'{os.path.join(item, '**', '*.parquet')}' to read them too")
            paths.extend(found)
        elif any(ch in item for ch in "*?["):
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not found:
                raise InputError(f"input glob '{item}' matches no files")
            paths.extend(found)
        elif os.path.isfile(item):
            paths.append(item)
        elif os.path.exists(item):  # `<(cat x.parquet)`, /dev/stdin from a pipe: said missing
            raise InputError(f"input '{item}' is not a regular file (a pipe or a device?); "
                             f"Parquet is read from a file (its footer comes last): save it "
                             f"to one first")
        else:
            raise InputError(f"input file '{item}' does not exist")
    seen: set[str] = set()
    unique = []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def not_parquet(path: str, exc: BaseException) -> InputError:
    """The error for a file whose footer pyarrow cannot read (not Parquet, truncated)."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, pa.ArrowNotImplementedError):  # a valid file of a type pyarrow lacks
        return InputError(
            f"input '{path}' holds a column of a type pyarrow {pa.__version__} cannot read "
            f"({first}), so no column of it can be read, excluded or not; cast that column "
            f"where the file is written (e.g. a Polars Int128 to Int64 or Decimal)")
    return InputError(f"input '{path}' is not a readable Parquet file ({first})")


def in_file(path: str, exc: Exception) -> Exception:
    """`exc`, an error about a value read from the file at `path`, as the same error type
    naming that file (inputs of several files), with its attributes (`NonFiniteError.column`)."""
    import copy

    named = copy.copy(exc)
    named.args = (f"input '{path}': {exc}",)
    return named


def _open(path: str) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, pa.ArrowIOError, pa.ArrowNotImplementedError, OSError) as exc:
        raise not_parquet(path, exc) from exc


def read_schema(paths: Sequence[str]) -> pa.Schema:
    """The common Arrow schema of `paths`; raises `InputError` on a mismatch. Files that
    differ only in declaring a field NOT NULL (one writer's, Spark's or DuckDB's, beside
    another's) are one input: the field is nullable where any file's is (`iter_batches`
    gives their batches so)."""
    schema = None
    for path in paths:
        this = partition_schema(_open(path).schema_arrow, path)
        if schema is None:
            schema = this
        elif not this.equals(schema, check_metadata=False):
            merged = union_nullability(schema, this)
            if merged is not None:
                schema = merged
                continue
            diff = schema_difference(schema, this) or "field metadata differs"
            raise InputError(
                f"input '{path}' has a different schema from '{paths[0]}': {diff}"
            )
    if schema is None:
        raise InputError("no input files given")
    return schema


def union_nullability(a: pa.Schema, b: pa.Schema) -> pa.Schema | None:
    """`a` with each field nullable where `a`'s or `b`'s is, when the two differ in nothing
    else (names, order, types, field metadata); else None."""
    if a.names != b.names:
        return None
    fields = []
    for x, y in zip(a, b):
        if not x.with_nullable(True).equals(y.with_nullable(True), check_metadata=True):
            return None
        fields.append(x.with_nullable(x.nullable or y.nullable))
    return pa.schema(fields, metadata=a.metadata)


def with_nullability(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """`batch` with its fields declared nullable where `schema`'s field of that name is (a
    file's NOT NULL field in an input whose other files allow nulls: `read_schema`)."""
    relax = [not f.nullable and f.name in schema.names and schema.field(f.name).nullable
             for f in batch.schema]
    if not any(relax):
        return batch
    fields = [f.with_nullable(True) if r else f for f, r in zip(batch.schema, relax)]
    return pa.RecordBatch.from_arrays(batch.columns,
                                      schema=pa.schema(fields, metadata=batch.schema.metadata))


def _columns_phrase(names: Sequence[str], verb: str) -> str:
    if len(names) == 1:
        return f"column '{names[0]}' {verb}"
    shown = ", ".join(f"'{n}'" for n in names[:8]) + (", ..." if len(names) > 8 else "")
    return f"{len(names)} columns {verb.replace('is ', 'are ')}: {shown}"


def schema_difference(
    expected: pa.Schema, got: pa.Schema, columns: Sequence[str] | None = None, *,
    nullability: bool = True,
) -> str | None:
    """None when `got` matches `expected` on names, order, types and nullability (on
    `columns` only, when given: order and other columns then do not matter), else the first
    difference, named: the missing or unexpected columns, the first column out of order, or
    a column's type or nullability (not compared when `nullability` is false: a model
    balancing data whose fields are declared otherwise, `Encoding.null_conflict`).
    Metadata is not compared."""
    if columns is None:
        if got.names != expected.names:
            missing = [n for n in expected.names if n not in got.names]
            extra = [n for n in got.names if n not in expected.names]
            parts = ([_columns_phrase(missing, "is missing")] if missing else []) + (
                [_columns_phrase(extra, "is not expected")] if extra else [])
            if parts:
                return "; ".join(parts)
            i = next(i for i, (a, b) in enumerate(zip(expected.names, got.names)) if a != b)
            return (f"the columns are in another order: column {i + 1} is '{got.names[i]}', "
                    f"expected '{expected.names[i]}'")
        columns = expected.names
    for name in columns:
        want = expected.field(name)
        if name not in got.names:
            return _columns_phrase([name], "is missing")
        have = got.field(name)
        if not have.type.equals(want.type):
            return (f"column '{name}' has type {have.type}, expected {want.type}"
                    f"{_list_hint(have.type, want.type)}")
        if nullability and have.nullable != want.nullable:
            return f"column '{name}' has nullable={have.nullable}, expected {want.nullable}"
    return None


def _list_hint(have: pa.DataType, want: pa.DataType) -> str:
    """What to do about a variable-length list where a fixed-size list (a tensor, or an
    extension type over one) is expected: cast it."""
    storage = want.storage_type if isinstance(want, pa.BaseExtensionType) else want
    if pa.types.is_fixed_size_list(storage) and (pa.types.is_list(have) or pa.types.is_large_list(have)):
        return f" (a variable-length list: cast it to that fixed-size list of {storage.list_size} values)"
    return ""


def iter_batches(
    paths: Sequence[str], *, batch_size: int = 65536, columns: Sequence[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Streams record batches from every file in order, one row group window at a time;
    string_view / binary_view columns come as large_string / large_binary (`without_views`).
    Files of several declare a field nullable alike (`read_schema`)."""
    common: list[pa.Schema] = []  # read when a batch of several files has a NOT NULL field
    for path in paths:
        pf = _open(path)
        try:
            for batch in pf.iter_batches(batch_size=batch_size,
                                         columns=_file_columns(path, columns)):
                # string views as large types (`without_views`): writers cast them back
                batch = without_views(with_partition(batch, path, columns))
                if len(paths) > 1 and not all(f.nullable for f in batch.schema):
                    if not common:
                        common.append(read_schema(paths))
                    batch = with_nullability(batch, common[0])
                yield batch
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise unreadable(path, exc) from exc


def unreadable(path: str | None, exc: BaseException | str) -> InputError:
    """The error for a file whose data pyarrow fails to read: corrupt, or (pyarrow 25) a
    fixed-size list column with null entries, which pyarrow writes but cannot read back.
    `path` None: a file not known by name (a Beam worker's read)."""
    text = str(exc)
    first = text.splitlines()[0] if text else type(exc).__name__
    where = "an input file" if path is None else f"input '{path}'"
    if "Expected all lists to be of size" in first:
        return InputError(
            f"{where} has a fixed-size list column with null entries, which pyarrow "
            f"{pa.__version__} cannot read back ({first}; apache/arrow#35692); fill those "
            f"entries (e.g. with zeros) before writing the file")
    return InputError(f"{where} is corrupt ({first})")


_NULL_LISTS_READABLE: list[bool] = []


def null_fixed_size_lists_readable() -> bool:
    """Whether this pyarrow reads back a Parquet file with a null fixed-size list entry
    (pyarrow 25 writes such files and then cannot read them: apache/arrow#35692). Probed
    once, in memory."""
    if not _NULL_LISTS_READABLE:
        import io as _io

        buf = _io.BytesIO()
        arr = pa.FixedSizeListArray.from_arrays(pa.array([1, 2, 3, 4], pa.uint8()), 2,
                                                mask=pa.array([False, True]))
        try:
            pq.write_table(pa.table({"t": arr}), buf)
            buf.seek(0)
            ok = pq.read_table(buf).column("t").null_count == 1
        except (pa.ArrowInvalid, OSError):
            ok = False
        _NULL_LISTS_READABLE.append(ok)
    return _NULL_LISTS_READABLE[0]


def _fixed_size_list_columns(schema: pa.Schema) -> list[int]:
    def storage(t):
        return t.storage_type if isinstance(t, pa.BaseExtensionType) else t

    return [i for i, f in enumerate(schema) if pa.types.is_fixed_size_list(storage(f.type))]


def read_table(paths: Sequence[str], columns: Sequence[str] | None = None) -> pa.Table:
    """Reads the inputs into one table (used by in-memory paths only); string views as
    large types, as `iter_batches` gives them."""
    schema = schema_without_views(read_schema(paths))
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    batches = list(iter_batches(paths, columns=columns))
    return pa.Table.from_batches(batches, schema=schema)


def output_schema(schema: pa.Schema) -> pa.Schema:
    """The input schema plus a non-null boolean `is_synthetic` column (metadata kept)."""
    if SYNTHETIC_COLUMN in schema.names:
        raise InputError(
            f"input already has a column named '{SYNTHETIC_COLUMN}'; rename it before balancing"
        )
    return schema.append(pa.field(SYNTHETIC_COLUMN, pa.bool_(), nullable=False))


def with_range_index_rows(schema: pa.Schema, rows: int) -> pa.Schema:
    """`schema` with the pandas RangeIndex its metadata describes (``to_parquet`` of a frame
    with a RangeIndex stores start, stop and step, not a column) stretched to `rows` rows:
    an output whose first rows are its one input file's, in order, keeps their index
    values, and the rows after them continue the range. pandas fell back to 0..n-1 when the
    stored range did not match the row count, so the real rows lost their index."""
    import json

    raw = (schema.metadata or {}).get(b"pandas")
    try:
        meta = json.loads(raw) if raw else None
    except ValueError:
        return schema
    index = meta.get("index_columns") if isinstance(meta, dict) else None
    if not isinstance(index, list) or len(index) != 1 or not isinstance(index[0], dict) \
            or index[0].get("kind") != "range":
        return schema
    start, step = index[0].get("start", 0), index[0].get("step", 1)
    if not isinstance(start, int) or not isinstance(step, int) or step == 0:
        return schema
    meta["index_columns"] = [{**index[0], "stop": start + step * rows}]
    return schema.with_metadata({**schema.metadata, b"pandas": json.dumps(meta).encode()})


class AtomicParquetWriter:
    """Writes one Parquet file (or `shards` files in a directory, or a hive-partitioned
    directory by the columns `partition_by`) under a temporary name.

    The output appears under its final name only when `close()` succeeds, so a killed
    process leaves either no output or the previous one intact. Row groups are buffered
    to `row_group_size` rows (split among the partitions: with many, their row groups are
    smaller).

    With `shards` and `total_rows` (the rows to be written), shard i holds rows
    ``i * total_rows // shards`` up to the next shard's first, so the shards are even and the
    directory reads back in the order written; without `total_rows`, row groups go to the
    shards in turn (the shards after the first are empty below `row_group_size` rows).

    With `partition_by`, each row goes to ``key=value/.../part-00000.parquet`` for its
    values of those columns (percent-encoded; null as ``__HIVE_DEFAULT_PARTITION__``), and
    the files hold the other columns, as Spark and `pyarrow.dataset.write_dataset` write
    them, and record `schema` (`WRITTEN_SCHEMA_KEY`): `resolve_inputs` and every reader of
    this library give the directory back as written (types, column order, metadata), while
    other readers type the keys from the folder names (`pyarrow.dataset`: int32 when every
    value is one, else string) and put them last. At most `MAX_PARTITIONS` partitions.

    Example:
        >>> with AtomicParquetWriter("out.parquet", schema) as w:  # doctest: +SKIP
        ...     w.write(table)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        schema: pa.Schema,
        *,
        overwrite: bool = False,
        shards: int | None = None,
        row_group_size: int = 131072,
        partition_by: str | Sequence[str] | None = None,
        total_rows: int | None = None,
    ):
        self.path = os.fspath(path)
        self.schema = schema
        self.shards = shards
        self.total_rows = total_rows
        self.row_group_size = row_group_size
        if shards is not None and shards < 1:
            raise InputError(f"{arg('output_shards')} must be a positive integer, got {shards}")
        self.partition_by = check_partition_by(schema, partition_by)
        refuse_output(self.path, overwrite, shards, self.partition_by)
        check_output_parent(self.path)
        parent = os.path.dirname(os.path.abspath(self.path))
        base = os.path.basename(self.path)
        self._directory = shards is not None or bool(self.partition_by)
        # partitioned: the files' schema, and per partition (its folders) a writer and rows
        self._file_schema = partition_file_schema(schema, self.partition_by)
        self._parts: dict[tuple[str, ...], pq.ParquetWriter] = {}
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._next = 0
        self.rows_written = 0
        self._closed = False
        # tensor columns whose null entries this pyarrow could not read back
        self._tensor_columns = ([] if null_fixed_size_lists_readable()
                                else _fixed_size_list_columns(schema))
        self._writers: list[pq.ParquetWriter] = []
        try:
            if not self._directory:
                fd, self._tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
                os.close(fd)
            else:
                self._tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
        except OSError as exc:  # named the hidden temporary file, not the user's output
            raise self._cannot_write(exc) from exc
        try:  # no `with` holds the writer yet: an error (or Ctrl-C, SIGTERM) here orphaned it
            with_umask_mode(self._tmp)
            if not self._directory:
                self._writers.append(pq.ParquetWriter(self._tmp, schema))
            for i in range(shards or 0):
                self._writers.append(pq.ParquetWriter(
                    os.path.join(self._tmp, f"part-{i:05d}-of-{shards:05d}.parquet"), schema))
        except BaseException:
            self.abort()
            raise

    def write(self, data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch]) -> None:
        if isinstance(data, pa.Table):
            batches = data.to_batches()
        elif isinstance(data, pa.RecordBatch):
            batches = [data]
        else:
            batches = data
        for batch in batches:
            if batch.num_rows == 0:
                continue
            if not batch.schema.equals(self.schema, check_metadata=False):
                batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
            for i in self._tensor_columns:
                if batch.column(i).null_count:
                    raise InputError(
                        f"column '{self.schema.field(i).name}' has null tensors to write, "
                        f"which pyarrow {pa.__version__} would write to Parquet but could not "
                        f"read back (apache/arrow#35692); nothing was written. Their model "
                        f"learned a null rate from a table with null tensors: fit it on a "
                        f"table with those entries filled (e.g. with zeros) or the column "
                        f"excluded")
            self._pending.append(batch)
            self._pending_rows += batch.num_rows
            if self._pending_rows >= self.row_group_size:
                try:
                    self._flush()
                except OSError as exc:
                    raise self._cannot_write(exc) from exc

    def _cannot_write(self, exc: OSError) -> InputError:
        """A full disk (or quota, or I/O error) while writing, naming the output: the
        message was pyarrow's "cannot write: Error writing bytes to file. Detail: ...",
        without a path."""
        return InputError(f"cannot write output '{self.path}': {os_reason(exc)}")

    def _flush(self) -> None:
        if not self._pending:
            return
        table = one_dictionary(pa.Table.from_batches(self._pending, schema=self.schema))
        self._pending, self._pending_rows = [], 0
        if self.partition_by:  # split once per row group's worth of rows, not per batch
            for batch in table.combine_chunks().to_batches():
                for key, rows in split_partitions(batch, self.partition_by, self._file_schema):
                    self._part_writer(key).write_batch(rows, row_group_size=self.row_group_size)
                    self.rows_written += rows.num_rows
            return
        if self.total_rows is not None and len(self._writers) > 1:
            n, start = len(self._writers), 0
            while start < table.num_rows:  # shard i: rows [i * total // n, (i+1) * total // n)
                i = next((i for i in range(n - 1)
                          if self.rows_written < (i + 1) * self.total_rows // n), n - 1)
                end = (i + 1) * self.total_rows // n if i < n - 1 else self.rows_written + table.num_rows
                part = table.slice(start, end - self.rows_written)
                self._writers[i].write_table(part, row_group_size=self.row_group_size)
                start += part.num_rows
                self.rows_written += part.num_rows
            return
        writer = self._writers[self._next % len(self._writers)]
        self._next += 1
        writer.write_table(table, row_group_size=self.row_group_size)
        self.rows_written += table.num_rows

    def _part_writer(self, key: tuple[str, ...]) -> pq.ParquetWriter:
        """The open file of the partition with folders `key` (made on its first rows)."""
        if key not in self._parts:
            if len(self._parts) >= MAX_PARTITIONS:
                raise InputError(
                    f"{arg('partition_by')} {self.partition_by} makes more than "
                    f"{MAX_PARTITIONS} partitions (one open file each); partition by "
                    f"columns with fewer distinct values")
            folder = os.path.join(self._tmp, *key)
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:  # e.g. a value too long for a file name
                raise InputError(f"cannot make the partition folder '{os.path.join(*key)}' "
                                 f"({exc.strerror or exc}); partition by another column") from exc
            self._parts[key] = pq.ParquetWriter(os.path.join(folder, "part-00000.parquet"),
                                                self._file_schema)
        return self._parts[key]

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._flush()
            if self.partition_by and not self._parts:
                # no rows, so no partition: one empty shard of the whole schema, which every
                # reader takes (0 rows, the written types), where an empty folder has no schema
                self._writers.append(pq.ParquetWriter(
                    os.path.join(self._tmp, "part-00000-of-00001.parquet"), self.schema))
            for w in [*self._writers, *self._parts.values()]:
                w.close()
        except BaseException as exc:  # the last rows could not be written: nothing is left
            self.abort()
            if isinstance(exc, OSError):
                raise self._cannot_write(exc) from exc
            raise
        self._closed = True
        try:
            if not self._directory and not os.path.isdir(self.path):
                os.replace(self._tmp, self.path)  # atomic, also over an existing file
            elif os.path.lexists(self.path):
                # a directory is replaced, or replaces a file: move the old one aside (hidden)
                old = self._tmp + ".old"
                os.replace(self.path, old)
                os.replace(self._tmp, self.path)
                _rmtree(old)
            else:
                os.replace(self._tmp, self.path)
        except OSError as exc:
            _rmtree(self._tmp)
            raise InputError(f"could not move the output into place at '{self.path}': {exc}") from exc

    def abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        for w in [*self._writers, *self._parts.values()]:
            try:
                w.close()
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass
        _rmtree(self._tmp)

    def __enter__(self) -> AtomicParquetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _rmtree(path: str) -> None:
    import shutil

    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)
