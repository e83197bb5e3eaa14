"""`ReadParquetTables`: Parquet files or patterns -> one Arrow table per row group; and
`WritePartitionedParquet`: tables -> a hive-partitioned directory."""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.parquetio import ReadAllFromParquetBatched

from vae_augment.errors import InputError, VAEAugmentError
from vae_augment.io import partition_of

__all__ = ["ReadParquetTables", "WritePartitionedParquet", "expand_patterns", "match_files",
           "row_group_start", "rows_counted"]


def _items(inputs: str | Sequence[str]) -> list[str]:
    """The inputs one by one: commas separate several in one string; blanks stripped."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [p for p in os.fspath(inputs).split(",") if p.strip()]
    return [os.fspath(i).strip() for i in inputs]


def expand_patterns(inputs: str | Sequence[str]) -> list[str]:
    """File patterns for Beam: a local directory becomes ``dir/*.parquet``; the rest as given
    (`match_files` reads a remote directory, flat or hive-partitioned).

    Commas separate several inputs in one string; a pattern given twice is kept once (first
    place). Patterns that overlap ("dir,dir/a.parquet") still match a file twice: resolve
    them with `match_files` first.
    """
    out = []
    for item in _items(inputs):
        if "://" not in item and os.path.isdir(item):
            item = os.path.join(item, "*.parquet")
        if item not in out:
            out.append(item)
    return out


def match_files(inputs: str | Sequence[str]) -> list[str]:
    """The files `inputs` (as `expand_patterns` takes them) match, each once: first-seen
    order, sorted within a pattern. Any Beam filesystem; one listing per pattern.

    Local paths follow `vae_augment.io.resolve_inputs`, the rule `fit` reads by (a directory's
    ``_``- and ``.``-prefixed files left out; ``**`` also matching no folder), so the Beam
    statistics job and `fit --encoding` read the same files (they differed). Remote patterns
    go to Beam's matcher, leaving out ``_``/``.``-prefixed names (``_SUCCESS``, ``_metadata``)
    unless the pattern names such a file itself.

    Raises:
        InputError: a local path that matches nothing (naming it, with `resolve_inputs`'
            hints); a remote one that matches nothing is left out (the caller says so).
    """
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.io import resolve_inputs

    files: dict[str, None] = {}
    for item in _items(inputs):
        if "://" not in item:
            found = resolve_inputs([item])
        else:
            hidden = os.path.basename(item.rstrip("/")).startswith(("_", "."))
            pattern = expand_patterns([item])[0]
            # a path with no glob that is not a .parquet file may be a directory (which some
            # filesystems also match as a path): its files first
            maybe_dir = not any(ch in item for ch in "*?[") and not item.endswith(".parquet")
            found = _remote_directory(item) if maybe_dir else []
            found = found or sorted(
                m.path for m in FileSystems.match([pattern])[0].metadata_list
                if hidden or not _hidden_below(pattern, m.path))
        for path in found:
            files.setdefault(path, None)
    return list(files)


def _hidden_below(pattern: str, path: str) -> bool:
    """Whether `path` (a match of `pattern`) is, or is in a folder below the pattern's fixed
    part that is, named with a leading '_' or '.': what readers skip (a `**` glob matched a
    job's `.staging-*` folder on an object store)."""
    cut = min([pattern.index(ch) for ch in "*?[" if ch in pattern] or [len(pattern)])
    base = pattern[:cut].rsplit("/", 1)[0]
    rel = path[len(base):].strip("/") if path.startswith(base) else os.path.basename(path)
    return any(part.startswith(("_", ".")) for part in rel.split("/"))


def _remote_directory(item: str) -> list[str]:
    """The files of a directory on a remote filesystem, read as `fit` reads a local one:
    its own Parquet files, or, when it has none, a hive-partitioned layout below it (its keys
    as columns: `vae_augment.io.hive_layout`); ``_``/``.``-prefixed names left out."""
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.io import hive_layout, not_hive

    root = item.rstrip("/")
    direct = sorted(m.path for m in FileSystems.match([root + "/*.parquet"])[0].metadata_list
                    if not m.path.rsplit("/", 1)[-1].startswith(("_", ".")))
    if direct:
        return direct
    nested = []
    for m in FileSystems.match([root + "/**"])[0].metadata_list:
        rel = m.path[len(root) + 1:].split("/")
        if rel[-1].endswith(".parquet") and not any(seg.startswith(("_", ".")) for seg in rel):
            nested.append((m.path, rel[:-1]))
    if not nested:
        return []
    hive = hive_layout(nested, _remote_schema)
    if hive is None:
        raise not_hive(item, f"{root}/**/*.parquet")
    return hive


