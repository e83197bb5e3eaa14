"""Runnable Beam jobs: ``python -m pipelines.balance|sample|score|fit_stats --help``.

Each job takes its own arguments plus any standard Beam pipeline options (``--runner``,
``--direct_num_workers``, ``--temp_location``, ``--setup_file``, ...). Without ``--runner`` it
runs on Beam's in-process FnApiRunner, which needs no network (Beam's default DirectRunner
first tries to download the Prism binary).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence

from pipelines._quiet import (
    disk_full,
    interruption,
    quiet_user_errors,
    quiet_worker_subprocesses,
    user_error,
)


def _not_the_bigquery_notice(record: logging.LogRecord) -> bool:
    """Drops the notice Beam logs on import without the optional BigQuery client ("apitools
    not found ..."), which these jobs never use: every run printed it."""
    return "apitools not found" not in str(record.msg)


logging.getLogger().addFilter(_not_the_bigquery_notice)

__all__ = [
    "DEFAULT_RUNNER", "parse_args", "check_args", "prepare_output", "staging_dir", "read_inputs",
    "is_dask", "runs_in_process", "num_shards", "finish", "write_dead_letter", "main",
    "prepare_dead_letter", "cleans_up",
]

DEFAULT_RUNNER = "FnApiRunner"
EPILOG = (
    "Any standard Beam pipeline option may follow (--runner, --direct_num_workers, "
    "--direct_running_mode, --temp_location, --setup_file, --project, ...). Without --runner "
    "the job runs on Beam's in-process FnApiRunner (no network needed)."
)
_STAGED: dict[str, _Staged] = {}  # output -> its run's plan (`prepare_output`)


def add_output_args(
    p: argparse.ArgumentParser, *, shards_help: str, dead_letter: bool = True
) -> None:
    """The output flags every job shares: --num-shards, --partition-by, --dead-letter,
    --overwrite."""
    p.add_argument("--num-shards", type=int, default=0, help=shards_help)
    from vae_augment.cli import partition_columns

    p.add_argument("--partition-by", default=None, metavar="COLUMNS", type=partition_columns,
                   help="write a hive-partitioned directory by these columns (comma-separated): "
                        "COLUMN=value/.../NAME-SSSSS.parquet, up to --num-shards files per "
                        "partition (0: 1)")
    if dead_letter:
        p.add_argument("--dead-letter", default=None, metavar="PATH",
                       help="write rows the model cannot take to PATH*.jsonl (a directory, "
                            "ending in '/': to PATH/bad_rows*.jsonl) instead of failing")
    p.add_argument("--overwrite", action="store_true", help="replace Parquet files in --output")


def check_args(args: argparse.Namespace) -> None:
    """One-line errors for values argparse takes but no job can use (before any output)."""
    from vae_augment.errors import VAEAugmentError, arg

    rows = getattr(args, "rows_per_shard", None)
    if rows is not None and rows < 1:
        raise VAEAugmentError(f"{arg('rows_per_shard')} must be a positive integer, got {rows}")
    shards = getattr(args, "num_shards", 0)
    if shards < 0:
        raise VAEAugmentError(f"{arg('num_shards')} must be >= 0, got {shards}")
    model_dir = getattr(args, "model_dir", None)
    if model_dir and "://" not in str(model_dir):
        from vae_augment.artifact import read_artifact_meta

        # a mistyped or incomplete local artifact: said before TensorFlow's ~5 s import (a
        # remote one is read, and checked, when the job starts)
        read_artifact_meta(model_dir)


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None):
    """(job arguments, PipelineOptions) with the offline-safe runner unless one is given;
    `check_args` errors first."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    args, beam_args = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    check_args(args)
    options = PipelineOptions(beam_args)
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = DEFAULT_RUNNER
    return args, options


#: the files the jobs (real, synthetic, scored) and the CLI (part) write: ``NAME-SSSSS-of-
#: NNNNN.parquet`` (a flat sink, and the empty file of a partitioned output of no rows), and
#: ``key=value/.../NAME-SSSSS.parquet``
_OWN_FILE = re.compile(r"(real|synthetic|scored|part)-\d{5}(-of-\d{5})?\.parquet")
_STAGING_PREFIX = ".staging-"


class _Staged:
    """A run's output plan (`prepare_output`): where it writes, what it may replace."""

    def __init__(self, staging: str, overwrite: bool, before: list[str], created: bool):
        self.staging, self.overwrite, self.before, self.created = (
            staging, overwrite, before, created)


