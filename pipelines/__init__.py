"""Runnable Beam jobs: ``python -m pipelines.balance|sample|score --help``.

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
import sys
from collections.abc import Callable, Sequence


def _not_the_bigquery_notice(record: logging.LogRecord) -> bool:
    """Drops the notice Beam logs on import without the optional BigQuery client ("apitools
    not found ..."), which these jobs never use: every run printed it."""
    return "apitools not found" not in str(record.msg)


logging.getLogger().addFilter(_not_the_bigquery_notice)


def _not_our_error(record: logging.LogRecord) -> bool:
    """Drops Beam's logged traceback of a step that raised one of our errors (a bad input
    found only once the job runs): `main` prints it as one line, as any other."""
    from vae_augment.errors import VAEAugmentError

    info = record.exc_info
    return not (info and isinstance(info[1], VAEAugmentError))

__all__ = [
    "DEFAULT_RUNNER", "parse_args", "prepare_output", "input_schema", "is_dask", "runs_in_process",
    "num_shards",
    "finish", "write_dead_letter", "main",
]

DEFAULT_RUNNER = "FnApiRunner"
EPILOG = (
    "Any standard Beam pipeline option may follow (--runner, --direct_num_workers, "
    "--direct_running_mode, --temp_location, --setup_file, --project, ...). Without --runner "
    "the job runs on Beam's in-process FnApiRunner (no network needed)."
)


def add_output_args(
    p: argparse.ArgumentParser, *, shards_help: str, dead_letter: bool = True
) -> None:
    """The output flags every job shares: --num-shards, --dead-letter, --overwrite."""
    p.add_argument("--num-shards", type=int, default=0, help=shards_help)
    if dead_letter:
        p.add_argument("--dead-letter", default=None, metavar="PATH",
                       help="write rows the model cannot take to PATH*.jsonl instead of failing")
    p.add_argument("--overwrite", action="store_true", help="replace Parquet files in --output")


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None):
    """(job arguments, PipelineOptions) with the offline-safe runner unless one is given."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    args, beam_args = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    options = PipelineOptions(beam_args)
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = DEFAULT_RUNNER
    return args, options


def prepare_output(output: str, overwrite: bool) -> str:
    """Checks/creates the output directory and returns it without a trailing slash.

    Refuses a directory that already holds Parquet files unless `overwrite`, in which case
    those files are deleted first (so no stale shard of an earlier run survives).
    """
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.errors import InputError

    output = output.rstrip("/") or "/"
    if "://" not in output:
        if os.path.exists(output) and not os.path.isdir(output):
            raise InputError(f"`--output` '{output}' is a file; give a directory")
        parent = os.path.dirname(os.path.abspath(output))
        if not os.path.isdir(parent):
            raise InputError(f"`--output` parent directory '{parent}' does not exist")
        os.makedirs(output, exist_ok=True)
    existing = [m.path for m in FileSystems.match([output + "/*.parquet"])[0].metadata_list]
    if existing:
        if not overwrite:
            raise InputError(
                f"`--output` '{output}' already holds {len(existing)} Parquet files; pass "
                "--overwrite to replace them"
            )
        FileSystems.delete(existing)
    return output


def input_schema(patterns: Sequence[str]):
    """The Arrow schema of the first file matching `patterns` (any Beam filesystem)."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.errors import InputError

    for pattern in patterns:
        found = FileSystems.match([pattern])[0].metadata_list
        if found:
            path = sorted(m.path for m in found)[0]
            with FileSystems.open(path) as f:
                try:
                    return pq.read_schema(f)
                except Exception as exc:  # pyarrow raises several types for a bad footer
                    raise InputError(f"input '{path}' is not a readable Parquet file ({exc})") from exc
    raise InputError(f"`--input` {list(patterns)} matches no files")


def is_dask(options) -> bool:
    """Whether the job runs on Beam's DaskRunner."""
    from apache_beam.options.pipeline_options import StandardOptions

    runner = options.view_as(StandardOptions).runner
    return "dask" in (runner if isinstance(runner, str) else type(runner).__name__).lower()