def _remote_schema(path: str):
    """The Arrow schema of a remote Parquet file (its footer)."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        return pq.read_schema(f)


def _match_checked(pattern: str) -> list[str]:
    """`match_files` of one pattern, which must match a file: one listing. A local path that
    matches nothing is named by `resolve_inputs` (with its hints: a directory of nested
    files, ...), a remote one here."""
    from apache_beam.io.filesystem import BeamIOError

    if "://" not in pattern:
        return match_files([pattern])
    try:
        found = match_files([pattern])
    except BeamIOError as exc:
        raise InputError(f"input '{pattern}' cannot be listed ({' '.join(str(exc).split())[:300]})"
                         ) from exc
    if not found:
        raise InputError(f"input '{pattern}' matches no files")
    return found


def _add_partition(element, partitions, columns, with_filename):
    """(path, table) -> the table with its file's partition columns (and the path, kept
    when `with_filename`)."""
    from vae_augment.io import with_partition

    path, table = element
    if path in partitions:
        table = with_partition(table, partitions[path], columns)
    return (path, table) if with_filename else table


def _without_views(element, with_filename):
    """A table (or (path, table)) with its string_view / binary_view columns as large types
    (`vae_augment.io.without_views`): few Arrow kernels take views. The writers cast them
    back to the input's types."""
    from vae_augment.io import without_views

    if with_filename:
        path, table = element
        return path, without_views(table)
    return without_views(element)


def _local_hive(item: str) -> list[str]:
    """The files of `item` when it is a local hive-partitioned directory, else []."""
    from vae_augment.io import resolve_inputs

    if "://" in item or not os.path.isdir(item):
        return []
    try:
        files = resolve_inputs(item)
    except InputError:  # empty, or nested but not hive: the read says so as without this
        return []
    return files if files and partition_of(files[0])[0] else []


def require_root(pvalue, name: str) -> None:
    """A clear error when a root transform (it reads or generates; it takes no input) is
    applied to a PCollection instead of the pipeline."""
    if not isinstance(pvalue, beam.pvalue.PBegin):
        raise VAEAugmentError(
            f"{name} starts a pipeline branch: apply it to the pipeline "
            f"(p | {name}(...)), not to a {type(pvalue).__name__}")


def _version(path: str) -> tuple:
    """(size, last modified) of the file at `path`: what `_row_groups` is kept by, so a
    file rewritten since (a notebook or script running jobs in one process) is read anew."""
    from apache_beam.io.filesystems import FileSystems

    meta = FileSystems.get_filesystem(path).metadata(path)
    return meta.size_in_bytes, meta.last_updated_in_seconds


@functools.lru_cache(maxsize=8)
def _row_groups(path: str, version: tuple = ()) -> dict[int, list[tuple[int, dict, int]]]:
    """The row groups of the Parquet file at `path` (any Beam filesystem), from its footer,
    by length: ``{rows: [(first row's place in the file, {column: (nulls, min, max)},
    index)]}`` for its columns stored flat (a list column's statistics are its values'), a
    part None where not written. Kept for a few files, by `version` (`_version`: a rewritten file's
    footer is read again), as a worker meets the bad rows of one file's row groups one
    element at a time."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        meta = pq.ParquetFile(f).metadata
    out: dict[int, list[tuple[int, dict, int]]] = {}
    start = 0
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        stats = {}
        for j in range(rg.num_columns):
            chunk = rg.column(j)
            st = chunk.statistics
            if st is not None and "." not in chunk.path_in_schema:
                stats[chunk.path_in_schema] = (
                    st.null_count if st.has_null_count else None,
                    *((st.min, st.max) if st.has_min_max else (None, None)))
        out.setdefault(rg.num_rows, []).append((start, stats, i))
        start += rg.num_rows
    return out


def _digest(column) -> bytes:
    """A digest of an Arrow column's values (type, nulls and values; not its chunking)."""
    import hashlib

    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, pa.schema([pa.field("c", column.type)])) as writer:
        writer.write_batch(pa.record_batch([column], names=["c"]))
    return hashlib.sha1(sink.getvalue()).digest()


