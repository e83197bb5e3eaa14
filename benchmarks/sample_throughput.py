"""Benchmark: `sample` throughput to Parquet for a churn model (issue: core, target >= 300k rows/s).

Same run, same process: (1) the full product path `vae_augment.api.sample(...)` to a Parquet
file, (2) the model's decoder alone (prior draw + decoder + likelihood sampling, no decoding
to Arrow), (3) pyarrow writing the same rows to Parquet with the same writer. Medians of
--repeats runs.

    .venv/bin/python benchmarks/sample_throughput.py --rows 1000000 --repeats 3
    .venv/bin/python benchmarks/sample_throughput.py --rows 1000000 --repeats 3 --also-guided

`sample` draws once per row unless ``guided=True`` (what balancing generates: the class
guide's redraws); `--also-guided` times that too, alternating with the plain runs, on the
same model.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "examples", "data", "churn.parquet"))
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--fit-json", default="{}",
                   help='extra vae_augment.api.fit kwargs, e.g. the guided setting: '
                        '\'{"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0}\'')
    p.add_argument("--also-guided", action="store_true",
                   help="also time sample(..., guided=True), alternating with the plain runs")
    args = p.parse_args(argv)

    import pyarrow as pa
    import tensorflow as tf

    from vae_augment.api import fit, sample
    from vae_augment.io import AtomicParquetWriter
    from vae_augment.sampler import BLOCK_ROWS, Sampler, block_seed

    tmp = tempfile.mkdtemp(prefix="vae_bench_")
    art = fit(args.data, label="churn", model_dir=os.path.join(tmp, "model"), seed=0,
              epochs=args.epochs, **json.loads(args.fit_json))
    print(f"model: hidden={art.model.hidden} latent={art.model.latent_dim} "
          f"candidates={art.model.candidates} guide_iterations={art.model.guide_iterations}",
          file=sys.stderr)
    counts = {"yes": args.rows}
    sample(art, {"yes": BLOCK_ROWS}, seed=123)  # warm-up: trace the generator once

    full, decoder, write, guided = [], [], [], []
    if args.also_guided:
        sample(art, {"yes": BLOCK_ROWS}, seed=123, guided=True)  # trace the guided one too
    sampler = Sampler(art, guided=False)  # as sample()
    gen = tf.function(lambda y, s: art.model.generate(y, s, candidates=1))  # as sample()
    y = tf.fill([BLOCK_ROWS], 1)
    gen(y, block_seed(0, 1, 0))
    table = None
    for r in range(args.repeats):
        out = os.path.join(tmp, f"synth{r}.parquet")
        t = time.perf_counter()
        n = sample(art, counts, out, seed=r)
        full.append(n / (time.perf_counter() - t))
        if args.also_guided:
            t = time.perf_counter()
            n = sample(art, counts, out, seed=r, guided=True, overwrite=True)
            guided.append(n / (time.perf_counter() - t))

        blocks = -(-args.rows // BLOCK_ROWS)
        t = time.perf_counter()
        for b in range(blocks):
            out_t = gen(y, block_seed(r, 1, b))
            _ = [v.numpy() for v in out_t.values()]
        decoder.append(blocks * BLOCK_ROWS / (time.perf_counter() - t))

        if table is None:
            table = pa.Table.from_batches(list(sampler.iter_counts(counts, seed=r)))
        t = time.perf_counter()
        with AtomicParquetWriter(os.path.join(tmp, f"copy{r}.parquet"), table.schema) as w:
            w.write(table)
        write.append(table.num_rows / (time.perf_counter() - t))

    med = {k: statistics.median(v) for k, v in (("full", full), ("decoder", decoder), ("write", write))}
    print(f"rows per run: {args.rows}, repeats: {args.repeats}, cpu cores: {os.cpu_count()}")
    print(f"vae_augment.api.sample -> Parquet : {med['full']:>12,.0f} rows/s (runs: "
          + ", ".join(f"{v:,.0f}" for v in full) + ")")
    print(f"decoder only (generate, no Arrow)  : {med['decoder']:>12,.0f} rows/s")
    print(f"pyarrow Parquet write only         : {med['write']:>12,.0f} rows/s")
    print(f"sample / decoder-only ratio        : {med['full'] / med['decoder']:.2f}")
    print(f"target >= 300,000 rows/s           : {'met' if med['full'] >= 300_000 else 'NOT met'}")
    if guided:
        g = statistics.median(guided)
        print(f"sample(guided=True) -> Parquet     : {g:>12,.0f} rows/s (runs: "
              + ", ".join(f"{v:,.0f}" for v in guided) + f"); {g / med['full']:.2f}x plain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
