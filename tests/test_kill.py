"""A real `vae-augment balance` process killed with SIGKILL mid-write loses nothing.

The output is written under a hidden temporary name next to the final path and renamed only
when complete. After a SIGKILL the final path holds either nothing (first run) or the previous
output, byte for byte (run with --overwrite); never a partial file. The orphaned temporary file
is a dotfile, which directory inputs (`io.resolve_inputs`) ignore, and a rerun succeeds.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vae_augment.cli import main
from vae_augment.io import resolve_inputs

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")

# enough synthetic rows that writing takes many seconds: the process is killed long before
BIG_STRATEGY = json.dumps({"a": 186, "b": 4_000_000, "c": 43})


def _exe() -> str:
    exe = os.path.join(os.path.dirname(sys.executable), "vae-augment")
    return exe if os.path.exists(exe) else shutil.which("vae-augment")


def _temps(directory, out_name):
    return glob.glob(os.path.join(str(directory), f".{out_name}.*.tmp"))


def _kill_when(proc, directory, out_name, min_bytes, timeout=300.0):
    """Polls for the writer's temporary file; SIGKILLs the process once it has `min_bytes`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"process ended (code {proc.returncode}) before it could be killed: {err!r}")
        for tmp in _temps(directory, out_name):
            try:
                size = os.path.getsize(tmp)
            except FileNotFoundError:
                continue
            if size >= min_bytes:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
                return tmp, size
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    pytest.fail("the temporary output never appeared")


MID_WRITE = 256 * 1024  # at least one row group of synthetic rows is on disk


@pytest.mark.parametrize("previous,min_bytes", [
    (False, MID_WRITE),  # mid-write, first run: no output at all
    (True, MID_WRITE),   # mid-write over an existing output: the previous one intact
    (True, 0),           # as soon as the temporary file exists
])
def test_sigkill_mid_write(tmp_path, mixed_artifact, mixed_parquet, previous, min_bytes, capsys):
    exe = _exe()
    assert exe, "console script vae-augment is not installed"
    out = tmp_path / "balanced.parquet"
    old = None
    if previous:
        assert main(["balance", str(mixed_parquet), str(out), "--label", "label", "--model-dir",
                     str(mixed_artifact), "--quiet"]) == 0
        old = out.read_bytes()
    argv = [exe, "balance", str(mixed_parquet), str(out), "--label", "label", "--model-dir",
            str(mixed_artifact), "--sampling-strategy", BIG_STRATEGY, "--quiet"]
    if previous:
        argv.append("--overwrite")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        tmp, size = _kill_when(proc, tmp_path, out.name, min_bytes)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    if previous:
        assert out.read_bytes() == old  # previous output intact, byte for byte
        assert pq.read_table(out).num_rows == 3 * 186
    else:
        assert not out.exists()
    if min_bytes:
        # the kill really happened mid-write: the temporary file is a Parquet file without footer
        assert size > 0
        with pytest.raises((pa.ArrowInvalid, OSError)):
            pq.read_table(tmp)
    # the orphan is hidden: a directory input does not pick it up
    assert os.path.basename(tmp).startswith(".")
    listed = resolve_inputs(str(tmp_path)) if previous else []
    assert listed == ([str(out)] if previous else [])
    # and a rerun replaces or creates the output normally
    capsys.readouterr()
    assert main(["balance", str(mixed_parquet), str(out), "--label", "label", "--model-dir",
                 str(mixed_artifact), "--quiet", "--overwrite", "--seed", "1"]) == 0
    assert pq.read_table(out).num_rows == 3 * 186


# a `vae-augment` process that receives SIGTERM (a scheduler's stop, `kill PID`) right after
# a Parquet writer's first write: any (argv[1] "any": the output writer's probe of pyarrow, as
# it opens) or the output's own ("output": rows on disk). `raise_signal`: the handler runs
# before it returns, in the write
_TERM_MID_WRITE = """
import os, signal, sys
import pyarrow.parquet as pq
from vae_augment.cli import main
write = pq.ParquetWriter.write_table
def write_then_terminate(self, *args, **kwargs):
    write(self, *args, **kwargs)
    if sys.argv[1] == "any" or isinstance(self.where, str):
        signal.raise_signal(signal.SIGTERM)
pq.ParquetWriter.write_table = write_then_terminate
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("when,shards", [("any", None), ("output", None), ("output", 2)])
def test_sigterm_mid_write_says_so_and_leaves_nothing(tmp_path, mixed_artifact, when, shards):
    """SIGTERM stops a run as Ctrl-C does: one line, exit 128 + 15, the temporary output
    removed (Python's default left a hidden .tmp orphan of every stopped run, and no word;
    so did Ctrl-C or an error while the writer opened); the same command then runs without
    --overwrite."""
    out = tmp_path / "synthetic.parquet"
    argv = ["sample", str(out), "--model-dir", str(mixed_artifact), "--n", "40", "--quiet"]
    if shards:
        argv += ["--output-shards", str(shards)]
    proc = subprocess.run([sys.executable, "-c", _TERM_MID_WRITE, when, *argv],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert proc.stderr == "vae-augment: terminated\n" and proc.stdout == ""
    assert os.listdir(tmp_path) == []
    assert main(argv) == 0
    assert pq.read_table(out).num_rows == 3 * 40


def test_ctrl_c_while_the_first_checkpoint_writes_its_encoding_leaves_no_tmp(
        tmp_path, mixed_artifact, monkeypatch):
    """Ctrl-C as `fit --checkpoint-every` writes checkpoints/encoding.json (126 KB on churn,
    seen interrupted there) left checkpoints/encoding.json.tmp behind."""
    from vae_augment import training
    from vae_augment.artifact import read_artifact_meta

    encoding, _ = read_artifact_meta(str(mixed_artifact))
    dump = json.dump

    def dump_then_interrupt(obj, f, *args, **kwargs):
        dump(obj, f, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", dump_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        training._write_encoding(str(tmp_path / "checkpoints"), encoding)
    assert os.listdir(tmp_path / "checkpoints") == []
    monkeypatch.undo()
    training._write_encoding(str(tmp_path / "checkpoints"), encoding)
    assert os.listdir(tmp_path / "checkpoints") == ["encoding.json"]