@functools.lru_cache(maxsize=16)
def _column_digests(path: str, version: tuple, rows: int,
                    name: str) -> dict[bytes, list[int]] | None:
    """{digest of column `name` in a row group: the starts of the row groups of `rows` rows
    whose column it is} for the file at `path` (`_row_groups`' `version`); None when the
    file has no such column (a partition key). Each row group's column is read once, when a
    bad row's row group is looked up by its values."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import CompressionTypes, FileSystems

    out: dict[bytes, list[int]] = {}
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        reader = pq.ParquetFile(f)
        if name not in reader.schema_arrow.names:
            return None
        for start, _, index in _row_groups(path, version)[rows]:
            column = reader.read_row_group(index, columns=[name]).column(0)
            out.setdefault(_digest(column), []).append(start)
    return out


def _statistics(table, name: str) -> tuple:
    """(nulls, min, max) of `table`'s column `name`, as a Parquet footer holds them (min and
    max None for a column of nulls, or of a type they are not compared for)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(name)
    if pa.types.is_dictionary(col.type):
        col = col.combine_chunks().dictionary_decode()
    try:
        low, high = pc.min_max(col).values()
        return col.null_count, low.as_py(), high.as_py()
    except (pa.ArrowException, TypeError, ValueError):
        return col.null_count, None, None


def _agrees(footer: tuple, own: tuple) -> bool:
    """Whether a row group's (nulls, min, max) in the footer can be `own`'s: parts either
    side does not know are not compared."""
    if footer[0] is not None and footer[0] != own[0]:
        return False
    if footer[1] is None or own[1] is None:
        return True
    return (footer[1], footer[2]) == (own[1], own[2])


#: the most columns `row_group_start(..., read=True)` compares by their values, and the
#: most bytes of one column it reads from a file (the element's column's size times the
#: row groups left): a single-class file of images is not read whole to name a row
_COLUMNS_READ = 3
_BYTES_READ = 64 << 20


def row_group_start(path: str, table, *, read: bool = False) -> int | None:
    """The position in its file of `table`'s first row, for `table` one whole row group of
    the Parquet file at `path`, as `ReadParquetTables` reads them (Beam's read does not say
    which). Found from the file's footer: the row groups of `table`'s length, then, of
    several, the one whose column statistics (min, max, null count) are `table`'s. With
    `read` (a bad row is being named), row groups the statistics cannot tell apart (an
    image table's: the same label range, pixels 0-255) are told apart by their values: up
    to `_COLUMNS_READ` of `table`'s columns, the smallest first, each read once per file
    and only when that is under `_BYTES_READ`.

    None when that does not settle it (no such row group, several alike, a file that cannot
    be read): a bad row is then counted within its row group. The footer is read once for
    a few files; `table`'s columns' min and max are computed when row groups of its length
    are several.
    """
    import pyarrow as pa

    try:
        version = _version(path)
        groups = _row_groups(path, version).get(table.num_rows, [])
    except (OSError, ValueError, NotImplementedError, pa.ArrowException):
        return None  # only an error's wording depends on it
    starts = [start for start, _, _ in groups]
    if len(groups) > 1:
        names = [n for n in table.column_names if n in groups[0][1]]
        own = {n: _statistics(table, n) for n in names}
        starts = [start for start, stats, _ in groups
                  if all(_agrees(stats[n], own[n]) for n in names if n in stats)]
    if len(starts) > 1 and read:
        by_size = sorted(table.column_names, key=lambda n: table.column(n).nbytes)
        for name in by_size[:_COLUMNS_READ]:
            if table.column(name).nbytes * len(groups) > _BYTES_READ:
                break  # the larger columns too
            try:
                digests = _column_digests(path, version, table.num_rows, name)
            except (OSError, ValueError, pa.ArrowException):
                return None
            if digests is None:  # a column the file lacks (a partition key)
                continue
            same = digests.get(_digest(table.column(name)), [])
            starts = [s for s in starts if s in same]
            if len(starts) <= 1:
                break
    return starts[0] if len(starts) == 1 else None


def rows_counted(path: str | None, table):
    """`split_bad_rows`'s `where` for an element's `table` read from `path`: its bad rows
    counted in their file when `row_group_start` finds where the row group starts, else
    within the row group; None for a plain table (counted within it)."""
    if path is None:
        return None

    def where() -> tuple[int, str]:
        start = row_group_start(path, table, read=True)
        return (0, "its row group") if start is None else (start, "its file")

    return where


