"""CLI messages and output rules a user audit asked for: null-label rows in balance's table,
flags that do nothing said so, clashes and empty inputs named, usage errors pointing at the
subcommand's help, argument names as flags."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import FAST_ARGS, REPO, full_stdout
from .conftest import run_cli as run


def test_balance_table_counts_rows_with_a_null_label(tmp_path, capsys, mixed_artifact, mixed_table):
    labels = mixed_table.column("label").to_pylist()
    for i in range(0, len(labels), 10):
        labels[i] = None
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(mixed_table.set_column(mixed_table.schema.get_field_index("label"), "label",
                                          pa.array(labels, pa.string())), src)
    code, stdout, err = run(["balance", src, out, "--label", "label", "--model-dir",
                             mixed_artifact, "--quiet"], capsys)
    assert code == 0, err
    row = next(line.split() for line in stdout.splitlines() if line.startswith("(null label)"))
    assert row[2:] == ["30", "0", "30"]
    assert pq.read_table(out).column("label").null_count == 30


def test_flags_that_do_nothing_are_said_so(tmp_path, capsys, mixed_artifact, mixed_parquet):
    code, _, err = run(["score", mixed_parquet, tmp_path / "s.parquet", "--model-dir",
                        mixed_artifact, "--k", "5", "--quiet"], capsys)
    assert code == 0 and "warning: --k applies to --method iwae only" in err
    code, _, err = run(["score", mixed_parquet, tmp_path / "t.parquet", "--model-dir",
                        mixed_artifact, "--method", "iwae", "--k", "5", "--quiet"], capsys)
    assert code == 0 and "warning" not in err
    code, _, err = run(["sample", tmp_path / "u.parquet", "--model-dir", mixed_artifact, "--n", "3",
                        "--reference", mixed_parquet], capsys)
    assert code == 0 and "--reference is used only with --privacy-min-distance" in err


def test_clashing_new_columns_and_empty_inputs_are_named(tmp_path, capsys, mixed_artifact,
                                                         mixed_parquet, mixed_table):
    code, _, err = run(["score", mixed_parquet, tmp_path / "s.parquet", "--model-dir",
                        mixed_artifact, "--latent", "--latent-column", "anomaly_score"], capsys)
    assert code == 2 and "the latent and the score columns are both named 'anomaly_score'" in err
    code, _, err = run(["score", mixed_parquet, tmp_path / "s.parquet", "--model-dir",
                        mixed_artifact, "--kind", "label", "--latent", "--looks-like",
                        "--looks-like-column", "latent"], capsys)
    assert code == 2 and "the latent and the looks-like columns are both named 'latent'" in err
    empty = tmp_path / "empty.parquet"
    pq.write_table(mixed_table.slice(0, 0), empty)
    # applying a model to no rows writes no rows, with the output schema (it said "the
    # input has no rows" and exit 2); training on them, or a report of them, is the error
    code, out, err = run(["balance", empty, tmp_path / "b.parquet", "--label", "label",
                          "--model-dir", mixed_artifact, "--sampling-strategy", '{"c": 500}'],
                         capsys)
    assert code == 0 and "wrote 0 rows" in out, err
    written = pq.read_table(tmp_path / "b.parquet")
    assert written.num_rows == 0
    assert written.schema.equals(pq.read_schema(mixed_parquet).append(
        pa.field("is_synthetic", pa.bool_(), nullable=False)), check_metadata=True)
    code, _, err = run(["balance", empty, tmp_path / "b2.parquet", "--label", "label",
                        "--model-dir", mixed_artifact, "--report", tmp_path / "r"], capsys)
    assert code == 2 and err.strip() == ("vae-augment: error: the input has no rows: --report "
                                         "has nothing to evaluate")
    code, _, err = run(["balance", empty, tmp_path / "b3.parquet", "--label", "label",
                        "--model-dir", mixed_artifact, "--sampling-strategy", '{"zz": 5}'],
                       capsys)
    assert code == 2 and "`--sampling-strategy` names class 'zz', which the model" in err
    code, _, err = run(["balance", empty, tmp_path / "b4.parquet", "--label", "label",
                        "--model-dir", tmp_path / "new_model"], capsys)
    assert code == 2 and err.strip() == "vae-augment: error: the input has no rows"
    assert not (tmp_path / "b2.parquet").exists() and not (tmp_path / "b4.parquet").exists()
    nulls = tmp_path / "nulls.parquet"
    pq.write_table(mixed_table.set_column(mixed_table.schema.get_field_index("label"), "label",
                                          pa.nulls(mixed_table.num_rows, pa.string())), nulls)
    code, _, err = run(["balance", nulls, tmp_path / "b.parquet", "--label", "label",
                        "--model-dir", mixed_artifact], capsys)
    assert code == 2 and "`--label` column 'label' is null in every row" in err


def test_usage_errors_point_at_the_subcommand_and_name_flags(tmp_path, capsys, mixed_artifact,
                                                             mixed_parquet):
    code, _, err = run(["fit", mixed_parquet, "--label", "label", "--model-dir", tmp_path / "m",
                        "--bogus"], capsys)
    assert code == 2 and err.strip().endswith("(see 'vae-augment fit --help')")
    code, _, err = run(["sample", tmp_path / "s", "--model-dir", mixed_artifact, "--n", "3",
                        "--output-shards", "0"], capsys)
    assert code == 2 and "`--output-shards` must be a positive integer, got 0" in err
    code, _, err = run(["balance", mixed_parquet, tmp_path / "b.parquet", "--label", "label",
                        "--model-dir", mixed_artifact, "--sampling-strategy", "nan"], capsys)
    assert code == 2 and "`--sampling-strategy` as a float must be a finite ratio" in err
    code, _, err = run(["sample", tmp_path / "v.parquet", "--model-dir", tmp_path / "nope",
                        "--n", "3"], capsys)
    assert code == 2 and "`--model-dir`" in err, err
    from vae_augment.balancing import samples_to_generate
    from vae_augment.errors import VAEAugmentError

    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` as a float must be"):
        samples_to_generate({"a": 5, "b": 2}, float("nan"))


def test_an_expanded_glob_and_a_partitioned_directory_are_explained(tmp_path, capsys,
                                                                     mixed_table):
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(2):
        pq.write_table(mixed_table.slice(100 * i, 100), parts / f"p{i}.parquet")
    files = sorted(str(p) for p in parts.iterdir())
    code, _, err = run(["fit", *files, "--label", "label", "--model-dir", tmp_path / "m"],
                       capsys)
    assert code == 2 and "as if the shell expanded a glob" in err and "quote it" in err
    hive = tmp_path / "hive"
    ds.write_dataset(mixed_table.drop_columns(["img"]), hive, format="parquet",
                     partitioning=["small"], partitioning_flavor="hive")
    (hive / "small=0").rename(hive / "zero")  # no longer a hive layout (tests/test_partitioned)
    code, _, err = run(["fit", hive, "--label", "label", "--model-dir", tmp_path / "m"], capsys)
    assert code == 2 and "in subdirectories that are not a hive-partitioned layout" in err
    from vae_augment.io import resolve_inputs

    assert len(resolve_inputs(str(hive / "**" / "*.parquet"))) == 4


def test_checkpoint_and_encoding_errors_name_flags(tmp_path, capsys, mixed_parquet):
    base = ["fit", mixed_parquet, "--label", "label", "--model-dir", tmp_path / "m", "--quiet"]
    code, _, err = run([*base, "--checkpoint-every", "0"], capsys)
    assert code == 2 and "`--checkpoint-every` must be a positive integer, got 0" in err
    code, _, err = run([*base, "--encoding", tmp_path / "none.json"], capsys)
    assert code == 2 and "`--encoding` file '" in err
    assert not (tmp_path / "m").exists()


def test_too_few_rows_for_validation_is_said(tmp_path, capsys, mixed_table):
    src = tmp_path / "small.parquet"
    pq.write_table(mixed_table.slice(0, 15), src)
    base = ["fit", src, "--label", "label", "--quiet", "--epochs", "1", "--hidden", "8"]
    code, _, err = run([*base, "--model-dir", tmp_path / "m"], capsys)
    assert code == 0 and "15 training rows are too few to hold any out for validation" in err
    code, _, err = run([*base, "--model-dir", tmp_path / "n", "--validation-split", "0"], capsys)
    assert code == 0 and "validation" not in err  # the user asked for none


def test_balance_trains_into_an_existing_empty_model_dir(tmp_path, capsys, mixed_parquet):
    (tmp_path / "runs").mkdir()  # `mkdir -p runs` first, as users do
    code, _, err = run(["balance", mixed_parquet, tmp_path / "b.parquet", "--label", "label",
                        "--model-dir", tmp_path / "runs", "--quiet", "--epochs", "1",
                        "--hidden", "8", "--guide-iterations", "2", "--candidates", "1"], capsys)
    assert code == 0, err
    assert "exists, so balance samples that model" not in err
    assert (tmp_path / "runs" / "manifest.json").exists()


def test_a_class_of_a_few_rows_is_warned_about(tmp_path, capsys, mixed_table):
    labels = mixed_table.column("label").to_pylist()
    keep = [i for i, v in enumerate(labels) if v != "c"] + [i for i, v in enumerate(labels)
                                                           if v == "c"][:3]
    src = tmp_path / "rare.parquet"
    pq.write_table(mixed_table.take(keep), src)
    code, _, err = run(["fit", src, "--label", "label", "--model-dir", tmp_path / "m",
                        "--quiet", "--epochs", "1", "--hidden", "8", "--guide-iterations", "2"],
                       capsys)
    assert code == 0, err
    line = [x for x in err.splitlines() if "fewer than 5 rows" in x]
    assert len(line) == 1 and "{'c': 3}" in line[0] and line[0].startswith("vae-augment: warning:")


def test_wide_tables_and_nested_folders_get_short_and_named_messages(tmp_path, capsys):
    """A wrong --label on a 300-column table names the first 20 columns and the count (the
    whole list was 4 KB); a directory whose subfolders hold more files says they are not read."""
    import warnings

    from vae_augment.io import resolve_inputs

    wide = pa.table({f"c{i}": [1.0, 2.0] for i in range(300)})
    pq.write_table(wide, tmp_path / "wide.parquet")
    code, _, err = run(["fit", tmp_path / "wide.parquet", "--label", "nope", "--model-dir",
                        tmp_path / "m"], capsys)
    assert code == 2 and "... (300 in all)" in err and len(err) < 600, err
    (tmp_path / "d" / "sub").mkdir(parents=True)
    pq.write_table(wide, tmp_path / "d" / "a.parquet")
    pq.write_table(wide, tmp_path / "d" / "sub" / "b.parquet")
    with pytest.warns(UserWarning, match=r"also holds .parquet files in subdirectories, "
                                         r"which are not read"):
        assert resolve_inputs(str(tmp_path / "d")) == [str(tmp_path / "d" / "a.parquet")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(resolve_inputs(str(tmp_path / "d" / "**" / "*.parquet"))) == 2


def test_label_errors_name_the_flag_or_the_models_label(tmp_path, capsys, mixed_artifact,
                                                        mixed_table):
    """A label the user named is `--label` on the command line (`label` in Python); one the
    artifact fixes is the model's (`sample --reference` takes no --label)."""
    from vae_augment.api import balance
    from vae_augment.errors import SchemaError

    src = tmp_path / "nolabel.parquet"
    pq.write_table(mixed_table.drop_columns(["label"]), src)
    code, _, err = run(["balance", src, tmp_path / "b.parquet", "--label", "label",
                        "--model-dir", mixed_artifact], capsys)
    assert code == 2 and "error: `--label` column 'label' not found. Columns:" in err
    code, _, err = run(["sample", tmp_path / "s.parquet", "--model-dir", mixed_artifact,
                        "--n", "3", "--privacy-min-distance", "0", "--reference", src], capsys)
    assert code == 2 and "error: the model's label column 'label' not found. Columns:" in err
    with pytest.raises(SchemaError, match="^`label` column 'label' not found. Columns:"):
        balance(str(src), str(tmp_path / "p.parquet"), label="label", model_dir=str(mixed_artifact))


