"""Generate synthetic rows from a trained artifact on any Beam runner.

Example:
    python -m pipelines.sample --output out/ --model-dir runs/churn --n 100000 \\
        --class yes --seed 0 [--runner DataflowRunner ...]

Writes ``out/synthetic-SSSSS-of-NNNNN.parquet``: the rows ``vae-augment sample`` writes for the
same artifact, counts and seed (as a multiset; file order depends on the runner).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pipelines

__all__ = ["build_parser", "run"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipelines.sample", allow_abbrev=False, description=__doc__.split("\n")[0],
                                epilog=pipelines.EPILOG)
    p.add_argument("--output", required=True, help="output directory (local or gs://, s3://, ...)")
    p.add_argument("--model-dir", required=True, help="artifact directory (vae-augment fit)")
    p.add_argument("--n", type=int, required=True, help="rows per class")
    p.add_argument("--class", dest="class_", action="append", metavar="CLASS",
                   help="class to generate; repeatable (default: every class)")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--rows-per-shard", type=int, default=None,
                   help="rows per unit of parallel work [32768]")
    p.add_argument("--guided", action="store_true",
                   help="give each row the model's selection at generation, as balancing "
                        "does (its class guide's redraws; about 3x slower); default: one "
                        "plain draw per row, as `vae-augment sample`")
    pipelines.add_output_args(p, shards_help="output files (0: the runner decides) [0]",
                              dead_letter=False)
    return p


@pipelines.cleans_up
def run(argv: Sequence[str] | None = None) -> dict:
    """Builds and runs the job; returns a summary (Beam counters when the runner has them)."""
    import apache_beam as beam

    from vae_augment.beam import GenerateSynthetic
    from vae_augment.beam._shared import model_meta
    from vae_augment.beam.generate import DEFAULT_ROWS_PER_SHARD
    from vae_augment.errors import VAEAugmentError
    from vae_augment.io import check_partition_by

    args, options = pipelines.parse_args(build_parser(), argv)
    if args.n < 0:
        raise VAEAugmentError(f"`--n` must be a non-negative integer, got {args.n}")
    encoding, _ = model_meta(args.model_dir)
    classes = args.class_ or [str(c) for c in encoding.classes]
    counts = {encoding.classes[encoding.class_index(c)]: args.n for c in classes}
    transform = GenerateSynthetic(
        args.model_dir, counts, args.seed,
        rows_per_shard=args.rows_per_shard or DEFAULT_ROWS_PER_SHARD, guided=args.guided,
    )
    shards = pipelines.num_shards(options, args.num_shards)
    check_partition_by(transform.output_schema, args.partition_by)  # before any output
    output = pipelines.prepare_output(args.output, args.overwrite)
    p = beam.Pipeline(options=options)
    sink = pipelines.write_parquet(p | "Sample" >> transform, pipelines.staging_dir(output),
                                   "synthetic", transform.output_schema, shards,
                                   args.partition_by, label="Write")
    counters = pipelines.finish(p, [sink], output, counters=("synthetic_rows",))
    return {"output": output, "requested": {str(c): n for c, n in counts.items()}, **counters}


if __name__ == "__main__":
    sys.exit(pipelines.main("pipelines.sample", run, parser=build_parser))