class ReadParquetTables(beam.PTransform):
    """Reads Parquet files as `pyarrow.Table`s, one per row group.

    Uses ``beam.Create(patterns) | ReadAllFromParquetBatched()``, which runs on every runner we
    tried, including Beam's DaskRunner (a root ``ReadFromParquetBatched`` fails there with
    Beam 2.77). Files are split across workers by byte range; memory per element is one row
    group, so write inputs with bounded row groups (pyarrow's default is 1M rows).

    A directory, local or remote, is read as `fit` reads one: its own Parquet files, or a
    hive-partitioned layout below it (``root/key=value/...``), whose keys are columns after
    the files' own (`vae_augment.io.resolve_inputs`). The keys need the files listed here:
    with `validate`, or files `match_files` listed, or a local hive-partitioned directory
    (listed whatever `validate` says); a remote directory given with ``validate=False`` is
    read as ``dir/*.parquet``.

    Example:
        >>> tables = p | ReadParquetTables("data/*.parquet")  # doctest: +SKIP
    """

    def __init__(self, inputs: str | Sequence[str], *, columns: Sequence[str] | None = None,
                 validate: bool = True, with_filename: bool = False):
        """`validate`: check at construction that every pattern matches a file and read the
        files from that listing (one listing per pattern, as Beam's ``ReadFromParquet``
        does); a missing path is an `InputError` then, not an empty read. `with_filename`:
        elements are ``(path, table)``, so an error about a row can name its file."""
        super().__init__()
        self._with_filename = with_filename
        self._patterns = expand_patterns(inputs)
        if not self._patterns:
            raise InputError("`inputs` names no file or pattern")
        self._columns = list(columns) if columns is not None else None
        # files of a hive-partitioned directory (as `match_files` lists them) carry their
        # keys, added as columns after the read
        given = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
        found = [i for i in given if partition_of(i)[0]]
        if validate:  # the files `fit` would read from the same inputs, each named once
            files: dict[str, None] = {}
            # as given, not expanded: a directory is read (and its errors worded) as `fit` does
            for item in dict.fromkeys(_items(inputs)):
                files.update(dict.fromkeys(_match_checked(item)))
            self._patterns = list(files)
            found += [f for f in files if partition_of(f)[0]]
        else:  # a local hive-partitioned directory is still listed (cheap): its keys
            hive = {item: _local_hive(item) for item in dict.fromkeys(_items(inputs))}
            if any(hive.values()):
                self._patterns = list(dict.fromkeys(
                    p for item, files in hive.items() for p in files or expand_patterns([item])))
                found += [f for files in hive.values() for f in files]
        self._partitions = {str(f): f for f in found}  # PartitionedPaths (picklable)

    def display_data(self):
        return {"patterns": ", ".join(self._patterns)[:1000],
                "columns": ", ".join(self._columns) if self._columns else "all"}

    def expand(self, pbegin):
        require_root(pbegin, "ReadParquetTables")
        if self._partitions:
            keys = {f.name for path in self._partitions.values() for f in path.fields}
            read_columns = (None if self._columns is None
                            else [c for c in self._columns if c not in keys])
            return (
                pbegin
                | "Patterns" >> beam.Create(self._patterns)
                | "Read" >> ReadAllFromParquetBatched(columns=read_columns, with_filename=True)
                | "Partitions" >> beam.Map(_add_partition, self._partitions, self._columns,
                                           self._with_filename)
                | "Views" >> beam.Map(_without_views, self._with_filename))
        return (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "Read" >> ReadAllFromParquetBatched(columns=self._columns,
                                                  with_filename=self._with_filename)
            | "Views" >> beam.Map(_without_views, self._with_filename)
        )