_IN_PROCESS_RUNNERS = ("fnapirunner", "bundlebaseddirectrunner", "directrunner", "switchingdirectrunner")


def runs_in_process(options) -> bool:
    """Whether the job's workers run in this process (Beam's local runners, not multi-processing).

    Then work a worker would do first (loading the model) can start while the pipeline is
    still being built.
    """
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions

    runner = options.view_as(StandardOptions).runner
    name = (runner if isinstance(runner, str) else type(runner).__name__).lower().rsplit(".", 1)[-1]
    mode = options.view_as(DirectOptions).direct_running_mode
    return name in _IN_PROCESS_RUNNERS and mode != "multi_processing"


def num_shards(options, requested: int) -> int:
    """Output files per sink. On the DaskRunner at least 1: with 0 (runner decides), Beam 2.77's
    Dask translation drops what the write step emits in `finish_bundle`, so the final files
    come out empty (Beam bug, seen with Beam 2.77 + dask 2026.x); a fixed shard count takes
    Beam's keyed write path, which works."""
    if requested < 0:
        from vae_augment.errors import VAEAugmentError

        raise VAEAugmentError(f"`--num-shards` must be >= 0, got {requested}")
    return max(requested, 1) if is_dask(options) else requested


def finish(pipeline, outputs, output_dir: str | None = None) -> dict:
    """Joins every sink into one last step and runs the pipeline to completion.

    The join matters on Beam's DaskRunner, which computes only the last transform's graph.
    Returns Beam counters of the `vae_augment` namespace when the runner reports metrics.
    """
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter

    _ = tuple(outputs) | "Done" >> beam.Flatten()
    result = pipeline.run()
    try:
        result.wait_until_finish()
    finally:
        client = getattr(result, "client", None)  # the DaskRunner leaves its client open
        if client is not None:
            client.close()
    if output_dir is not None:
        _remove_leftover_temp(output_dir)
    counters: dict[str, int] = {}
    try:
        found = result.metrics().query(MetricsFilter().with_namespace("vae_augment"))
        for c in found["counters"]:
            counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + int(c.committed or 0)
    except (NotImplementedError, AttributeError, KeyError):
        pass
    return counters


def _remove_leftover_temp(output_dir: str) -> None:
    """Removes ``beam-temp-*`` folders a finished write left behind (the DaskRunner recomputes
    the write's initialisation, so its finalisation cleans up a different temp folder)."""
    import shutil

    if "://" in output_dir:
        return
    for name in os.listdir(output_dir):
        if name.startswith("beam-temp-"):
            shutil.rmtree(os.path.join(output_dir, name), ignore_errors=True)


def write_dead_letter(bad, path: str):
    """Writes `BadRows` as JSON lines ``{"error": ..., "row": {...}}`` under `path`."""
    import apache_beam as beam

    from vae_augment.beam.rows import bad_rows_json

    return (
        bad
        | "DeadLetterJson" >> beam.FlatMap(bad_rows_json)
        | "WriteDeadLetter" >> beam.io.WriteToText(path, file_name_suffix=".jsonl")
    )


def main(prog: str, run: Callable[[Sequence[str] | None], dict], argv=None, *,
         uses_tensorflow: bool = True) -> int:
    """Runs a job; input/argument errors print one line and exit 2 (as the CLI does).
    `uses_tensorflow`: the job imports TensorFlow, so it is imported first, with the
    start-up lines its C++ libraries write straight to stderr (CPU features, no CUDA)
    silenced, as the CLI does."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from vae_augment.errors import VAEAugmentError

    if uses_tensorflow:
        from vae_augment.cli import silence_native_stderr

        restore = silence_native_stderr()
        try:
            import tensorflow  # noqa: F401
        finally:
            restore()

    logging.getLogger("apache_beam.runners.common").addFilter(_not_our_error)
    try:
        summary = run(argv)
    except VAEAugmentError as exc:
        print(f"{prog}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(json.dumps(summary, default=str))
    return 0