@pytest.mark.parametrize("shards", [[], ["--output-shards", "2"]], ids=["file", "shards"])
def test_balance_refuses_a_report_directory_that_is_its_output(capsys, tmp_path, mixed_parquet,
                                                               mixed_artifact, shards):
    """`balance OUT --report OUT`: a file output was written and the report then failed
    ('exists and is not a directory', exit 2, the output left behind); a shards directory
    took the report's files, so the same command with --overwrite then refused the output
    ('files that are not shards ... report.html'). Now one line before any work."""
    out = tmp_path / "out"
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                        mixed_artifact, "--report", out, "--quiet", *shards], capsys)
    assert code == 2 and err.strip() == (
        f"vae-augment: error: --report '{out}' is also the output; give the report a "
        f"directory of its own"), err
    assert not out.exists()


def test_balance_refuses_a_report_directory_inside_its_shards_output(capsys, tmp_path,
                                                                     mixed_parquet,
                                                                     mixed_artifact):
    """`balance OUT --output-shards 2 --report OUT/report`: the report's folder was written
    into the shards directory, so the same command with --overwrite then refused the output
    ('files that are not shards of an earlier output (e.g. 'report')'). Now one line before
    any work, as for `--report OUT`."""
    out = tmp_path / "out"
    out.mkdir()
    report = out / "report"
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                        mixed_artifact, "--report", report, "--quiet", "--output-shards", "2"],
                       capsys)
    assert code == 2 and err.strip() == (
        f"vae-augment: error: --report '{report}' is inside the output '{out}'; give the "
        f"report a directory of its own"), err
    assert list(out.iterdir()) == []


