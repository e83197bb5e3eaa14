"""The `pipelines` jobs' edges: errors from worker subprocesses, bad or overlapping inputs,
argument checks before any output, clean-up after a failure, summaries and file names."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from .conftest import REPO, full_stdout, remote_test_filesystem

RUNNER = "FnApiRunner"


def one_line_error(capsys, prog: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    return lines[0]


@pytest.fixture
def bad_label_parquet(tmp_path, mixed_table):
    """The mixed table with one row of a class the model never saw: row 205 of the file,
    row 5 of its third row group of 100 rows (all three alike in length)."""
    labels = mixed_table.column("label").to_pylist()
    labels[205] = "zzz"
    i = mixed_table.schema.get_field_index("label")
    table = mixed_table.set_column(i, mixed_table.schema.field(i), pa.array(labels))
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path, row_group_size=100)
    return path


def balance_args(inp, out, artifact, *extra):
    return ["--input", str(inp), "--output", str(out), "--model-dir", str(artifact),
            "--label", "label", "--runner", RUNNER, *extra]


# ---------------------------------------------------------------- worker errors
def test_error_returned_as_worker_traceback_text_is_one_line(capsys):
    """A worker subprocess's error reaches the launcher as a RuntimeError holding its
    traceback text: still one line and exit 2; a bug (another type last) is re-raised."""
    from pipelines import main

    text = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in process\n"
            "vae_augment.errors.SchemaError: `label` column 'y' has classes ['m']\n\n"
            "During handling of the above exception, another exception occurred:\n\n"
            "Traceback (most recent call last):\n  File \"y.py\", line 2\n"
            "vae_augment.errors.SchemaError: `label` column 'y' has classes ['m'] "
            "[while running 'Balance/CheckAndFlag']\n")

    def fails(argv):
        raise RuntimeError(text)

    assert main("pipelines.balance", fails, [], uses_tensorflow=False) == 2
    line = one_line_error(capsys, "pipelines.balance")
    # without Beam's step note, as a one-line error in the launcher's own process is
    assert line.endswith("`label` column 'y' has classes ['m']"), line

    def bug(argv):
        raise RuntimeError(text + "\nDuring handling of the above exception, another exception "
                           "occurred:\n\nTraceback (most recent call last):\nKeyError: 'k'\n")

    with pytest.raises(RuntimeError):
        main("pipelines.balance", bug, [], uses_tensorflow=False)


def test_multi_processing_user_error_is_one_line_and_leaves_nothing(
        tmp_path, mixed_artifact, bad_label_parquet):
    """A real run with 2 worker subprocesses: the bad row is found in a worker."""
    out = tmp_path / "out"
    before_tmp = set(os.listdir(tempfile.gettempdir()))
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.balance",
         *balance_args(bad_label_parquet, out, mixed_artifact,
                       "--direct_running_mode", "multi_processing", "--direct_num_workers", "2")],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"pipelines.balance: error: input '{bad_label_parquet}': `label` "
                           "column 'label' has classes ['zzz']"), last
    # what the launching process logs of it is dropped, and the workers (started through
    # PIPELINE_OPTIONS_FILE with our plugin) print no traceback
    assert "local_job_service:Worker: severity: ERROR" not in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    # only the error: no Beam start-up lines or BigQuery import notice (3 per worker before,
    # 195 lines in all before that), none of TensorFlow's C++ start-up lines (3-6 per worker)
    assert proc.stderr.strip().splitlines() == [last], proc.stderr
    assert not out.exists()
    assert not [f for f in os.listdir(tempfile.gettempdir())
                if f.startswith(("vae-augment-worker-options-", "vae-augment-worker-site-"))
                and f not in before_tmp]


def test_worker_site_drops_beams_start_up_lines_only(tmp_path):
    """The workers' sitecustomize: Beam's import notice and INFO start-up lines are not
    printed, a warning or an error is, and the interpreter's own sitecustomize still runs."""
    from pipelines._quiet import _WORKER_SITE

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    (ours / "sitecustomize.py").write_text(_WORKER_SITE)
    (theirs / "sitecustomize.py").write_text("import sys\nsys.stderr.write('theirs ran\\n')\n")
    code = ("import logging, sys\n"
            "import apache_beam\n"  # logs the BigQuery notice when apitools is missing
            "logging.warning('apitools not found, and bigquery client libraries are not "
            "available despite the import not raising an ImportError.')\n"
            "logging.getLogger().setLevel(logging.INFO)\n"
            "logging.getLogger('__main__').info('Logging handler created.')\n"
            "logging.getLogger('w').warning('a real warning')\n"
            "logging.getLogger('w').error('a real error')\n"
            "assert not any('vae-augment' in p or p.endswith('ours') for p in sys.path)\n")
    for path, want in ((ours, []), (os.pathsep.join([str(ours), str(theirs)]), ["theirs ran"])):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(path)}, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.splitlines() == [*want, "WARNING:w:a real warning",
                                            "ERROR:w:a real error"], proc.stderr


def test_worker_stderr_drops_only_our_errors_tracebacks():
    import io
    import traceback

    from pipelines._quiet import _multi_processing, _StderrWithoutUserErrors
    from vae_augment.errors import SchemaError

    def text_of(exc):
        try:
            raise exc
        except Exception:
            return traceback.format_exc()

    sink = io.StringIO()
    err = _StderrWithoutUserErrors(sink)
    print(text_of(SchemaError("bad class")), file=err)
    assert sink.getvalue() == ""
    bug = text_of(KeyError("a bug"))
    print(bug, file=err)
    print("a line", file=err)
    assert sink.getvalue() == bug + "\n" + "a line\n"
    assert _multi_processing(["--direct_running_mode", "multi_processing"])
    assert _multi_processing(["--runner=DirectRunner", "--direct_running_mode=multi_processing"])
    assert not _multi_processing(["--runner", "DataflowRunner",
                                  "--direct_running_mode", "multi_processing"])
    assert not _multi_processing(["--direct_running_mode", "in_memory"])