class WritePartitionedParquet(beam.PTransform):
    """Arrow tables -> a hive-partitioned directory: ``output/key=value/.../PREFIX-SSSSS.parquet``,
    up to `num_shards` files per partition (a partition with fewer rows has fewer files; its
    rows are spread over them evenly), as `vae-augment balance --partition-by`
    writes one (`vae_augment.io.AtomicParquetWriter`): the files hold the columns other than
    `partition_by` and record `schema`, so this library reads the directory back exactly;
    other readers type the keys from the folder names.

    Rows are split by partition, grouped by (partition, shard) and each group written as one
    file under a temporary name, then renamed: a retried group rewrites the same file, and a
    partition's rows stream through the write (no partition is held in memory beyond what the
    runner's group-by holds). Returns the paths written. With no rows there is no partition:
    one empty file of the whole `schema` is written at the root (``PREFIX-00000-of-00001
    .parquet``, as a flat write of no rows leaves), so readers get 0 rows of the written types.

    Example:
        >>> tables | WritePartitionedParquet("out", schema, ["is_synthetic"],
        ...                                  prefix="balanced")  # doctest: +SKIP
    """

    def __init__(self, output: str, schema, partition_by: Sequence[str], *,
                 prefix: str = "part", num_shards: int = 1):
        super().__init__()
        from vae_augment.io import check_partition_by, partition_file_schema

        self._keys = check_partition_by(schema, partition_by)
        if not self._keys:
            raise VAEAugmentError("`partition_by` names no column")
        if (not isinstance(num_shards, numbers.Integral) or isinstance(num_shards, bool)
                or num_shards < 1):
            raise VAEAugmentError(f"`num_shards` must be an integer >= 1, got {num_shards!r}")
        self._output = os.fspath(output).rstrip("/")
        self._schema = schema
        self._file_schema = partition_file_schema(schema, self._keys)
        self._prefix = prefix
        self._shards = int(num_shards)

    def expand(self, tables):
        from vae_augment.beam.counting import require_global_window

        # one file per (partition, shard): the windows' files would replace each other
        require_global_window(tables, "WritePartitionedParquet",
                              "one file per partition and shard of the whole input")
        written = (
            tables
            | "SplitPartitions" >> beam.ParDo(_SplitPartitions(
                self._schema, self._keys, self._file_schema, self._shards))
            | "GroupPartitions" >> beam.GroupByKey()
            | "WriteFiles" >> beam.Map(_write_partition, self._output, self._prefix,
                                       self._shards, self._file_schema)
        )
        empty = (
            written
            | "CountFiles" >> beam.combiners.Count.Globally()
            | "NoRows" >> beam.FlatMap(_write_empty, self._output, self._prefix, self._schema)
        )
        return (written, empty) | "AllPaths" >> beam.Flatten()


class _SplitPartitions(beam.DoFn):
    """table -> ((folders, shard), rows): each partition's rows of the table cut into up to
    `shards` even slices, on shards taken round-robin per partition (so small tables of a
    partition spread over its shards too)."""

    def __init__(self, schema, keys, file_schema, shards):
        self._schema, self._keys, self._file_schema = schema, keys, file_schema
        self._shards = shards

    def setup(self):
        self._next: dict = {}

    def process(self, table):
        import zlib

        import pyarrow as pa

        from vae_augment.beam.rows import as_table, compact
        from vae_augment.io import split_partitions

        table = as_table(table)
        table = table.cast(self._schema) if not table.schema.equals(
            self._schema, check_metadata=False) else table
        for batch in table.to_batches():
            for key, rows in split_partitions(batch, self._keys, self._file_schema):
                # the first shard from the key, not at random: a runner that computes a
                # stage twice (Dask recomputes) must cut the same rows into the same files
                # (a random start put a row in two files in one run of the tests)
                first = self._next.get(key, zlib.crc32(repr(key).encode()) % self._shards)
                cuts = min(self._shards, rows.num_rows)
                bounds = [rows.num_rows * j // cuts for j in range(cuts + 1)]
                for j in range(cuts):
                    piece = pa.Table.from_batches(
                        [rows.slice(bounds[j], bounds[j + 1] - bounds[j])])
                    # a slice pickles all of `rows` into the group-by: copied when cut
                    yield (key, (first + j) % self._shards), compact(piece) if cuts > 1 else piece
                self._next[key] = (first + cuts) % self._shards


def _write_empty(files_written, output, prefix, schema):
    """With no rows, so no partition folder: one empty file of the whole `schema`
    (``PREFIX-00000-of-00001.parquet``, as a flat write of no rows leaves), which every reader
    takes as 0 rows of the written types, where an empty directory has no schema. Yields
    its path; nothing when files were written."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    if files_written:
        return
    path = f"{output}/{prefix}-00000-of-00001.parquet"
    if "://" not in output:
        os.makedirs(output, exist_ok=True)
    with FileSystems.create(path) as f:
        pq.ParquetWriter(f, schema).close()
    yield path


def _write_partition(group, output, prefix, shards, file_schema):
    """Writes one (partition, shard) group's rows as one Parquet file (temporary name, then
    renamed); returns its path."""
    import uuid

    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.io import one_dictionary

    (folders, shard), tables = group
    folder = "/".join([output, *folders])
    path = f"{folder}/{prefix}-{shard:05d}.parquet"
    tmp = f"{folder}/.{prefix}-{shard:05d}.{uuid.uuid4().hex}.tmp"
    if "://" not in output:
        os.makedirs(folder, exist_ok=True)
    try:
        with FileSystems.create(tmp) as f:
            with pq.ParquetWriter(f, file_schema) as writer:
                for table in tables:
                    writer.write_table(one_dictionary(table.cast(file_schema)))
        FileSystems.rename([tmp], [path])  # a retried group's file is replaced
    except BaseException:
        if FileSystems.exists(tmp):
            FileSystems.delete([tmp])
        raise
    return path