def test_a_file_of_a_type_pyarrow_cannot_read_is_one_line(tmp_path, capsys, mixed_parquet,
                                                          monkeypatch):
    """A Polars Int128 column: pyarrow cannot even open the footer, and every command printed
    a 24-line traceback (exit 1). The file is valid, so the message says what to cast."""
    import vae_augment.io as vio

    def unreadable(path, *a, **k):
        raise pa.ArrowNotImplementedError("Integers with more than 64 bits not implemented")

    monkeypatch.setattr(vio.pq, "ParquetFile", unreadable)
    code, _, err = run(["balance", mixed_parquet, tmp_path / "o.parquet", "--label", "label",
                        "--exclude", "x"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert ("holds a column of a type pyarrow " in err and "(Integers with more than 64 bits "
            "not implemented), so no column of it can be read, excluded or not; cast that "
            "column where the file is written (e.g. a Polars Int128 to Int64 or Decimal)"
            in err), err
    assert not (tmp_path / "o.parquet").exists()


def test_tensorflows_python_warnings_are_hidden_unless_verbose(capsys, caplog, mixed_artifact):
    """TF_CPP_MIN_LOG_LEVEL quiets TensorFlow's C++ logs, not its Python logger: `balance
    --report` on a model with two image columns of different shapes
    printed "WARNING:tensorflow:5 out of the last 7 calls to <function lbeta> triggered
    tf.function retracing..." (the count heads' log-probabilities, eager, at each row count)."""
    import logging

    code, _, err = run(["info", "--model-dir", mixed_artifact], capsys)
    assert code == 0, err
    with caplog.at_level(logging.WARNING):
        logging.getLogger("tensorflow").warning("5 out of the last 7 calls triggered retracing")
    assert "retracing" not in caplog.text


def test_balance_takes_its_sampling_strategy_from_a_json_file(tmp_path, capsys, mixed_artifact,
                                                              mixed_parquet, mixed_table):
    """``--sampling-strategy PATH.json``, as an evaluation report's advice gives it (its
    sampling_strategy.json), balances as the same JSON inline does; a file of bad JSON is a
    one-line error naming the file, and nothing is written."""
    import collections
    import json

    counts = collections.Counter(mixed_table.column("label").to_pylist())
    want = {"b": counts["b"] + 7, "c": counts["c"] + 5}
    spec = tmp_path / "report dir" / "sampling_strategy.json"
    spec.parent.mkdir()
    spec.write_text(json.dumps(want, indent=1))
    code, out, err = run(["balance", mixed_parquet, tmp_path / "b.parquet", "--label", "label",
                          "--model-dir", mixed_artifact, "--sampling-strategy", spec,
                          "--quiet"], capsys)
    assert code == 0, err
    written = pq.read_table(tmp_path / "b.parquet")
    synthetic = written.filter(written.column("is_synthetic"))
    assert collections.Counter(synthetic.column("label").to_pylist()) == {"b": 7, "c": 5}
    (tmp_path / "bad.json").write_text('{"b": 3,')
    code, _, err = run(["balance", mixed_parquet, tmp_path / "b2.parquet", "--label", "label",
                        "--model-dir", mixed_artifact, "--sampling-strategy",
                        tmp_path / "bad.json"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"`--sampling-strategy` (in file '{tmp_path / 'bad.json'}')" in err
    assert "is not valid JSON" in err and not (tmp_path / "b2.parquet").exists()


def test_results_print_under_an_ascii_locale(monkeypatch):
    """A class name stdout's encoding lacks (LC_ALL=C with PYTHONUTF8=0, a Latin-1 locale)
    prints escaped: `balance`'s counts table failed with a UnicodeEncodeError traceback
    (exit 1) after its output was written."""
    import io

    from vae_augment import cli

    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stdout)
    with cli._printable_stdout():
        print("vielleicht\u2014\u00fc")
    assert stdout.errors == "strict"
    stdout.seek(0)
    assert stdout.read() == "vielleicht\\u2014\\xfc\n"


def test_non_ascii_arguments_under_an_ascii_locale(tmp_path):
    """Under LC_ALL=C with PYTHONUTF8=0 Python reads the command line as ASCII: `--label
    étiquette` came as surrogates ('\\udcc3\\udca9tiquette') and matched no column, nor
    `--class dé` a class. They now match; a non-ASCII path, which Python and pyarrow would
    encode differently there (pyarrow's UnicodeEncodeError traceback), is one line, exit 2."""
    t = pa.table({"x": [float(i % 7) for i in range(200)],
                  "\u00e9tiquette": ["d\u00e9"] * 150 + ["b"] * 50})
    pq.write_table(t, tmp_path / "t.parquet")
    (tmp_path / "dir_\u00e9").mkdir()
    pq.write_table(t, tmp_path / "dir_\u00e9" / "t.parquet")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONIOENCODING"}
    env.update(LC_ALL="C", PYTHONUTF8="0")

    def cli(*argv):
        proc = subprocess.run([sys.executable, "-m", "vae_augment", *map(str, argv)],
                              capture_output=True, env=env, cwd=REPO, timeout=300)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()

    code, out, err = cli("fit", tmp_path / "t.parquet", "--label", "\u00e9tiquette",
                         "--model-dir", tmp_path / "m", *FAST_ARGS)
    assert code == 0, err
    assert '"classes": ["b", "d\\u00e9"]' in out
    code, out, err = cli("sample", tmp_path / "s.parquet", "--model-dir", tmp_path / "m",
                         "--n", "3", "--class", "d\u00e9", "--quiet")
    assert code == 0, err
    assert pq.read_table(tmp_path / "s.parquet").column("\u00e9tiquette").to_pylist() == \
        ["d\u00e9"] * 3
    code, out, err = cli("balance", tmp_path / "dir_\u00e9" / "t.parquet",
                         tmp_path / "b.parquet", "--label", "\u00e9tiquette", "--model-dir",
                         tmp_path / "m", "--quiet")
    assert code == 2 and err.splitlines() == [
        f"vae-augment: error: INPUT '{tmp_path}/dir_\\xe9/t.parquet' is not ASCII, and this "
        "Python encodes file names as 'ascii' (a C locale with PYTHONUTF8=0): run with "
        "PYTHONUTF8=1 or LC_ALL=C.UTF-8"], err
    assert not (tmp_path / "b.parquet").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_stdout_is_one_line_and_exit_120(tmp_path, mixed_artifact, monkeypatch, capsys):
    """`> /dev/full`: `info` said "cannot write: No space left on device", as if a file had
    failed, with exit 2 (nothing written) though `balance` had written its output; `--help`
    printed nothing and exited 0 (argparse ignores a failed write)."""
    from vae_augment import cli

    def cli_to_full(*argv):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, "-m", "vae_augment", *map(str, argv)],
                                  stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                  timeout=300)
        return proc.returncode, proc.stderr

    for argv in (["info", "--model-dir", mixed_artifact], ["sample", "--help"]):
        assert cli_to_full(*argv) == (
            120, "vae-augment: error: cannot write to stdout: No space left on device\n")

    full = full_stdout()
    monkeypatch.setattr(sys, "stdout", full)
    out = tmp_path / "s.parquet"
    code = cli.main(["sample", str(out), "--model-dir", str(mixed_artifact), "--n", "2",
                     "--quiet"])
    full.buffer.raw.empty()  # what is left in the buffer can go when the stream is collected
    monkeypatch.undo()
    assert code == 120 and pq.read_table(out).num_rows == 6
    assert capsys.readouterr().err == (
        "vae-augment: error: cannot write to stdout: No space left on device\n")


def test_what_cannot_be_read_or_written_is_named(tmp_path, capsys, mixed_artifact, mixed_parquet,
                                                 monkeypatch):
    """Permission denied (simulated: tests may run as root) says what was denied: an input
    directory or an artifact file read ("cannot write 'indir'" before), a model directory
    that cannot be searched (was "has no model.keras; is it an artifact?"), the output and
    not its hidden temporary file."""
    import builtins
    import errno
    import os
    import shutil
    import tempfile

    from vae_augment import artifact

    def denied(path):
        return OSError(errno.EACCES, "Permission denied", str(path))

    parts = tmp_path / "parts"
    parts.mkdir()
    shutil.copy(mixed_parquet, parts / "a.parquet")
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda p=".": (
        (_ for _ in ()).throw(denied(p)) if str(p) == str(parts) else listdir(p)))
    out = tmp_path / "out.parquet"
    code, _, err = run(["balance", parts, out, "--label", "label", "--model-dir",
                        mixed_artifact], capsys)
    assert (code, err) == (2, f"vae-augment: error: cannot read input directory '{parts}': "
                              f"Permission denied\n")
    monkeypatch.undo()

    model = tmp_path / "model"
    shutil.copytree(mixed_artifact, model)
    keras_file = str(model / "model.keras")
    real_open = builtins.open
    monkeypatch.setattr(artifact, "open", lambda p, *a, **k: (
        (_ for _ in ()).throw(denied(p)) if str(p) == keras_file else real_open(p, *a, **k)),
        raising=False)
    code, _, err = run(["sample", out, "--model-dir", model, "--n", "3"], capsys)
    assert (code, err) == (2, f"vae-augment: error: cannot read artifact file '{keras_file}': "
                              f"Permission denied\n")
    monkeypatch.undo()

    stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: (
        (_ for _ in ()).throw(denied(p)) if str(p).startswith(f"{model}{os.sep}")
        else stat(p, *a, **k)))
    code, _, err = run(["info", "--model-dir", model], capsys)
    assert (code, err) == (2, f"vae-augment: error: cannot read model directory '{model}': "
                              f"Permission denied\n")
    monkeypatch.undo()

    mkstemp = tempfile.mkstemp
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, dir=None, **k: (
        (_ for _ in ()).throw(denied(os.path.join(dir, ".out.parquet.x.tmp")))
        if str(dir) == str(tmp_path) else mkstemp(*a, dir=dir, **k)))
    code, _, err = run(["sample", out, "--model-dir", mixed_artifact, "--n", "3"], capsys)
    assert (code, err) == (2, f"vae-augment: error: cannot write output '{out}': "
                              f"Permission denied\n")
    assert not out.exists()


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="POSIX named pipes")
def test_a_pipe_as_input_is_not_said_to_be_missing(tmp_path, capsys, mixed_artifact):
    """`balance <(cat x.parquet) ...` (bash hands over /dev/fd/63, a pipe) or a piped
    /dev/stdin: "input file '/dev/fd/63' does not exist" before; now what it is and what to
    do. (The pipe is never opened: nothing blocks.)"""
    import os

    pipe = tmp_path / "rows.parquet"
    os.mkfifo(pipe)
    code, out, err = run(["balance", pipe, tmp_path / "o.parquet", "--label", "label",
                          "--model-dir", mixed_artifact], capsys)
    assert (code, out) == (2, "")
    assert err == (f"vae-augment: error: input '{pipe}' is not a regular file (a pipe or a "
                   f"device?); Parquet is read from a file (its footer comes last): save it "
                   f"to one first\n")


