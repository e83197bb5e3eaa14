"""Parquet outputs: the rules an output path must pass (`refuse_output`, `probe_writable`) and
`AtomicParquetWriter`, which writes one file, shards or a hive-partitioned directory under a
temporary name (pyarrow only, no TensorFlow)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment import partitions
from vae_augment.errors import InputError, arg, option
from vae_augment.partitions import check_partition_by, partition_file_schema, split_partitions

__all__ = [
    "SYNTHETIC_COLUMN",
    "refuse_existing",
    "refuse_output",
    "refuse_input_as_output",
    "one_dictionary",
    "check_output_parent",
    "probe_writable",
    "os_reason",
    "with_umask_mode",
    "null_fixed_size_lists_readable",
    "output_schema",
    "with_range_index_rows",
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
            if len(self._parts) >= partitions.MAX_PARTITIONS:
                raise InputError(
                    f"{arg('partition_by')} {self.partition_by} makes more than "
                    f"{partitions.MAX_PARTITIONS} partitions (one open file each); partition by "
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
