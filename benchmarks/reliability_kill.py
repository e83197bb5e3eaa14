"""SIGKILL a real `vae-augment balance` at random moments; classify what is left at the output.

Every trial runs over an existing output with --overwrite and is killed after a uniformly
random delay between 0 and 1.2x the duration of an uninterrupted run. The output afterwards
must be either the previous file (byte for byte) or the complete new output, byte-identical to
an uninterrupted run with the same seed. Anything else is counted as corrupt.

    .venv/bin/python benchmarks/reliability_kill.py --trials 12 --seed 0

Prints a Markdown table (also used by benchmarks/results/reliability.md).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--rows", type=int, default=300_000, help="synthetic rows of class b")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import pyarrow.parquet as pq

    from tests.conftest import FAST, make_mixed_table
    from vae_augment.api import fit

    rng = random.Random(args.seed)
    exe = os.path.join(os.path.dirname(sys.executable), "vae-augment")
    work = pathlib.Path(tempfile.mkdtemp(prefix="vae_kill_"))
    try:
        src = work / "in.parquet"
        pq.write_table(make_mixed_table(300), src)
        model = work / "model"
        fit(str(src), label="label", model_dir=str(model), seed=0, **FAST)
        strategy = json.dumps({"a": 186, "b": args.rows, "c": 43})
        base = [exe, "balance", str(src), None, "--label", "label", "--model-dir", str(model),
                "--quiet", "--seed", "7"]

        def cmd(out, strat=None, overwrite=False):
            c = list(base)
            c[3] = str(out)
            if strat:
                c += ["--sampling-strategy", strat]
            return c + (["--overwrite"] if overwrite else [])

        previous = work / "previous.parquet"
        subprocess.run(cmd(previous), check=True, capture_output=True)
        reference = work / "reference.parquet"
        t0 = time.perf_counter()
        subprocess.run(cmd(reference, strategy), check=True, capture_output=True)
        full = time.perf_counter() - t0
        prev_bytes, ref_bytes = previous.read_bytes(), reference.read_bytes()

        outcomes = {"previous intact": 0, "complete new output": 0, "corrupt": 0}
        orphans = 0
        delays = []
        for i in range(args.trials):
            d = work / f"t{i}"
            d.mkdir()
            out = d / "out.parquet"
            out.write_bytes(prev_bytes)
            delay = rng.uniform(0.0, 1.2 * full)
            delays.append(delay)
            proc = subprocess.Popen(cmd(out, strategy, overwrite=True), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            got = out.read_bytes() if out.exists() else b""
            if got == prev_bytes:
                outcomes["previous intact"] += 1
            elif got == ref_bytes:
                outcomes["complete new output"] += 1
            else:
                outcomes["corrupt"] += 1
            orphans += sum(1 for p in d.iterdir() if p.name.startswith("."))
        print(f"uninterrupted run: {full:.1f} s for {args.rows + 186 + 43 + 300} rows; "
              f"kill delays uniform in [0, {1.2 * full:.1f}] s; {args.trials} trials")
        print()
        print("| outcome after SIGKILL | trials |")
        print("| --- | --- |")
        for k, v in outcomes.items():
            print(f"| {k} | {v} |")
        print(f"| hidden orphan temp files left (ignored by directory inputs) | {orphans} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