def test_a_full_disk_names_the_output_or_the_model(tmp_path, capsys, mixed_artifact,
                                                   monkeypatch):
    """ENOSPC (simulated) while rows or a model are written: the path and the reason, not
    "cannot write: Error writing bytes to file. Detail: [errno 28] ..." (pyarrow's words) or a
    bare "cannot write: No space left on device"; nothing left behind."""
    import builtins
    import errno
    import os

    import pyarrow.parquet as pq

    from vae_augment import artifact
    from vae_augment.errors import ArtifactError

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No "
                                    "space left on device")

    out = tmp_path / "out.parquet"
    monkeypatch.setattr(pq.ParquetWriter, "write_table", full)
    code, stdout, err = run(["sample", out, "--model-dir", mixed_artifact, "--n", "3"], capsys)
    assert (code, stdout) == (2, "")
    assert err == f"vae-augment: error: cannot write output '{out}': No space left on device\n"
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()

    art = artifact.load_artifact(str(mixed_artifact))
    real_open = builtins.open

    def full_open(path, mode="r", *args, **kwargs):
        if "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(artifact, "open", full_open, raising=False)
    model_dir = tmp_path / "model"
    with pytest.raises(ArtifactError, match=rf"^cannot write the model '{model_dir}': No space "
                                            rf"left on device$"):
        artifact.save_artifact(str(model_dir), art.model, art.encoding)
    assert os.listdir(tmp_path) == []