def prepare_output(output: str, overwrite: bool, inputs: Sequence[str] = (), *,
                   dead_letter: str | None = None) -> str:
    """Checks the output directory and returns it (absolute when local, no trailing slash);
    the job writes into a staging folder inside it (`staging_dir`: ``.staging-*``, which
    readers skip), which `finish` moves into place once the run has succeeded.

    Refuses a directory that already holds the Parquet files of an earlier run (the jobs'
    ``real`` / ``synthetic`` / ``scored`` and the CLI's ``part`` files, or ``key=value``
    folders of them) unless `overwrite`; and, even then, one holding other Parquet files (a
    user's data) or any of the run's `inputs`: an overwrite deletes only an earlier run's
    files, and only once the new run has succeeded, so a failed run leaves the earlier
    output as it was. `dead_letter` (``--dead-letter``) is checked and staged the same way
    (`prepare_dead_letter`).
    """
    from vae_augment.errors import InputError

    output = output.rstrip("/") or "/"
    if any(ch in output for ch in "*?["):
        raise InputError(f"`--output` '{output}' has a glob character (*, ? or [), which "
                         f"Beam's file sinks take as a pattern: choose another name")
    if "://" not in output:
        output = os.path.abspath(output)  # workers (Dask's) may run in another directory
        if os.path.exists(output) and not os.path.isdir(output):
            raise InputError(f"`--output` '{output}' is a file; give a directory")
        parent = os.path.dirname(output)
        if not os.path.isdir(parent):
            raise InputError(f"`--output` parent directory '{parent}' does not exist")
    ours, foreign = _existing_outputs(output)
    if foreign:
        raise InputError(
            f"`--output` '{output}' holds Parquet files no job of this library writes (e.g. "
            f"'{foreign[0]}'), which --overwrite does not delete: choose another --output, or "
            "remove them first")
    own_inputs = set(ours) & {_absolute(p) for p in inputs}
    if own_inputs:
        raise InputError(f"`--output` '{output}' holds the job's own input "
                         f"('{sorted(own_inputs)[0]}'): write the output elsewhere")
    if ours and not overwrite:
        raise InputError(
            f"`--output` '{output}' already holds {len(ours)} Parquet files; pass "
            "--overwrite to replace them"
        )
    staging, created = _make_staging(output, f"cannot write into `--output` '{output}'")
    _STAGED[output] = _Staged(staging, overwrite, ours, created)
    if dead_letter is not None:
        prepare_dead_letter(dead_letter, overwrite)
    return output


_DEAD_LETTER_FILE = re.compile(r"-\d{5}-of-\d{5}\.jsonl")
_DEAD: dict[str, tuple[_Staged, str]] = {}  # --dead-letter -> (its plan, its final prefix)


def _dead_letter_files(prefix: str) -> list[str]:
    """The files an earlier run wrote under dead-letter `prefix` (``PREFIX-SSSSS-of-NNNNN
    .jsonl``, the names `WriteToText` gives its shards)."""
    from apache_beam.io.filesystems import FileSystems

    found = FileSystems.match([prefix + "-*.jsonl"])[0].metadata_list
    return sorted(m.path for m in found if _DEAD_LETTER_FILE.fullmatch(m.path[len(prefix):]))


