"""Parquet input resolution and streaming reads (pyarrow only, no TensorFlow).

The output side (`AtomicParquetWriter`, the output path rules) is in `vae_augment.outputs`,
hive partitions in `vae_augment.partitions` and string views in `vae_augment.views`; their
public names are importable from here too, as before."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment import partitions
from vae_augment.errors import InputError, arg, warn
from vae_augment.outputs import (  # noqa: F401  (re-exported: this module's public names)
    SYNTHETIC_COLUMN,
    AtomicParquetWriter,
    check_output_parent,
    null_fixed_size_lists_readable,
    one_dictionary,
    os_reason,
    output_schema,
    probe_writable,
    refuse_existing,
    refuse_input_as_output,
    refuse_output,
    with_range_index_rows,
    with_umask_mode,
)
from vae_augment.partitions import (  # noqa: F401  (re-exported, and used here)
    _hive_files,
    check_partition_by,
    hive_layout,
    not_hive,
    partition_file_schema,
    partition_of,
    partition_schema,
    split_partitions,
    with_partition,
)
from vae_augment.views import (  # noqa: F401  (re-exported, and used here)
    array_without_view,
    schema_without_views,
    view_types,
    with_views,
    without_views,
)

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
        if len(keys) > partitions.MAX_PARTITIONS:
            raise InputError(
                f"{arg('partition_by')} {list(names)} makes more than {partitions.MAX_PARTITIONS} "
                f"partitions from the input's rows alone (one open file each); partition by "
                f"columns with fewer distinct values")


def _file_columns(path: str, columns: Sequence[str] | None) -> list[str] | None:
    """The columns to read from the file itself (partition columns are in its folders)."""
    if columns is None:
        return None
    keys = {f.name for f in partition_of(path)[0]}
    return [c for c in columns if c not in keys]


def is_table_like(obj) -> bool:
    """Whether `obj` is a table in memory that `in_memory_table` converts: a pandas
    DataFrame, or any object with the Arrow PyCapsule stream interface
    (``__arrow_c_stream__``: Polars and DuckDB results, a `pyarrow.RecordBatchReader`, ...)."""
    if isinstance(obj, (pa.Table, pa.RecordBatch, str, os.PathLike)):
        return False
    return is_pandas_frame(obj) or hasattr(obj, "__arrow_c_stream__")


def is_pandas_frame(obj) -> bool:
    return type(obj).__name__ == "DataFrame" and type(obj).__module__.split(".")[0] == "pandas"


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


def read_table(paths: Sequence[str], columns: Sequence[str] | None = None) -> pa.Table:
    """Reads the inputs into one table (used by in-memory paths only); string views as
    large types, as `iter_batches` gives them."""
    schema = schema_without_views(read_schema(paths))
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    batches = list(iter_batches(paths, columns=columns))
    return pa.Table.from_batches(batches, schema=schema)


