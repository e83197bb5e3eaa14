"""Benchmark: `pipelines.balance` vs Beam's own Parquet copy, throughput and peak memory.

Builds churn rows repeated to each size (8 files, 65,536-row row groups), trains a tiny model
once (`vae_augment.api.fit`, few epochs), then for each size and repeat runs, each in its own
subprocess on the default local runner (FnApiRunner, in-process):

* ``copy``:    ``Create(paths) | ReadAllFromParquetBatched() | WriteToParquetBatched()``
* ``balance``: ``python -m pipelines.balance`` (``run()`` called in the child), strategy auto

and records wall time of the pipeline (construction + run, model loading included) and the
child's peak RSS (VmHWM from /proc; ``ru_maxrss`` would include the parent's size, inherited across fork+exec). Writes a Markdown table to
``benchmarks/results/beam.md``.

Usage:
    python benchmarks/beam_balance.py [--sizes 1000000,4000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHURN_CANDIDATES = [
    os.path.join(REPO, "examples", "data", "churn.parquet"),
    os.path.join(REPO, "..", "shared", "data", "churn.parquet"),
]
FILES = 8
ROW_GROUP = 65536


def churn_path() -> str:
    for p in CHURN_CANDIDATES:
        if os.path.exists(p):
            return p
    raise SystemExit("churn.parquet not found in examples/data or ../shared/data")


def make_data(n: int, folder: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if os.path.isdir(folder) and len(glob.glob(os.path.join(folder, "*.parquet"))) == FILES:
        return
    os.makedirs(folder, exist_ok=True)
    table = pq.read_table(churn_path())
    per = n // FILES
    reps = -(-per // table.num_rows)
    block = pa.concat_tables([table] * reps).slice(0, per).combine_chunks()
    for i in range(FILES):
        rows = per if i < FILES - 1 else n - per * (FILES - 1)
        part = block if rows == per else pa.concat_tables([block, table]).slice(0, rows)
        pq.write_table(part, os.path.join(folder, f"part-{i:03d}.parquet"), row_group_size=ROW_GROUP)


def train_model(model_dir: str) -> None:
    if os.path.exists(os.path.join(model_dir, "manifest.json")):
        return
    from vae_augment.api import fit

    fit(churn_path(), label="churn", model_dir=model_dir, epochs=5, batch_size=256,
        latent_dim=8, hidden=(64, 64), seed=0)


# ------------------------------------------------------------------ child processes
def child(mode: str, src: str, out: str, model_dir: str) -> None:
    import resource

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    logging.disable(logging.WARNING)
    import pyarrow.parquet as pq

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    paths = sorted(glob.glob(os.path.join(src, "*.parquet")))
    rows_in = sum(pq.read_metadata(p).num_rows for p in paths)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    if mode == "copy":
        import apache_beam as beam
        from apache_beam.io.parquetio import ReadAllFromParquetBatched, WriteToParquetBatched

        schema = pq.read_schema(paths[0])
        with beam.Pipeline(runner="FnApiRunner") as p:
            _ = (p | beam.Create(paths) | ReadAllFromParquetBatched()
                 | WriteToParquetBatched(os.path.join(out, "part"), schema,
                                         file_name_suffix=".parquet"))
    else:
        sys.path.insert(0, REPO)
        from pipelines import balance

        balance.run(["--input", src, "--output", out, "--model-dir", model_dir,
                     "--label", "churn", "--seed", "0"])
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_start
    rows_out = sum(pq.read_metadata(p).num_rows for p in glob.glob(os.path.join(out, "*.parquet")))
    peak = _peak_rss_mb()
    print(json.dumps({"mode": mode, "seconds": seconds, "cpu_seconds": cpu, "rows_in": rows_in,
                      "rows_out": rows_out, "peak_rss_mb": peak}))
    shutil.rmtree(out, ignore_errors=True)


def run_child(mode, src, out, model_dir) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--input", src,
           "--output", out, "--model-dir", model_dir]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ driver
def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), MiB. Unlike ``ru_maxrss`` it starts afresh at
    exec, so a child does not report its parent's size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,4000000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", default=None, help="data/model cache [a temp dir]")
    ap.add_argument("--results", default=os.path.join(REPO, "benchmarks", "results", "beam.md"))
    ap.add_argument("--child", choices=["copy", "balance"], help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.input, args.output, args.model_dir)
        return

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    work = args.workdir or tempfile.mkdtemp(prefix="vae-beam-bench-")
    os.makedirs(work, exist_ok=True)
    model_dir = os.path.join(work, "model")
    train_model(model_dir)
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    results: dict[int, dict[str, list[dict]]] = {}
    for n in sizes:
        src = os.path.join(work, f"data_{n}")
        make_data(n, src)
        results[n] = {"copy": [], "balance": []}
        for r in range(args.repeats):
            for mode in ("copy", "balance"):  # interleaved so both see the same machine load
                res = run_child(mode, src, os.path.join(work, f"out_{mode}"), model_dir)
                results[n][mode].append(res)
                print(f"n={n} repeat={r} {mode}: {res['seconds']:.2f}s "
                      f"{res['rows_out']} rows out, peak {res['peak_rss_mb']:.0f} MiB", flush=True)
    load_after = os.getloadavg()
    write_report(args, sizes, results, load_before, load_after)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


def write_report(args, sizes, results, load_before, load_after) -> None:
    med = statistics.median
    lines = [
        "# Beam: `pipelines.balance` vs Beam's Parquet copy",
        "",
        f"Command: `python benchmarks/beam_balance.py --sizes {args.sizes} --repeats {args.repeats}`  ",
        f"Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
        f"load average {load_before[0]:.1f} at start, {load_after[0]:.1f} at end "
        "(shared machine: other engineers' jobs were running, so absolute figures are noisy; "
        "compare the same-run ratios).  ",
        "Runner: FnApiRunner (the jobs' default), 1 in-process worker, each run in a fresh "
        "subprocess. Input: churn rows repeated, 8 files, 65,536-row row groups. Model: tiny "
        "(latent 8, hidden 64x64, 5 epochs). Strategy `auto` (churn is 86% `no`), so the balance "
        "job writes ~1.72 rows per input row. Time covers pipeline construction and run, "
        "including TensorFlow import and model loading in the balance job.",
        "",
        "| rows in | job | median wall s | median CPU s | rows out | input rows/s | output rows/s "
        "| output rows/CPU-s | peak RSS MiB (max) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    summary = []
    for n in sizes:
        for mode in ("copy", "balance"):
            runs = results[n][mode]
            s = med([r["seconds"] for r in runs])
            cpu = med([r["cpu_seconds"] for r in runs])
            out = runs[0]["rows_out"]
            peak = max(r["peak_rss_mb"] for r in runs)
            lines.append(f"| {n:,} | {mode} | {s:.2f} | {cpu:.2f} | {out:,} | {n / s:,.0f} | "
                         f"{out / s:,.0f} | {out / cpu:,.0f} | {peak:.0f} |")
        c = results[n]["copy"]
        b = results[n]["balance"]
        ratio_in = med([(n / x["seconds"]) / (n / y["seconds"]) for x, y in zip(b, c)])
        ratio_out = med([(x["rows_out"] / x["seconds"]) / (y["rows_out"] / y["seconds"]) for x, y in zip(b, c)])
        ratio_cpu = med([(x["rows_out"] / x["cpu_seconds"]) / (y["rows_out"] / y["cpu_seconds"])
                         for x, y in zip(b, c)])
        summary.append((n, ratio_in, ratio_out, ratio_cpu))
    lines += ["", "Same-run ratios, balance / copy (median over repeats, each repeat paired):", ""]
    lines += ["| rows in | input rows/s (wall) | output rows/s (wall) | output rows per CPU-s |",
              "|---:|---:|---:|---:|"]
    lines += [f"| {n:,} | {a:.2f}x | {b:.2f}x | {c:.2f}x |" for n, a, b, c in summary]
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        pb = [max(r["peak_rss_mb"] for r in results[n]["balance"]) for n in (lo, hi)]
        pc = [max(r["peak_rss_mb"] for r in results[n]["copy"]) for n in (lo, hi)]
        lines += [
            "",
            f"Peak memory, {lo:,} -> {hi:,} rows: balance {pb[0]:.0f} -> {pb[1]:.0f} MiB, "
            f"copy {pc[0]:.0f} -> {pc[1]:.0f} MiB.",
        ]
    lines += ["", "Raw runs (JSON):", "", "```"]
    for n in sizes:
        for mode in ("copy", "balance"):
            for r in results[n][mode]:
                lines.append(json.dumps({"n": n, **{k: round(v, 3) if isinstance(v, float) else v
                                                    for k, v in r.items()}}))
    lines += ["```", ""]
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
