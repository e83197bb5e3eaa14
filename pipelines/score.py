"""Append anomaly scores (and optionally latent means) to Parquet rows on any Beam runner.

Example:
    python -m pipelines.score --input 'data/*.parquet' --output scored/ \\
        --model-dir runs/churn [--latent] [--method iwae --k 32] [--kind marginal|label
        [--looks-like]] [--runner ...]

Writes ``scored/scored-SSSSS-of-NNNNN.parquet``: every input row with ``anomaly_score``
(float32, higher = less typical of its class; with ``--kind marginal``, of the data whatever
the class, and rows need no label; ``--kind label``: -log p(y | x)) and, with ``--latent``, ``latent`` (the posterior mean,
fixed-size list<float32>).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pipelines

__all__ = ["build_parser", "run"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipelines.score", allow_abbrev=False, description=__doc__.split("\n")[0],
                                epilog=pipelines.EPILOG)
    p.add_argument("--input", required=True, help="Parquet file, directory or glob; comma-separated")
    p.add_argument("--output", required=True, help="output directory (local or gs://, s3://, ...)")
    p.add_argument("--model-dir", required=True, help="artifact directory (vae-augment fit)")
    p.add_argument("--latent", action="store_true", help="also append the latent means")
    p.add_argument("--no-score", action="store_true", help="do not append the anomaly score")
    p.add_argument("--score-column", default="anomaly_score", help="score column [anomaly_score]")
    p.add_argument("--latent-column", default="latent", help="latent column [latent]")
    p.add_argument("--method", choices=["elbo", "iwae"], default="elbo",
                   help="negative ELBO, or negative importance-weighted bound [elbo]")
    p.add_argument("--k", type=int, default=16, help="importance samples for iwae [16]")
    p.add_argument("--seed", type=int, default=0, help="seed for iwae [0]")
    p.add_argument("--unseen-categories", choices=["error", "inf"], default="error",
                   help="a category the model never saw: a bad row, or a score of +inf (and a "
                        "NaN latent) [error]")
    p.add_argument("--kind", choices=["conditional", "marginal", "label"], default="conditional",
                   help="the score of x given its label; of x alone, -log sum_c p(c) p(x | c), "
                        "so rows need no label (it is not read; not with --latent); or of the "
                        "label given x, -log p(y | x) [conditional]")
    p.add_argument("--looks-like", action="store_true",
                   help="with --kind label: also append the class each row most resembles, "
                        "the argmax of its class posterior p(c | x)")
    p.add_argument("--looks-like-column", default="looks_like",
                   help="that column's name with --looks-like [looks_like]")
    pipelines.add_output_args(p, shards_help="output files (0: the runner decides) [0]")
    return p


def _count_scored(table):
    """Counts the rows written (``scored_rows`` in the summary); passes `table` on."""
    import apache_beam as beam

    beam.metrics.Metrics.counter("vae_augment", "scored_rows").inc(table.num_rows)
    return table


def _check_new_columns(args, input_schema) -> None:
    """The appended columns' names, checked with this job's flags (the transforms name
    their own `column` argument)."""
    from vae_augment.beam._shared import model_meta
    from vae_augment.errors import SchemaError, VAEAugmentError, arg

    names = [(flag, name) for flag, name, on in (
        ("score_column", args.score_column, not args.no_score),
        ("latent_column", args.latent_column, args.latent),
        ("looks_like_column", args.looks_like_column, args.looks_like)) if on]
    trained = model_meta(args.model_dir)[0].schema.names
    for flag, name in names:
        if not name:
            raise VAEAugmentError(f"{arg(flag)} must be a non-empty column name")
        if name in trained:
            raise SchemaError(f"{arg(flag)} '{name}' is a column of the data the model was "
                              f"trained on; give the new column another name")
        if name in input_schema.names:
            raise SchemaError(f"{arg(flag)} '{name}': the input already has a column of that "
                              f"name; give the new column another name")
    for i, (flag, name) in enumerate(names):
        for other, name2 in names[i + 1:]:
            if name == name2:
                raise VAEAugmentError(f"{arg(flag)} and {arg(other)} are both '{name}'; give "
                                      f"them different names")


@pipelines.cleans_up
def run(argv: Sequence[str] | None = None) -> dict:
    """Builds and runs the job; returns a summary (Beam counters when the runner has them)."""
    import apache_beam as beam

    from vae_augment.beam import EncodeLatent, ReadParquetTables, ScoreAnomalies
    from vae_augment.errors import VAEAugmentError
    from vae_augment.io import check_partition_by

    args, options = pipelines.parse_args(build_parser(), argv)
    if args.no_score and not args.latent:
        raise VAEAugmentError("nothing to append: `--no-score` needs `--latent`")
    if args.kind != "conditional" and args.no_score:
        raise VAEAugmentError("`--kind` is a setting of the score: not with `--no-score`")
    if args.kind == "marginal" and args.latent:
        raise VAEAugmentError("`--kind marginal` scores rows without their label, and "
                              "`--latent` needs it (the encoder is conditioned on the class): "
                              "encode them in another run")
    if args.looks_like and (args.kind != "label" or args.no_score):
        raise VAEAugmentError("`--looks-like` names the class each row most resembles, from "
                              "the class posterior that `--kind label` scores compute")
    files, schema = pipelines.read_inputs(args.input)
    _check_new_columns(args, schema)
    steps = []
    if args.latent:
        steps.append(("Encode", EncodeLatent(args.model_dir, column=args.latent_column,
                                             unseen=args.unseen_categories)))
    if not args.no_score:
        steps.append(("Score", ScoreAnomalies(
            args.model_dir, column=args.score_column, method=args.method, k=args.k, seed=args.seed,
            unseen=args.unseen_categories, kind=args.kind,
            looks_like_column=args.looks_like_column if args.looks_like else None,
        )))
    steps[0][1].check_input_schema(schema)  # before any output, as pipelines.balance does
    for _, step in steps:
        schema = step.output_schema(schema)
    shards = pipelines.num_shards(options, args.num_shards)
    check_partition_by(schema, args.partition_by)  # before any output
    output = pipelines.prepare_output(args.output, args.overwrite, files,
                                      dead_letter=args.dead_letter)
    p = beam.Pipeline(options=options)
    # (path, table) elements: a bad row's error and dead letter name its file (the first
    # step finds every bad row: the steps check rows alike; it passes plain tables on)
    tables = p | "Read" >> ReadParquetTables(files, validate=False, with_filename=True)
    dead = []
    for name, step in steps:
        if args.dead_letter:
            tables, bad = tables | name >> step.with_exception_handling()
            dead.append(bad)
        else:
            tables = tables | name >> step
    sinks = [pipelines.write_parquet(tables | "CountScored" >> beam.Map(_count_scored),
                                     pipelines.staging_dir(output),
                                     "scored", schema, shards, args.partition_by, label="Write")]
    if dead:
        bad = tuple(dead) | "AllBad" >> beam.Flatten()
        sinks.append(pipelines.write_dead_letter(bad, args.dead_letter))
    counters = pipelines.finish(p, sinks, output, dead_letter=args.dead_letter,
                                counters=("scored_rows",) + (("bad_rows",) if dead else ()))
    return {"output": output, **counters}


if __name__ == "__main__":
    sys.exit(pipelines.main("pipelines.score", run, parser=build_parser))