def test_a_disk_error_from_pyarrow_says_the_reason_in_a_few_words(tmp_path, capsys,
                                                                  mixed_artifact, monkeypatch):
    """An OSError that reaches the CLI's last resort with pyarrow's sentence for a reason:
    the errno's words ("cannot write: Error writing bytes to file. Detail: [errno 28] ..."
    before)."""
    import errno

    from vae_augment import api

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No "
                                    "space left on device")

    monkeypatch.setattr(api, "sample", full)
    code, _, err = run(["sample", tmp_path / "o.parquet", "--model-dir", mixed_artifact,
                        "--n", "3"], capsys)
    assert (code, err) == (2, "vae-augment: error: cannot write: No space left on device\n")


def test_an_output_under_a_file_says_the_file_is_in_the_way(tmp_path, capsys, mixed_artifact,
                                                            mixed_parquet):
    """`afile/out.parquet` (or deeper) said "output directory 'afile' does not exist";
    now it names the file in the way, for `sample`, `balance` and a report folder, before
    any work; a missing folder still says it does not exist."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    want = f"'{afile}' is a file, not a directory"
    code, _, err = run(["sample", afile / "out.parquet", "--model-dir", mixed_artifact,
                        "--n", "5"], capsys)
    assert code == 2 and want in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run(["balance", mixed_parquet, afile / "deeper" / "b.parquet", "--label",
                        "label", "--model-dir", mixed_artifact], capsys)
    assert code == 2 and want in err, err
    code, _, err = run(["balance", mixed_parquet, tmp_path / "b.parquet", "--label", "label",
                        "--model-dir", mixed_artifact, "--report", afile / "report"], capsys)
    assert code == 2 and want in err and not (tmp_path / "b.parquet").exists(), err
    code, _, err = run(["sample", tmp_path / "nowhere" / "out.parquet", "--model-dir",
                        mixed_artifact, "--n", "5"], capsys)
    assert code == 2 and f"output directory '{tmp_path / 'nowhere'}' does not exist" in err