# ---------------------------------------------------------------- inputs
def test_a_bad_later_input_file_is_named_before_the_job(tmp_path, mixed_artifact, mixed_table,
                                                        capsys):
    from pipelines import main
    from pipelines.score import run

    d = tmp_path / "in"
    d.mkdir()
    pq.write_table(mixed_table.slice(0, 50), d / "a.parquet")
    data = (d / "a.parquet").read_bytes()
    (d / "b.parquet").write_bytes(data[: len(data) // 2])  # truncated
    args = ["--input", str(d), "--output", str(tmp_path / "o"), "--model-dir",
            str(mixed_artifact), "--runner", RUNNER]
    assert main("pipelines.score", run, args, uses_tensorflow=False) == 2
    assert f"input '{d / 'b.parquet'}' is not a readable Parquet file" in one_line_error(
        capsys, "pipelines.score")
    i = mixed_table.schema.get_field_index("small")
    other = mixed_table.slice(0, 50).set_column(
        i, "small", pc.cast(mixed_table.column("small").slice(0, 50), pa.int64()))
    pq.write_table(other, d / "b.parquet")
    assert main("pipelines.score", run, args, uses_tensorflow=False) == 2
    line = one_line_error(capsys, "pipelines.score")
    assert f"input '{d / 'b.parquet'}' does not have the schema of '{d / 'a.parquet'}'" in line
    assert "column 'small' has type int64, expected int32" in line
    assert not (tmp_path / "o").exists()


def test_overlapping_inputs_read_each_file_once(tmp_path, mixed_artifact, mixed_table):
    from pipelines.score import run

    d = tmp_path / "in"
    d.mkdir()
    pq.write_table(mixed_table.slice(0, 40), d / "a.parquet")
    pq.write_table(mixed_table.slice(40, 30), d / "b.parquet")
    out = tmp_path / "o"
    summary = run(["--input", f"{d},{d / 'a.parquet'},{d}", "--output", str(out),
                   "--model-dir", str(mixed_artifact), "--runner", RUNNER])
    written = sum(pq.read_metadata(f).num_rows for f in glob.glob(str(out / "*.parquet")))
    assert written == 70 and summary["scored_rows"] == 70


# ---------------------------------------------------------------- outputs
def test_lists_are_written_in_the_compliant_layout(tmp_path, mixed_artifact):
    """The tensor column's Parquet list child is `element`, as the CLI (pyarrow) writes it."""
    from pipelines.sample import run

    out = tmp_path / "o"
    run(["--output", str(out), "--model-dir", str(mixed_artifact), "--n", "5",
         "--class", "a", "--runner", RUNNER])
    path = glob.glob(str(out / "*.parquet"))[0]
    layout = str(pq.ParquetFile(path).schema)
    assert "element" in layout and " item" not in layout, layout


@pytest.mark.parametrize("flag, value, what", [
    ("--rows-per-shard", "0", "`--rows-per-shard` must be a positive integer, got 0"),
    ("--rows-per-shard", "-3", "`--rows-per-shard` must be a positive integer, got -3"),
    ("--num-shards", "-1", "`--num-shards` must be >= 0, got -1"),
])
def test_bad_output_arguments_fail_before_any_output(tmp_path, mixed_artifact, capsys, flag,
                                                     value, what):
    from pipelines import main
    from pipelines.sample import build_parser, run

    out = tmp_path / "o"
    args = ["--output", str(out), "--model-dir", str(mixed_artifact), "--n", "5", flag, value,
            "--runner", RUNNER]
    assert main("pipelines.sample", run, args, uses_tensorflow=False) == 2
    assert what in one_line_error(capsys, "pipelines.sample")
    assert not out.exists()
    # checked before TensorFlow is imported when main has the parser (as `python -m` runs it)
    assert main("pipelines.sample", run, args, uses_tensorflow=False, parser=build_parser) == 2
    assert what in one_line_error(capsys, "pipelines.sample")
    assert not out.exists()


def test_a_failed_run_removes_what_it_created(tmp_path, mixed_artifact, bad_label_parquet,
                                              capsys):
    from pipelines import main
    from pipelines.balance import run

    out = tmp_path / "o"
    assert main("pipelines.balance", run, balance_args(bad_label_parquet, out, mixed_artifact),
                uses_tensorflow=False) == 2
    # the row's file named (with thousands of input files a class value alone is no help),
    # and the row in that file: Beam reads a row group (its row 5) without saying which, so
    # the file's footer tells (three row groups of 100 rows: their column statistics)
    line = one_line_error(capsys, "pipelines.balance")
    assert f"input '{bad_label_parquet}': `--label` column 'label' has classes ['zzz']" in line
    assert "(1 row; the first is row 205 of its file)" in line, line
    assert not out.exists()  # neither the folder nor beam-temp-* folders in it
    kept = tmp_path / "kept"  # a folder the user made is kept, emptied of Beam's temp folders
    kept.mkdir()
    assert main("pipelines.balance", run, balance_args(bad_label_parquet, kept, mixed_artifact),
                uses_tensorflow=False) == 2
    assert os.listdir(kept) == []


def test_overwrite_never_deletes_parquet_files_no_job_wrote(tmp_path, mixed_artifact,
                                                            mixed_table, capsys):
    """--overwrite deleted every Parquet file in --output: with the output the input's own
    folder, the input went before the read (session 31's audit). As the CLI does, the
    job refuses, and keeps every file."""
    from pipelines import main
    from pipelines.balance import run

    data = tmp_path / "data"
    data.mkdir()
    pq.write_table(mixed_table, data / "p0.parquet")
    (data / "notes.txt").write_text("keep")
    assert main("pipelines.balance", run, balance_args(data, data, mixed_artifact,
                                                       "--overwrite"),
                uses_tensorflow=False) == 2
    assert "holds Parquet files no job of this library writes (e.g. 'p0.parquet')" in (
        one_line_error(capsys, "pipelines.balance"))
    assert sorted(os.listdir(data)) == ["notes.txt", "p0.parquet"]


def test_overwrite_replaces_only_what_the_jobs_write(tmp_path, mixed_artifact, mixed_table,
                                                    capsys):
    """Second audit: --overwrite took any NAME-00000-of-00001.parquet for a job's (a
    dataset's train/test files, the job's own input), missed Parquet files in plain
    subfolders, and a glob character in --output failed after the whole run."""
    from pipelines import main
    from pipelines.balance import run

    hf = tmp_path / "hf"
    hf.mkdir()
    pq.write_table(mixed_table, hf / "train-00000-of-00001.parquet")
    nested = tmp_path / "nested"
    (nested / "sub").mkdir(parents=True)
    pq.write_table(mixed_table, nested / "sub" / "data.parquet")
    own = tmp_path / "own"
    own.mkdir()
    pq.write_table(mixed_table, own / "real-00000-of-00001.parquet")
    cases = [(hf / "train-00000-of-00001.parquet", hf, "holds Parquet files no job of this "
                                                      "library writes (e.g. 'train-0000"),
             (hf / "train-00000-of-00001.parquet", nested, "(e.g. 'sub/data.parquet')"),
             (own / "real-00000-of-00001.parquet", own, "holds the job's own input"),
             (hf / "train-00000-of-00001.parquet", tmp_path / "run[1]", "glob character")]
    for src, out, message in cases:
        assert main("pipelines.balance", run, balance_args(src, out, mixed_artifact,
                                                           "--overwrite"),
                    uses_tensorflow=False) == 2
        assert message in one_line_error(capsys, "pipelines.balance")
    assert sorted(os.listdir(hf)) == ["train-00000-of-00001.parquet"]
    assert sorted(os.listdir(own)) == ["real-00000-of-00001.parquet"]
    assert not (tmp_path / "run[1]").exists()


def test_a_run_that_finds_another_runs_files_at_the_end_refuses_them(tmp_path):
    """Two jobs writing one --output at once: the later one deleted the other's files
    without --overwrite. Its files are in place only if nothing new appeared."""
    import pipelines
    from vae_augment.errors import InputError

    out = str(tmp_path / "o")
    assert pipelines.prepare_output(out, False) == out
    staged = pipelines.staging_dir(out)
    assert staged.startswith(out + "/.staging-")  # inside: same filesystem, same rights
    pq.write_table(pa.table({"x": [1]}), f"{staged}/synthetic-00000-of-00001.parquet")
    pq.write_table(pa.table({"x": [2]}), f"{out}/synthetic-00000-of-00002.parquet")  # other
    with pytest.raises(InputError, match="received 1 Parquet files from another run"):
        pipelines._publish(out)
    pipelines.remove_created_outputs()
    assert sorted(os.listdir(out)) == ["synthetic-00000-of-00002.parquet"]


def test_a_failed_overwrite_keeps_the_earlier_output(tmp_path, mixed_artifact, mixed_parquet,
                                                     bad_label_parquet, capsys):
    """--overwrite deleted the earlier output before the run, so a run that failed left
    nothing; the new files now replace the old only once the run has succeeded."""
    from pipelines import main
    from pipelines.balance import run

    out = tmp_path / "o"
    run(balance_args(mixed_parquet, out, mixed_artifact))
    before = {f: (out / f).read_bytes() for f in os.listdir(out)}
    rows = sum(pq.ParquetFile(out / f).metadata.num_rows for f in before)
    assert main("pipelines.balance", run, balance_args(bad_label_parquet, out, mixed_artifact,
                                                       "--overwrite"),
                uses_tensorflow=False) == 2
    assert "has classes ['zzz']" in one_line_error(capsys, "pipelines.balance")
    assert {f: (out / f).read_bytes() for f in os.listdir(out)} == before
    assert sorted(os.listdir(tmp_path)) == sorted(["bad.parquet", "o"])  # no staging left
    # a run that succeeds replaces them (same input: same rows, new files)
    run(balance_args(mixed_parquet, out, mixed_artifact, "--overwrite", "--partition-by",
                     "label"))
    from vae_augment.io import read_table, resolve_inputs

    assert read_table(resolve_inputs(str(out))).num_rows == rows
    assert not [f for f in os.listdir(out) if f.endswith(".parquet")]  # only the folders


def test_a_partition_value_too_long_for_a_folder_is_one_line_and_leaves_nothing(
        tmp_path, mixed_artifact, mixed_table, capsys):
    """A 300-character value of the --partition-by column: a Beam traceback of ~90 lines,
    exit 1, and the real rows' partitions left on disk (session 31's audit)."""
    from pipelines import main
    from pipelines.balance import run

    s = mixed_table.column("s").to_pylist()
    s[3] = "v" * 300
    i = mixed_table.schema.get_field_index("s")
    src = tmp_path / "in.parquet"
    pq.write_table(mixed_table.set_column(i, "s", pa.array(s)), src)
    assert main("pipelines.balance", run, balance_args(src, tmp_path / "o", mixed_artifact,
                                                       "--partition-by", "s"),
                uses_tensorflow=False) == 2
    assert "(302 bytes; file systems take 255)" in one_line_error(capsys, "pipelines.balance")
    assert sorted(os.listdir(tmp_path)) == ["in.parquet"]


def test_score_refuses_an_input_of_another_schema_before_the_run(tmp_path, mixed_artifact,
                                                                 mixed_table, capsys):
    """With --dead-letter every table of a wrong-schema file went to the dead letter and
    the job exited 0 with an empty output (the CLI's score refuses the file); without it,
    a worker found the mismatch after launch."""
    from pipelines import main
    from pipelines.score import run

    i = mixed_table.schema.get_field_index("s")
    wrong = mixed_table.set_column(i, "s", pc.cast(pc.binary_length(
        mixed_table.column("s").cast(pa.string())), pa.int64()))
    pq.write_table(wrong, tmp_path / "in.parquet")
    for extra in ([], ["--dead-letter", f"{tmp_path}/bad/"]):
        assert main("pipelines.score", run, [
            "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o"),
            "--model-dir", str(mixed_artifact), "--runner", RUNNER, *extra],
            uses_tensorflow=False) == 2
        line = one_line_error(capsys, "pipelines.score")
        assert "does not match the schema the model was trained on" in line and "'s'" in line
        assert sorted(os.listdir(tmp_path)) == ["in.parquet"]


def test_a_file_whose_pages_pyarrow_cannot_read_is_one_line(tmp_path, mixed_artifact,
                                                            mixed_table, capsys):
    """Corrupt pages under a sound footer passed the launch check, then the read step's
    OSError was a 130-line Beam traceback with exit 1; now one line, as the CLI says it."""
    from pipelines import main
    from pipelines.balance import run

    path = tmp_path / "in.parquet"
    pq.write_table(mixed_table, path, compression="none")
    data = bytearray(path.read_bytes())
    data[4:60] = b"\xff" * 56  # the first page header, after the leading "PAR1"
    path.write_bytes(bytes(data))
    pq.read_schema(path)  # the footer reads
    assert main("pipelines.balance", run, balance_args(path, tmp_path / "o", mixed_artifact),
                uses_tensorflow=False) == 2
    line = one_line_error(capsys, "pipelines.balance")
    assert "an input file is corrupt (Couldn't deserialize thrift" in line, line
    assert sorted(os.listdir(tmp_path)) == ["in.parquet"]


def test_score_job_column_errors_name_its_own_flags(tmp_path, mixed_artifact, mixed_parquet,
                                                    capsys):
    """`--score-column f` said "`column` 'f' ..." (the transform's argument), and
    `--latent-column anomaly_score` said the input had that column."""
    from pipelines import main
    from pipelines.score import run

    base = ["--input", str(mixed_parquet), "--output", str(tmp_path / "o"), "--model-dir",
            str(mixed_artifact), "--runner", RUNNER]
    cases = [(["--score-column", "f"], "`--score-column` 'f' is a column of the data the "
                                       "model was trained on"),
             (["--latent", "--latent-column", "anomaly_score"],
              "`--score-column` and `--latent-column` are both 'anomaly_score'"),
             (["--score-column", ""], "`--score-column` must be a non-empty column name")]
    for extra, message in cases:
        assert main("pipelines.score", run, base + extra, uses_tensorflow=False) == 2
        assert message in one_line_error(capsys, "pipelines.score")
    assert sorted(os.listdir(tmp_path)) == []


def test_balance_job_on_an_input_of_no_rows_writes_empty_parts(tmp_path, mixed_artifact,
                                                               mixed_table, mixed_parquet,
                                                               capsys):
    """It failed ("the input has no rows with a label"): a model applied to no rows adds
    none, as the CLI's balance with --model-dir writes an empty output; a label null in
    every row is still the CLI's error."""
    from pipelines import main
    from pipelines.balance import run

    pq.write_table(mixed_table.slice(0, 0), tmp_path / "empty.parquet")
    assert main("pipelines.balance", run, balance_args(tmp_path / "empty.parquet",
                                                       tmp_path / "o", mixed_artifact),
                uses_tensorflow=False) == 0
    capsys.readouterr()
    files = sorted(os.listdir(tmp_path / "o"))
    assert files == ["real-00000-of-00001.parquet", "synthetic-00000-of-00001.parquet"]
    want = pq.read_schema(mixed_parquet).append(
        pa.field("is_synthetic", pa.bool_(), nullable=False))
    for f in files:
        t = pq.read_table(tmp_path / "o" / f)
        assert t.num_rows == 0 and t.schema.equals(want, check_metadata=True), t.schema
    nulls = mixed_table.set_column(mixed_table.schema.get_field_index("label"), "label",
                                   pa.nulls(mixed_table.num_rows, pa.string()))
    pq.write_table(nulls, tmp_path / "nulls.parquet")
    assert main("pipelines.balance", run, balance_args(tmp_path / "nulls.parquet",
                                                       tmp_path / "o2", mixed_artifact),
                uses_tensorflow=False) == 2
    assert "`--label` column 'label' is null in every row" in one_line_error(
        capsys, "pipelines.balance")
    assert not (tmp_path / "o2").exists()


def test_a_partitioned_balance_of_no_synthetic_rows_reads_back_whole(
        tmp_path, mixed_artifact, mixed_parquet, mixed_table):
    """The synthetic sink of no rows left its empty file at the root beside the real rows'
    partition folders, and this library, reading a directory's own files first, read 0
    rows back."""
    from pipelines.balance import run
    from vae_augment.io import read_table, resolve_inputs

    counts = pc.value_counts(mixed_table.column("label")).to_pylist()
    strategy = {c["values"]: c["counts"] for c in counts if c["values"] == "c"}  # as it is
    out = tmp_path / "o"
    run(balance_args(mixed_parquet, out, mixed_artifact, "--sampling-strategy",
                     json.dumps(strategy), "--partition-by", "label"))
    assert sorted(os.listdir(out)) == ["label=a", "label=b", "label=c"]
    assert read_table(resolve_inputs(str(out))).num_rows == mixed_table.num_rows


def test_a_remote_output_is_published_whole_and_overwritten(tmp_path, mixed_table):
    """On a remote filesystem (no os.path; a Beam test filesystem over local files) a run's
    files go from its staging prefix beside the output into the output, an earlier run's
    files are replaced, and the staging prefix is emptied. (Beam's own sink does not write
    through this test filesystem, so the run's files are put in the staging prefix here.)"""
    import pipelines

    prefix = remote_test_filesystem("vaetestpublish")
    out = f"{prefix}{tmp_path / 'o'}"
    for overwrite, n in ((False, 3), (True, 5)):
        assert pipelines.prepare_output(out + "/", overwrite) == out
        staged = pipelines.staging_dir(out)
        assert staged.startswith(f"{prefix}{tmp_path}/o/.staging-")
        local = staged[len(prefix):]
        os.makedirs(f"{local}/label=a")
        pq.write_table(mixed_table.slice(0, n), f"{local}/label=a/real-00000.parquet")
        pq.write_table(mixed_table.slice(0, 0), f"{local}/synthetic-00000-of-00001.parquet")
        pipelines._publish(out)
        assert [f for f in os.listdir(tmp_path / "o") if not f.startswith(".")] == ["label=a"]
        assert pq.read_table(tmp_path / "o" / "label=a" / "real-00000.parquet").num_rows == n
        assert not [f for _, _, files in os.walk(local) for f in files]
    with pytest.raises(Exception, match="already holds 1 Parquet files; pass --overwrite"):
        pipelines.prepare_output(out, False)


def test_help_does_not_import_tensorflow():
    code = ("import runpy, sys\nsys.argv = ['balance', '--help']\ntry:\n"
            "    runpy.run_module('pipelines.balance', run_name='__main__')\n"
            "except SystemExit as e:\n    assert e.code == 0\n"
            "print('tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_balance_job_names_an_input_that_has_an_is_synthetic_column(tmp_path, mixed_artifact,
                                                                    mixed_table, capsys):
    """A balanced output given as input was refused with "column 'is_synthetic' is not
    expected"; the job now says what the CLI says."""
    import pipelines
    from pipelines.balance import run

    src = tmp_path / "balanced.parquet"
    pq.write_table(mixed_table.append_column("is_synthetic", pa.array(
        [False] * mixed_table.num_rows)), src)
    code = pipelines.main("pipelines.balance", run, balance_args(src, tmp_path / "o",
                                                                 mixed_artifact))
    assert code == 2
    assert one_line_error(capsys, "pipelines.balance").endswith(
        "input already has a column named 'is_synthetic'; rename it before balancing")
    assert not (tmp_path / "o").exists()


MISSING_MODEL = """
import contextlib, io, json, sys
import pipelines
from pipelines import balance, sample, score
from vae_augment.cli import main as cli
d, inp = sys.argv[1], sys.argv[2]
codes, errs = [], []
for argv in (["sample", d + "/o.parquet", "--model-dir", d + "/nothing", "--n", "5"],
             ["score", inp, d + "/s.parquet", "--model-dir", d + "/empty"],
             ["encode", inp, d + "/e.parquet", "--model-dir", d + "/nothing"]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        codes.append(cli(argv))
    errs.append(err.getvalue())
common = ["--output", d + "/out", "--runner", "FnApiRunner"]
for job, extra in ((sample, ["--n", "5", "--model-dir", d + "/nothing"]),
                   (score, ["--input", inp, "--model-dir", d + "/empty"]),
                   (balance, ["--input", inp, "--label", "label", "--model-dir", d + "/nothing"])):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        codes.append(pipelines.main(job.__name__, job.run, common + extra,
                                    parser=job.build_parser))
    errs.append(err.getvalue())
print(json.dumps({"codes": codes, "errs": errs, "tf": "tensorflow" in sys.modules}))
"""


def test_a_missing_or_empty_model_dir_is_said_before_tensorflow_is_imported(tmp_path,
                                                                          mixed_parquet):
    """A mistyped `--model-dir` took the CLI and the jobs 7-8 s (TensorFlow's import) to
    report; the artifact's files are now read first. (`vae-augment balance --model-dir`
    trains into a directory that does not exist, so it is not one of the cases.)"""
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-c", MISSING_MODEL, str(tmp_path), str(mixed_parquet)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["codes"] == [2] * 6
    progs = ["vae-augment"] * 3 + ["pipelines.sample", "pipelines.score", "pipelines.balance"]
    for prog, err in zip(progs, out["errs"]):
        assert len(err.strip().splitlines()) == 1 and err.startswith(f"{prog}: error: "), err
        assert ("nothing' is not a directory" in err
                or "empty' has no model.keras; is it an artifact?" in err), err
    assert out["tf"] is False


# ---------------------------------------------------------------- summaries and names
def test_balance_summary_counts_zero_synthetic_rows(tmp_path, mixed_artifact, mixed_parquet,
                                                    mixed_table):
    from pipelines.balance import run

    counts = pc.value_counts(mixed_table.column("label")).to_pylist()
    strategy = {c["values"]: c["counts"] for c in counts if c["values"] == "c"}  # as it is
    summary = run(balance_args(mixed_parquet, tmp_path / "o", mixed_artifact,
                               "--sampling-strategy", json.dumps(strategy)))
    assert summary["synthetic_rows"] == 0 and summary["real_rows"] == mixed_table.num_rows


def test_dead_letter_directory_gets_named_files(tmp_path, mixed_artifact, mixed_table):
    from pipelines.score import run

    s = mixed_table.column("s").to_pylist()
    s[0] = "never-seen"
    i = mixed_table.schema.get_field_index("s")
    pq.write_table(mixed_table.slice(0, 20).set_column(i, "s", pa.array(s[:20])),
                   tmp_path / "in.parquet")
    bad = tmp_path / "bad"
    bad.mkdir()
    summary = run(["--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "o"),
                   "--model-dir", str(mixed_artifact), "--dead-letter", f"{bad}/",
                   "--runner", RUNNER])
    assert os.listdir(bad) == ["bad_rows-00000-of-00001.jsonl"]
    assert summary["bad_rows"] == 1 and summary["scored_rows"] == 19


def test_fit_stats_output_rules_and_prefix(tmp_path, mixed_parquet):
    from pipelines.fit_stats import run
    from vae_augment.errors import InputError

    out = tmp_path / "e.json"
    args = ["--input", str(mixed_parquet), "--label", "label", "--constraint", "none"]
    out.write_text("{}")
    with pytest.raises(InputError, match="already exists; pass --overwrite"):
        run([*args, "--output", str(out)])
    assert run([*args, "--output", str(out), "--overwrite"])["rows"] == 300
    with pytest.raises(InputError, match="parent directory .* does not exist"):
        run([*args, "--output", str(tmp_path / "no" / "e.json")])
    assert not (tmp_path / "no").exists()
    proc = subprocess.run([sys.executable, "-m", "pipelines.fit_stats", *args, "--output",
                           str(out)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("pipelines.fit_stats: error: "), proc.stderr


def test_remote_inputs_have_every_footer_checked(tmp_path, mixed_table):
    """On a remote filesystem (here a Beam filesystem of a test scheme over local files)
    every file's footer is read before the job, not only the first; the first bad file in
    order is named."""
    from pipelines import read_inputs
    from vae_augment.errors import InputError

    prefix = remote_test_filesystem()
    d = tmp_path / "in"
    d.mkdir()
    for i in range(5):
        pq.write_table(mixed_table.slice(10 * i, 10), d / f"p{i}.parquet")
    files, schema = read_inputs([f"{prefix}{d}/*.parquet"])
    assert files == [f"{prefix}{d}/p{i}.parquet" for i in range(5)]
    assert schema.equals(mixed_table.schema)
    data = (d / "p3.parquet").read_bytes()
    (d / "p3.parquet").write_bytes(data[:-30])  # corrupt footer
    (d / "p4.parquet").write_bytes(data[:-30])
    with pytest.raises(InputError, match=f"input '{prefix}{d}/p3.parquet' is not a readable"):
        read_inputs([f"{prefix}{d}/*.parquet"])


def test_remote_globs_skip_files_in_hidden_folders(tmp_path, mixed_table):
    """A `**` glob on an object store matched a killed run's `.staging-*` files (and
    `_temporary` ones) as input; local globs skip them."""
    from vae_augment.beam.parquet import match_files

    prefix = remote_test_filesystem("vaetesthidden")
    for rel in ("a/part.parquet", "a/.staging-1/real-00000-of-00001.parquet",
                "_temporary/b.parquet", "a/_x/c.parquet"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(mixed_table.slice(0, 2), tmp_path / rel)
    found = match_files(f"{prefix}{tmp_path}/**.parquet")
    assert [f[len(prefix):] for f in found] == [str(tmp_path / "a" / "part.parquet")]
    # a hidden folder named in the pattern itself is read
    assert len(match_files(f"{prefix}{tmp_path}/_temporary/*.parquet")) == 1


def test_dead_letters_are_refused_without_overwrite_and_replaced_whole_with_it(
        tmp_path, mixed_artifact, bad_label_parquet, mixed_parquet, capsys):
    """An earlier run's --dead-letter files were replaced without --overwrite, and with
    another shard count the old shards stayed beside the new (session 31's audit)."""
    from pipelines import main
    from pipelines.balance import run

    dead = tmp_path / "dl"
    stale = tmp_path / "dl-00001-of-00002.jsonl"  # an earlier run's second shard
    stale.write_text('{"error": "old", "row": {}}\n')
    keep = tmp_path / "dl-notes.jsonl"  # not a shard name: never touched
    keep.write_text("mine\n")
    args = balance_args(bad_label_parquet, tmp_path / "o", mixed_artifact,
                        "--dead-letter", str(dead))
    assert main("pipelines.balance", run, args, uses_tensorflow=False) == 2
    assert "already holds 1 file(s) of an earlier run" in one_line_error(
        capsys, "pipelines.balance")
    assert sorted(os.listdir(tmp_path)) == ["bad.parquet", "dl-00001-of-00002.jsonl",
                                            "dl-notes.jsonl"]
    # a failed --overwrite run (its output exists) keeps the earlier dead letters
    os.mkdir(tmp_path / "o")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "o" / "user.parquet")
    assert main("pipelines.balance", run, args + ["--overwrite"], uses_tensorflow=False) == 2
    capsys.readouterr()
    assert stale.exists() and not glob.glob(str(tmp_path / ".staging-*"))
    os.remove(tmp_path / "o" / "user.parquet")
    summary = run(args + ["--overwrite"])
    assert summary["bad_rows"] == 1
    shards = sorted(glob.glob(str(tmp_path / "dl-*-of-*.jsonl")))
    lines = [json.loads(x) for f in shards for x in open(f)]
    assert [x["row"]["label"] for x in lines] == ["zzz"]
    assert [x["file"] for x in lines] == [str(bad_label_parquet)]  # the row's file
    assert lines[0]["error"].endswith("(row 205 of its file)"), lines
    assert keep.read_text() == "mine\n" and not glob.glob(str(tmp_path / ".staging-*"))
    # the same again with a directory for --dead-letter: bad_rows-* inside it
    args = balance_args(mixed_parquet, tmp_path / "o2", mixed_artifact,
                        "--dead-letter", str(tmp_path / "dd") + "/")
    assert run(args)["bad_rows"] == 0
    assert [f.startswith("bad_rows-") for f in os.listdir(tmp_path / "dd")] == [True]
    assert main("pipelines.balance", run, args[:3] + [str(tmp_path / "o3")] + args[4:],
                uses_tensorflow=False) == 2
    assert "`--dead-letter`" in one_line_error(capsys, "pipelines.balance")


def test_a_job_run_directly_leaves_no_staging_when_it_fails_before_running(
        tmp_path, mixed_parquet, mixed_artifact, monkeypatch):
    """`run()` called from Python (not `main`) that failed after `prepare_output` (here the
    model's warm-up) left its `.staging-*` folder in the output (session 31's audit)."""
    from pipelines.balance import run
    from vae_augment.beam import BalanceClasses

    def broken(self):
        raise RuntimeError("no model today")

    monkeypatch.setattr(BalanceClasses, "warm_up", broken)
    out = tmp_path / "o"
    out.mkdir()
    with pytest.raises(RuntimeError, match="no model today"):
        run(balance_args(mixed_parquet, out, mixed_artifact))
    assert os.listdir(out) == []
    with pytest.raises(RuntimeError, match="no model today"):  # and an output it created
        run(balance_args(mixed_parquet, tmp_path / "new", mixed_artifact))
    assert not (tmp_path / "new").exists()


def test_the_beam_score_job_takes_the_types_the_cli_scores(tmp_path, mixed_table,
                                                           mixed_artifact, capsys):
    """The Beam score job (and the CLI's with --dead-letter) refused int32 for an int64
    column, a plain string for a dictionary one, a non-nullable field for a nullable one,
    which the CLI's `score` encodes (session 31's audit): all now score alike."""
    from pipelines import main
    from pipelines.score import run
    from vae_augment.cli import main as cli

    types = {"i": pa.int32(), "s": pa.large_string(), "d": pa.string(), "f32": pa.float64(),
             "label": pa.large_string()}
    other = mixed_table.cast(pa.schema(
        [pa.field(f.name, types.get(f.name, f.type), nullable=f.name != "i")
         for f in mixed_table.schema], metadata=mixed_table.schema.metadata))
    src = tmp_path / "in.parquet"
    pq.write_table(other, src)
    scores = {}
    for name, argv in (("cli", []), ("cli-dl", ["--dead-letter", str(tmp_path / "dl.jsonl")])):
        out = tmp_path / f"{name}.parquet"
        assert cli(["score", str(src), str(out), "--model-dir", str(mixed_artifact),
                    "--quiet", *argv]) == 0, capsys.readouterr().err
        scores[name] = pq.read_table(out).column("anomaly_score").to_pylist()
    run(["--input", str(src), "--output", str(tmp_path / "beam"), "--model-dir",
         str(mixed_artifact), "--runner", RUNNER])
    from vae_augment.io import read_table, resolve_inputs

    beam = read_table(resolve_inputs(str(tmp_path / "beam")))
    assert beam.schema.field("i").type == pa.int32()  # the input's own types are kept
    assert scores["cli"] == scores["cli-dl"] == beam.column("anomaly_score").to_pylist()
    # a type the model cannot encode is still one line, before any output
    bad = other.set_column(other.schema.get_field_index("s"), "s",
                           pa.array(np.arange(other.num_rows)))
    pq.write_table(bad, src)
    assert main("pipelines.score", run, ["--input", str(src), "--output", str(tmp_path / "b2"),
                                         "--model-dir", str(mixed_artifact), "--runner", RUNNER],
                uses_tensorflow=False) == 2
    assert "column 's' has type int64, which does not match" in one_line_error(
        capsys, "pipelines.score")
    assert not (tmp_path / "b2").exists()


def test_the_jobs_take_a_fixed_size_list_of_non_nullable_elements(tmp_path):
    """pyarrow pickles a fixed-size list type without its element field, so the Beam jobs
    (their DoFns and writers carry the schema pickled) refused, or failed writing with a
    300-line traceback, a `fixed_size_list<element: uint8 not null>` column that the CLI
    takes (session 32's image audit)."""
    import numpy as np

    from pipelines.balance import run as balance
    from pipelines.sample import run as sample
    from pipelines.score import run as score
    from vae_augment.api import fit
    from vae_augment.io import read_table, resolve_inputs

    from .conftest import FAST

    rng = np.random.default_rng(0)
    typ = pa.list_(pa.field("element", pa.uint8(), nullable=False), 16)
    img = pa.FixedSizeListArray.from_arrays(
        pa.array((rng.random(120 * 16) * 255).astype(np.uint8)), type=typ)
    table = pa.table({"img": img, "label": np.r_[np.zeros(100, int), np.ones(20, int)]})
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    model = tmp_path / "m"
    fit(str(src), label="label", model_dir=str(model), seed=0, **FAST)
    balance(["--input", str(src), "--output", str(tmp_path / "b"), "--model-dir", str(model),
             "--label", "label", "--runner", RUNNER])
    out = read_table(resolve_inputs(str(tmp_path / "b")))
    assert out.schema.field("img").type.equals(typ) and out.num_rows == 200
    sample(["--output", str(tmp_path / "s"), "--model-dir", str(model), "--n", "10",
            "--runner", RUNNER])
    assert read_table(resolve_inputs(str(tmp_path / "s"))).schema.field("img").type.equals(typ)
    score(["--input", str(src), "--output", str(tmp_path / "c"), "--model-dir", str(model),
           "--runner", RUNNER])
    assert read_table(resolve_inputs(str(tmp_path / "c"))).schema.field("img").type.equals(typ)


def test_score_job_label_errors_name_the_models_label(tmp_path, mixed_artifact,
                                                      bad_label_parquet, capsys):
    """The score job takes no `--label` (the model fixes it): its label errors said "`label`
    column 'label'", an argument the job does not have."""
    from pipelines import main
    from pipelines.score import run

    args = ["--input", str(bad_label_parquet), "--output", str(tmp_path / "o"),
            "--model-dir", str(mixed_artifact), "--runner", RUNNER]
    assert main("pipelines.score", run, args, uses_tensorflow=False) == 2
    assert ("the model's label column 'label' has classes ['zzz']"
            in one_line_error(capsys, "pipelines.score"))


@pytest.mark.parametrize("fails", [False, True])
def test_a_worker_exits_without_the_interpreters_finalization(tmp_path, fails):
    """In a worker subprocess of a job (this plugin loaded through PIPELINE_OPTIONS_FILE),
    the process ends after its atexit handlers without finalizing the interpreter, where a
    daemon thread woken inside C++ code could abort it (exit 134): a module global's
    `__del__` never runs. Output is flushed, and the exit code is Python's own: 0, or 1
    after an uncaught exception (its traceback printed)."""
    code = ("import atexit, sys\n"
            "import pipelines._quiet\n"
            "class Finalized:\n"
            "    def __del__(self):\n"
            "        sys.stdout.write('finalized\\n'); sys.stdout.flush()\n"
            "kept = Finalized()\n"
            "atexit.register(lambda: sys.stdout.write('atexit ran;'))\n"
            "sys.stdout.write('unflushed;')\n"
            + ("raise ValueError('boom')\n" if fails else ""))
    env = {**os.environ, "PYTHONPATH": REPO,
           "PIPELINE_OPTIONS_FILE": str(tmp_path / "vae-augment-worker-options-x.json")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    assert proc.stdout == "unflushed;atexit ran;", proc.stdout + proc.stderr
    assert proc.returncode == (1 if fails else 0), proc.stderr
    assert ("ValueError: boom" in proc.stderr) == fails
    # the same program outside a worker: finalized as usual
    del env["PIPELINE_OPTIONS_FILE"]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    assert proc.stdout == "unflushed;atexit ran;finalized\n", proc.stdout + proc.stderr


def test_the_score_job_names_the_class_each_row_looks_like(tmp_path, mixed_artifact,
                                                          mixed_table):
    """`pipelines.score --kind label --looks-like`: the CLI's column, from the same
    `score_table`; refused with another kind."""
    from pipelines.score import run
    from vae_augment import scoring
    from vae_augment.errors import VAEAugmentError

    table = mixed_table.slice(0, 40)
    # a large_string label (the model's is string): the column takes the label's type
    table = table.set_column(table.schema.get_field_index("label"), "label",
                             table.column("label").cast(pa.large_string()))
    pq.write_table(table, tmp_path / "a.parquet")
    out = tmp_path / "o"
    run(["--input", str(tmp_path / "a.parquet"), "--output", str(out), "--model-dir",
         str(mixed_artifact), "--kind", "label", "--looks-like", "--runner", RUNNER])
    got = pa.concat_tables(pq.read_table(f) for f in sorted(glob.glob(str(out / "*.parquet"))))
    assert got.schema.field("looks_like").type == pa.large_string()
    _, best = scoring.label_scores(str(mixed_artifact), table)
    classes = scoring._loaded(str(mixed_artifact)).encoding.classes
    assert sorted(zip(got.column("i").to_pylist(), got.column("looks_like").to_pylist())) == \
        sorted(zip(table.column("i").to_pylist(), [classes[b] for b in best]))
    with pytest.raises(VAEAugmentError, match="`--looks-like` names the class"):
        run(["--input", str(tmp_path / "a.parquet"), "--output", str(tmp_path / "o2"),
             "--model-dir", str(mixed_artifact), "--looks-like", "--runner", RUNNER])


# ---------------------------------------------------------------- Ctrl-C and SIGTERM
def test_an_interrupt_beam_wrapped_is_one_line(capsys):
    """Ctrl-C in a step reaches the launcher as Beam's RuntimeError "KeyboardInterrupt
    [while running ...]" (an interrupt has no message to append the step to): one line and
    exit 130, as the CLI (was a traceback and exit 1); SIGTERM 143."""
    from pipelines import main
    from vae_augment.cli import Terminated

    def stopped_in_a_step(stop):
        def run(argv):
            try:
                raise stop
            except BaseException:  # as Beam's `_reraise_augmented`: chained implicitly
                raise RuntimeError(  # noqa: B904
                    f"{type(stop).__name__} [while running 'Sample/Generate']")
        return run

    for stop, code, said in [(KeyboardInterrupt(), 130, "interrupted"),
                             (Terminated(), 143, "terminated")]:
        def raw(argv, stop=stop):
            raise stop

        for run in (stopped_in_a_step(stop), raw):
            assert main("pipelines.sample", run, [], uses_tensorflow=False) == code
            assert capsys.readouterr().err == f"pipelines.sample: {said}\n"


# the job pipelines.sample, sent SIGINT (Ctrl-C) or SIGTERM as its Write step writes. A job
# started in the background of a non-interactive shell (`cmd &`, as a CI script or `nohup`
# may start pytest) inherits SIGINT ignored, and Python leaves it so: Ctrl-C does not reach
# it, rightly, and this test saw exit 0 there (session 55). The job stands for one started
# from a terminal: SIGINT raises KeyboardInterrupt. `raise_signal`: the handler runs before
# it returns, in the write step.
_STOP_MID_WRITE = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import pyarrow.parquet as pq
import pipelines
from pipelines.sample import build_parser, run
write = pq.ParquetWriter.write_table
def write_then_stop(self, *args, **kwargs):
    write(self, *args, **kwargs)
    signal.raise_signal(getattr(signal, sys.argv[1]))
pq.ParquetWriter.write_table = write_then_stop
sys.exit(pipelines.main("pipelines.sample", run, sys.argv[2:], parser=build_parser))
"""


@pytest.mark.parametrize("sig,code,said", [("SIGINT", 130, "interrupted"),
                                           ("SIGTERM", 143, "terminated")])
def test_a_job_stopped_mid_write_says_so_and_leaves_nothing(tmp_path, mixed_artifact, sig,
                                                            code, said):
    out = tmp_path / "out"
    argv = ["--output", str(out), "--model-dir", str(mixed_artifact), "--n", "30",
            "--runner", RUNNER]
    proc = subprocess.run([sys.executable, "-c", _STOP_MID_WRITE, sig, *argv], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stderr, proc.stdout) == (code, f"pipelines.sample: {said}\n",
                                                           "")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("first", [True, False])
def test_a_broken_symlink_among_the_inputs_is_one_line(tmp_path, mixed_parquet, first):
    """A dangling symlink in an input directory (a file deleted after it was linked) is named
    in one `InputError`, first file or not (was FileNotFoundError: a traceback, exit 1)."""
    from pipelines import read_inputs
    from vae_augment.errors import InputError

    (tmp_path / ("b.parquet" if first else "a.parquet")).symlink_to(mixed_parquet)
    broken = tmp_path / ("a.parquet" if first else "b.parquet")
    broken.symlink_to(tmp_path / "deleted.parquet")
    with pytest.raises(InputError, match=rf"^cannot read input '{broken}': No such file or "
                                         rf"directory$"):
        read_inputs(str(tmp_path))


def test_a_full_disk_under_the_write_step_is_one_line_not_a_corrupt_input(
        tmp_path, mixed_artifact, monkeypatch, capsys):
    """ENOSPC (simulated) as Beam's Parquet sink writes: one line that says so, nothing
    left. Beam's writer lives in parquetio.py beside its reader, so this read "an input file
    is corrupt ([Errno 28] ...)" (a job with no input at all), or was a traceback."""
    import errno

    import pipelines
    from pipelines.sample import build_parser, run
    from vae_augment.io import null_fixed_size_lists_readable

    null_fixed_size_lists_readable()  # its in-memory probe writes too: done before the patch

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    out = tmp_path / "out"
    argv = ["--output", str(out), "--model-dir", str(mixed_artifact), "--n", "20",
            "--runner", RUNNER]
    assert pipelines.main("pipelines.sample", run, argv, parser=build_parser) == 2
    err = capsys.readouterr().err
    assert err == "pipelines.sample: error: cannot write the output: No space left on device\n"
    assert os.listdir(tmp_path) == []


def test_a_full_stdout_is_one_line_and_exit_120(tmp_path, mixed_artifact, monkeypatch, capsys):
    """`> /dev/full`: a job's summary raised a traceback (exit 1) after the job had written
    its output, and `--help` printed nothing and exited 0 (argparse ignores a failed
    write). Now one line and exit 120, as the CLI; the output stays."""
    from pipelines import main
    from pipelines.sample import build_parser, run

    def to_full(*args, **kw):
        full = full_stdout()
        monkeypatch.setattr(sys, "stdout", full)
        try:
            return main("pipelines.sample", run, list(args), **kw)
        except SystemExit as exc:  # --help that printed
            return exc.code
        finally:
            full.buffer.raw.empty()  # what is left in the buffer can go when it is collected
            monkeypatch.undo()

    message = "pipelines.sample: error: cannot write to stdout: No space left on device\n"
    assert to_full("--help", parser=build_parser, uses_tensorflow=False) == 120
    assert capsys.readouterr().err == message
    out = tmp_path / "out"
    assert to_full("--output", str(out), "--model-dir", str(mixed_artifact), "--n", "3",
                   "--runner", RUNNER, uses_tensorflow=False) == 120
    assert capsys.readouterr().err.endswith(message)
    written = glob.glob(str(out / "*.parquet"))
    assert written and sum(pq.read_metadata(f).num_rows for f in written) > 0


def test_non_ascii_arguments_under_an_ascii_locale(tmp_path, mixed_artifact, monkeypatch,
                                                    capsys):
    """As the CLI: under LC_ALL=C with PYTHONUTF8=0 a job's `--class dé` came as surrogates
    ('d\\udcc3\\udca9') and is now read as typed; a non-ASCII path, which Python and pyarrow
    would encode differently there, is one line, exit 2, before the job."""
    from pipelines import main
    from pipelines.sample import build_parser, run

    def job(*args):
        return main("pipelines.sample", run, ["--model-dir", str(mixed_artifact), "--n", "2",
                                              "--runner", RUNNER, *args],
                    uses_tensorflow=False, parser=build_parser)

    # the bytes of 'dé' as Python reads them from an ASCII command line
    assert job("--output", str(tmp_path / "a"), "--class", "d\udcc3\udca9") == 2
    line = one_line_error(capsys, "pipelines.sample")
    assert "'d\u00e9'" in line and "udcc3" not in line, line
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "ascii")
    out = tmp_path / "\u00e9"
    assert job("--output", str(out)) == 2
    assert one_line_error(capsys, "pipelines.sample") == (
        f"pipelines.sample: error: `--output` '{tmp_path}/\u00e9' is not ASCII, and this Python "
        "encodes file names as 'ascii' (a C locale with PYTHONUTF8=0): run with PYTHONUTF8=1 "
        "or LC_ALL=C.UTF-8")
    assert not out.exists()