def prepare_dead_letter(path: str, overwrite: bool) -> str:
    """Checks `--dead-letter` `path` and stages its files as `prepare_output` stages the
    output: an earlier run's dead letters there are refused unless `overwrite`, and are
    replaced (the stale ones deleted) only once the run has succeeded (`finish`). Returns
    the staged file prefix `write_dead_letter` writes to."""
    from vae_augment.errors import InputError

    prefix = _absolute(dead_letter_prefix(path))
    before = _dead_letter_files(prefix)
    if before and not overwrite:
        raise InputError(
            f"`--dead-letter` '{path}' already holds {len(before)} file(s) of an earlier run "
            f"(e.g. '{before[0]}'); pass --overwrite to replace them")
    folder, name = prefix.rsplit("/", 1)
    staging, created = _make_staging(
        folder, f"cannot write the `--dead-letter` files into '{folder}'")
    _DEAD[path] = (_Staged(staging, overwrite, before, created), prefix)
    return f"{staging}/{name}"


def _publish_dead_letter(path: str) -> None:
    """Moves a finished run's dead letters into place, then deletes an earlier run's that
    it did not replace."""
    from apache_beam.io.filesystems import FileSystems

    plan, prefix = _DEAD.pop(path)
    folder = prefix.rsplit("/", 1)[0]
    new = []
    for f in _staged_files(plan.staging):
        dst = f"{folder}/{f}"
        if "://" in dst:
            FileSystems.rename([f"{plan.staging}/{f}"], [dst])
        else:
            os.replace(f"{plan.staging}/{f}", dst)
        new.append(dst)
    stale = [f for f in plan.before if f not in new]
    if stale:
        FileSystems.delete(stale)
    _discard_staging(plan.staging)


def cleans_up(run: Callable) -> Callable:
    """`run` (a job's) with its staged outputs discarded when it raises before `finish`
    (building the pipeline, loading the model), also when called directly, not by `main`."""
    import functools

    @functools.wraps(run)
    def wrapper(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        except BaseException:
            remove_created_outputs()
            raise

    return wrapper


def _make_staging(folder: str, cannot: str) -> tuple[str, bool]:
    """(a new hidden staging folder inside `folder`, made now when local; whether `folder`
    itself was made for it). `cannot`: the error's start when it cannot be made."""
    import uuid

    from vae_augment.errors import InputError

    staging = f"{folder}/{_STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    if "://" in folder:
        return staging, False  # object stores have no folders to make
    created = not os.path.isdir(folder)
    try:
        os.makedirs(staging)
    except OSError as exc:
        raise InputError(f"{cannot}: {exc.strerror or exc}") from exc
    return staging, created


def _absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def staging_dir(output: str) -> str:
    """Where the job writes `output` (from `prepare_output`) until `finish` publishes it."""
    return _STAGED[output].staging


def _existing_outputs(output: str) -> tuple[list[str], list[str]]:
    """(an earlier run's Parquet files in `output`, other Parquet files there: in the
    output's own folder or any folder below it but hidden ones, ``.staging-*`` included)."""
    from apache_beam.io.filesystems import FileSystems

    found = [m.path for m in FileSystems.match([output + "/**.parquet"])[0].metadata_list]
    ours, foreign = [], []
    for path in sorted(set(found)):
        rel = path[len(output) + 1:]
        folders, base = rel.split("/")[:-1], rel.rsplit("/", 1)[-1]
        if any(f.startswith((".", "_")) for f in folders):
            continue  # hidden: a staging folder, or what readers skip anyway
        own = _OWN_FILE.fullmatch(base) and all("=" in f for f in folders)
        (ours if own else foreign).append(_absolute(path) if own else rel)
    return ours, foreign


def _staged_files(staging: str) -> list[str]:
    """Paths relative to `staging` of the files a run wrote there (Beam's temp folders left
    out)."""
    from apache_beam.io.filesystems import FileSystems

    if "://" not in staging:
        out = []
        for root, dirs, files in os.walk(staging):
            dirs[:] = [d for d in dirs if not d.startswith("beam-temp-")]
            out.extend(os.path.relpath(os.path.join(root, f), staging) for f in files)
        return sorted(out)
    return sorted(m.path[len(staging) + 1:]
                  for m in FileSystems.match([staging + "/**"])[0].metadata_list
                  if "beam-temp-" not in m.path)


def _publish(output: str) -> None:
    """Moves a finished run's files from its staging folder into `output`, replacing the
    files of the same names, then deletes the rest of an earlier run's files (which
    `prepare_output` allowed): the earlier output is never gone before the new one is in
    place. An earlier run's files that appeared since `prepare_output` (another job writing
    the same output) are an error without `overwrite`. The flat empty file a sink of no
    rows leaves beside partition folders is dropped (it would hide them from readers that
    read a directory's own files first)."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.errors import InputError

    plan = _STAGED[output]
    staging = plan.staging
    local = "://" not in output
    files = _staged_files(staging)
    if not files:  # every sink writes at least one file
        raise InputError(
            f"the run wrote no files into '{staging}': the runner's workers may not see "
            f"this path (give an --output every worker can reach)")
    if any("/" in f for f in files):  # a partitioned layout
        for f in [f for f in files if "/" not in f and f.endswith(".parquet")]:
            with FileSystems.open(f"{staging}/{f}") as fh:
                if pq.ParquetFile(fh).metadata.num_rows == 0:
                    files.remove(f)
    old, _ = _existing_outputs(output)
    if not plan.overwrite and set(old) - set(plan.before):
        raise InputError(
            f"`--output` '{output}' received {len(set(old) - set(plan.before))} Parquet files "
            f"from another run while this one ran; pass --overwrite to replace them")
    new = {_absolute(f"{output}/{f}") for f in files}
    for f in files:
        src, dst = f"{staging}/{f}", f"{output}/{f}"
        if local:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)
        else:
            FileSystems.rename([src], [dst])
    stale = [p for p in old if p not in new]
    if stale:
        FileSystems.delete(stale)
        if local:  # a partitioned layout's folders, emptied: gone too
            for root, dirs, _ in os.walk(output, topdown=False):
                for d in dirs:
                    if "=" in d:
                        try:
                            os.rmdir(os.path.join(root, d))
                        except OSError:  # holds something else: kept
                            pass
    _STAGED.pop(output)
    _discard_staging(staging)


def _discard_staging(staging: str) -> None:
    import shutil

    from apache_beam.io.filesystems import FileSystems

    if "://" not in staging:
        shutil.rmtree(staging, ignore_errors=True)
        return
    left = [m.path for m in FileSystems.match([staging + "/**"])[0].metadata_list]
    if left:
        FileSystems.delete(left)


def read_inputs(patterns: str | Sequence[str]):
    """(the files `patterns` match, their Arrow schema), for any Beam filesystem.

    A file matched by several patterns is read once (first-seen order; sorted within a
    pattern). Every file has its footer read and its schema compared with the first's, so a
    corrupt or different file is named before the job starts (16 footers at a time: on a
    remote filesystem each is a round trip; the first bad file in order is reported).
    """
    from concurrent.futures import ThreadPoolExecutor

    from vae_augment.beam.parquet import _items, match_files
    from vae_augment.errors import InputError
    from vae_augment.io import schema_difference, union_nullability

    # local paths: the rule `vae-augment fit` reads by, made absolute (workers, Dask's,
    # may run in another directory)
    files = match_files([_absolute(p) for p in _items(patterns)])
    if not files:
        shown = patterns if isinstance(patterns, str) else list(patterns)
        raise InputError(f"`--input` {shown!r} matches no files")
    schema = _footer_schema(files[0])

    def check(path):
        try:
            this = _footer_schema(path)
        except InputError as exc:
            return exc
        problem = schema_difference(schema, this, nullability=False)
        if problem is not None:
            return InputError(f"input '{path}' does not have the schema of '{files[0]}': "
                              f"{problem}")
        return this

    if len(files) > 1:
        with ThreadPoolExecutor(max_workers=min(16, len(files) - 1)) as pool:
            for this in pool.map(check, files[1:]):  # in order: the first bad file
                if isinstance(this, Exception):
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise this
                # a field NOT NULL in one file and not in another: nullable (`io.read_schema`)
                schema = union_nullability(schema, this) or schema
    return files, schema


def _footer_schema(path: str):
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.errors import InputError
    from vae_augment.io import not_parquet, partition_schema

    try:
        opened = FileSystems.open(path)
    except OSError as exc:  # a broken symlink, no read permission (Beam's errors are OSErrors)
        raise InputError(f"cannot read input '{path}': "
                         f"{getattr(exc, 'strerror', None) or exc}") from exc
    with opened as f:
        try:
            schema = pq.read_schema(f)
        except Exception as exc:  # pyarrow raises several types for a bad footer
            raise not_parquet(path, exc) from exc
    return partition_schema(schema, path)  # a hive-partitioned directory's keys as columns


def _runner_name(options) -> str:
    from apache_beam.options.pipeline_options import StandardOptions

    runner = options.view_as(StandardOptions).runner
    return (runner if isinstance(runner, str) else type(runner).__name__).lower().rsplit(".", 1)[-1]


def is_dask(options) -> bool:
    """Whether the job runs on Beam's DaskRunner."""
    return "dask" in _runner_name(options)


_IN_PROCESS_RUNNERS = ("fnapirunner", "bundlebaseddirectrunner", "directrunner", "switchingdirectrunner")


def runs_in_process(options) -> bool:
    """Whether the job's workers run in this process (Beam's local runners, not multi-processing).

    Then work a worker would do first (loading the model) can start while the pipeline is
    still being built.
    """
    from apache_beam.options.pipeline_options import DirectOptions

    mode = options.view_as(DirectOptions).direct_running_mode
    return _runner_name(options) in _IN_PROCESS_RUNNERS and mode != "multi_processing"


def write_parquet(tables, output: str, name: str, schema, shards: int,
                  partition_by: Sequence[str] | None = None, *, label: str | None = None):
    """The jobs' Parquet sink: ``output/NAME-SSSSS-of-NNNNN.parquet``, or with `partition_by`
    a hive-partitioned directory of ``NAME-SSSSS.parquet`` files
    (`vae_augment.beam.WritePartitionedParquet`, up to `shards` files per partition, at
    least 1)."""
    import apache_beam as beam
    import pyarrow as pa

    from vae_augment.io import view_types, with_views

    label = label or f"Write{name.title()}"
    if view_types(schema):  # read as large types (`ReadParquetTables`), written as the input's
        tables = tables | f"{label}Views" >> beam.Map(with_views, schema)
    if partition_by:
        from vae_augment.beam import WritePartitionedParquet

        return tables | label >> WritePartitionedParquet(
            output, schema, partition_by, prefix=name, num_shards=max(shards, 1))
    if any(pa.types.is_dictionary(f.type) for f in schema):
        from vae_augment.io import one_dictionary

        tables = tables | f"{label}OneDictionary" >> beam.Map(one_dictionary)
    return tables | label >> beam.io.WriteToParquetBatched(
        f"{output}/{name}", schema, file_name_suffix=".parquet", num_shards=shards,
        use_compliant_nested_type=True,
    )


def num_shards(options, requested: int) -> int:
    """Output files per sink. On the DaskRunner at least 1: with 0 (runner decides), Beam 2.77's
    Dask translation drops what the write step emits in `finish_bundle`, so the final files
    come out empty (Beam bug, seen with Beam 2.77 + dask 2026.x); a fixed shard count takes
    Beam's keyed write path, which works."""
    if requested < 0:
        from vae_augment.errors import VAEAugmentError

        raise VAEAugmentError(f"`--num-shards` must be >= 0, got {requested}")
    return max(requested, 1) if is_dask(options) else requested


def finish(pipeline, outputs, output_dir: str | None = None, *, dead_letter: str | None = None,
           counters: Sequence[str] = ()) -> dict:
    """Joins every sink into one last step and runs the pipeline to completion.

    The join matters on Beam's DaskRunner, which computes only the last transform's graph.
    Returns Beam counters of the `vae_augment` namespace when the runner reports metrics
    (the names in `counters` as 0 when nothing counted them). On success the run's files
    move from `output_dir`'s staging directory (`prepare_output`) into it; on failure the
    staging directory is removed and `output_dir` is left as it was. The ``beam-temp-*``
    folders this run's writes made beside `dead_letter` are removed either way.
    """
    import apache_beam as beam

    _ = tuple(outputs) | "Done" >> beam.Flatten()
    folders = [d for d in (_dead_letter_dir(dead_letter),) if d is not None]
    before = {d: _temp_folders(d) for d in folders}
    try:
        result = pipeline.run()
        try:
            result.wait_until_finish()
        finally:
            client = getattr(result, "client", None)  # the DaskRunner leaves its client open
            if client is not None:
                client.close()
    except BaseException:
        _remove_new_temp(before)
        remove_created_outputs()
        raise
    _remove_new_temp(before)
    try:
        if output_dir is not None and output_dir in _STAGED:
            _publish(output_dir)
        if dead_letter is not None and dead_letter in _DEAD:
            _publish_dead_letter(dead_letter)
    except BaseException:
        remove_created_outputs()
        raise
    return _counters(result, counters)


def _counters(result, expected: Sequence[str]) -> dict:
    from apache_beam.metrics.metric import MetricsFilter

    counters: dict[str, int] = {}
    try:
        found = result.metrics().query(MetricsFilter().with_namespace("vae_augment"))
        for c in found["counters"]:
            counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + int(c.committed or 0)
    except (NotImplementedError, AttributeError, KeyError):
        return counters
    return {**dict.fromkeys(expected, 0), **counters}


def _temp_folders(folder: str) -> set[str]:
    """The ``beam-temp-*`` folders in a local `folder` (none for a remote one)."""
    if "://" in folder or not os.path.isdir(folder):
        return set()
    return {n for n in os.listdir(folder) if n.startswith("beam-temp-")}


def _remove_new_temp(before: dict[str, set[str]]) -> None:
    """Removes the ``beam-temp-*`` folders that appeared since `before` (a failed write, or the
    DaskRunner, which recomputes a write's initialisation, so its finalisation cleans up a
    different temp folder)."""
    import shutil

    for folder, old in before.items():
        for name in _temp_folders(folder) - old:
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


def remove_created_outputs() -> None:
    """Removes the staging directories of runs that did not finish (`prepare_output`): the
    outputs themselves are as they were before the run."""
    plans = [(output, _STAGED.pop(output)) for output in list(_STAGED)]
    plans += [(prefix.rsplit("/", 1)[0], _DEAD.pop(path)[0])
              for path, (_, prefix) in list(_DEAD.items())]
    for folder, plan in plans:
        _discard_staging(plan.staging)
        if plan.created:  # made by this run, and nothing else in it: gone again
            try:
                os.rmdir(folder)
            except OSError:
                pass


def dead_letter_prefix(path: str) -> str:
    """The file prefix for `--dead-letter`: a directory (a path ending in '/', or an existing
    local directory) gets ``bad_rows`` inside it."""
    if path.endswith("/") or ("://" not in path and os.path.isdir(path)):
        return path.rstrip("/") + "/bad_rows"
    return path


def _dead_letter_dir(path: str | None) -> str | None:
    if path is None:
        return None
    return os.path.dirname(dead_letter_prefix(path)) or "."


def write_dead_letter(bad, path: str):
    """Writes `BadRows` as JSON lines ``{"error": ..., "row": {...}}`` under `path`
    (`dead_letter_prefix`; into its staging folder when `prepare_output` staged it)."""
    import apache_beam as beam

    from vae_augment.beam.rows import bad_rows_json

    prefix = _DEAD[path][0].staging + "/" + _DEAD[path][1].rsplit("/", 1)[1] if (
        path in _DEAD) else dead_letter_prefix(path)
    return (
        bad
        | "DeadLetterJson" >> beam.FlatMap(bad_rows_json)
        | "WriteDeadLetter" >> beam.io.WriteToText(prefix, file_name_suffix=".jsonl")
    )


def _import_tensorflow_quietly() -> None:
    """Imports TensorFlow with the start-up lines its C++ libraries write straight to stderr
    (CPU features, no CUDA) silenced, as the CLI does."""
    from vae_augment.cli import silence_native_stderr

    restore = silence_native_stderr()
    try:
        import tensorflow  # noqa: F401
    finally:
        restore()


# what Beam appends to an exception raised in a step: the step's name, not the user's business
_STEP_NOTE = re.compile(r"(?: \[while running '[^']*'\])+$")


def _without_step(message: str) -> str:
    """`message` without the `` [while running 'Stats/KeyWithVoid']`` Beam appended."""
    return _STEP_NOTE.sub("", message)


def main(prog: str, run: Callable[[Sequence[str] | None], dict], argv=None, *,
         uses_tensorflow: bool = True, parser: Callable[[], argparse.ArgumentParser] | None = None
         ) -> int:
    """Runs a job; input/argument errors print one line and exit 2 (as the CLI does), also
    when a worker subprocess raised them. `parser` (the job's `build_parser`): the arguments
    are checked first, so ``--help`` and argument errors answer without importing
    TensorFlow. `uses_tensorflow`: the job imports TensorFlow, so it is imported next, its
    start-up lines silenced. A stdout that cannot be written (``> /dev/full``) is one line and
    exit 120, a closed pipe exit 141, as in the CLI."""
    from vae_augment.cli import _drop_stdout, _Stdout, _StdoutError
    from vae_augment.io import os_reason

    stdout = sys.stdout
    if stdout is not None:
        sys.stdout = _Stdout(stdout)
    try:
        return _main(prog, run, argv, uses_tensorflow=uses_tensorflow, parser=parser)
    except BrokenPipeError:  # `... | head`: the reader left, nothing to say
        _drop_stdout()
        return 141
    except _StdoutError as exc:  # the summary is lost, not the job's output
        print(f"{prog}: error: cannot write to stdout: {os_reason(exc.__cause__)}",
              file=sys.stderr)
        _drop_stdout()
        return 120
    finally:
        sys.stdout = stdout


def _main(prog: str, run: Callable[[Sequence[str] | None], dict], argv, *,
          uses_tensorflow: bool, parser: Callable[[], argparse.ArgumentParser] | None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # a process of our own (and its worker subprocesses): Keras on TensorFlow whatever the
    # shell says (vae_augment._keras)
    os.environ["KERAS_BACKEND"] = "tensorflow"
    from vae_augment.cli import _check_paths, _StdoutError, _UsageError, _utf8_arg, stopped_by_sigterm
    from vae_augment.errors import VAEAugmentError, cli_wording, one_line_warnings

    # as in the CLI: under a C locale with PYTHONUTF8=0 a non-ASCII argument came as
    # surrogates, and a class or column named by it matched nothing
    argv = [_utf8_arg(a) for a in (sys.argv[1:] if argv is None else argv)]
    quiet_user_errors()
    try:
        with stopped_by_sigterm(), cli_wording(), one_line_warnings(prog):
            if parser is not None:  # argparse exits here for --help and its own errors
                try:
                    args = parser().parse_known_args(argv)[0]
                except SystemExit:  # argparse ignores a failed write: --help said nothing, 0
                    sys.stdout.flush()
                    raise
                check_args(args)
                try:  # a non-ASCII path where Python's file names are not UTF-8
                    _check_paths(args, flags=True)
                except _UsageError as exc:
                    raise VAEAugmentError(str(exc)) from None
            if uses_tensorflow:
                _import_tensorflow_quietly()
            with quiet_worker_subprocesses(argv):
                summary = run(argv)
    except (Exception, KeyboardInterrupt) as exc:
        remove_created_outputs()
        if isinstance(exc, (_StdoutError, BrokenPipeError)):
            raise
        stopped = interruption(exc)  # Ctrl-C, SIGTERM: Beam wraps them in a RuntimeError
        if stopped is not None:
            print(f"{prog}: {stopped}", file=sys.stderr)
            return 143 if stopped == "terminated" else 130
        error = user_error(exc)
        full = disk_full(exc) if error is None else None
        if full is not None:  # a full disk was a traceback (or "an input file is corrupt")
            print(f"{prog}: error: cannot write the output: {full}", file=sys.stderr)
            return 2
        if error is None:
            raise
        print(f"{prog}: error: {_without_step(' '.join(str(error).split()))}", file=sys.stderr)
        return 2
    print(json.dumps(summary, default=str), flush=True)
    return 0
