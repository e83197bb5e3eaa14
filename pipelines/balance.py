"""Balance Parquet data with a trained artifact on any Beam runner.

Example:
    python -m pipelines.balance --input 'data/*.parquet' --output out/ \\
        --model-dir runs/churn --label churn --seed 0 [--runner DataflowRunner ...]

Writes ``out/real-SSSSS-of-NNNNN.parquet`` (every input row once, ``is_synthetic=False``) and
``out/synthetic-SSSSS-of-NNNNN.parquet`` (the rows ``vae-augment balance`` would generate for
the same artifact, data and seed), all in the input schema plus ``is_synthetic``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pipelines

__all__ = ["build_parser", "run"]

COUNTERS = ("real_rows", "synthetic_rows")  # in the summary, 0 when nothing counted them


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipelines.balance", allow_abbrev=False, description=__doc__.split("\n")[0],
                                epilog=pipelines.EPILOG)
    p.add_argument("--input", required=True, help="Parquet file, directory or glob; comma-separated")
    p.add_argument("--output", required=True, help="output directory (local or gs://, s3://, ...)")
    p.add_argument("--model-dir", required=True, help="artifact directory (vae-augment fit)")
    p.add_argument("--label", required=True, help="class label column")
    p.add_argument("--sampling-strategy", default="auto",
                   help="auto | minority | 'not minority' | 'not majority' | all | float | JSON "
                        "| a .json file holding one")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--rows-per-shard", type=int, default=None,
                   help="synthetic rows per unit of parallel work [32768]")
    pipelines.add_output_args(p, shards_help="files per output part (0: the runner decides) [0]")
    return p


@pipelines.cleans_up
def run(argv: Sequence[str] | None = None) -> dict:
    """Builds and runs the job; returns a summary (Beam counters when the runner has them)."""
    import apache_beam as beam
    import pyarrow as pa

    from vae_augment.beam import BalanceClasses, ReadParquetTables
    from vae_augment.beam.balance import own_output_schema
    from vae_augment.beam.generate import DEFAULT_ROWS_PER_SHARD
    from vae_augment.beam.rows import schema_difference
    from vae_augment.errors import SchemaError
    from vae_augment.io import check_partition_by, output_schema, schema_without_views

    args, options = pipelines.parse_args(build_parser(), argv)
    files, input_schema = pipelines.read_inputs(args.input)
    output_schema(input_schema)  # a balanced output as input: said as the CLI says it
    transform = BalanceClasses(
        args.model_dir, args.label, args.sampling_strategy, args.seed,
        rows_per_shard=args.rows_per_shard or DEFAULT_ROWS_PER_SHARD, flatten=False,
        input_schema=input_schema,  # an image column held as a list is written as one
    )
    # fields declared nullable or not alike: the output declares them as the input does
    problem = schema_difference(transform.input_schema, schema_without_views(input_schema),
                                nullability=False)
    if problem is not None:
        raise SchemaError(
            f"input does not match the schema artifact '{args.model_dir}' was trained on: {problem}"
        )
    shards = pipelines.num_shards(options, args.num_shards)
    # the model's types, with the input's metadata, as the CLI writes (real rows keep it too)
    tables_schema = own_output_schema(input_schema, transform.output_schema)
    schema = pa.schema([f.with_nullable(input_schema.field(f.name).nullable)
                        if f.name in input_schema.names else f for f in tables_schema],
                       metadata=tables_schema.metadata)
    check_partition_by(schema, args.partition_by)  # before any output
    output = pipelines.prepare_output(args.output, args.overwrite, files,
                                      dead_letter=args.dead_letter)
    if pipelines.runs_in_process(options):
        # this process is the worker: import TensorFlow and load the model while the
        # pipeline is built and the data read (the synthetic rows wait for the counts)
        transform.warm_up()
    if args.dead_letter:
        transform = transform.with_exception_handling()
    p = beam.Pipeline(options=options)
    # (path, table) elements: a bad row's error and dead letter name its file
    result = (p | "Read" >> ReadParquetTables(files, validate=False, with_filename=True)
              | "Balance" >> transform)
    parts, bad = result if args.dead_letter else (result, None)
    staged = pipelines.staging_dir(output)  # moved into `output` once the run succeeds
    parts_out = [("real", parts.real), ("synthetic", parts.synthetic)]
    declared = [f.nullable for f in schema]  # the input's, where real or synthetic differ
    if declared != [f.nullable for f in tables_schema] or declared != [
            f.nullable for f in transform.output_schema]:
        parts_out = [(name, part | f"{name.title()}AsInput" >> beam.Map(
            lambda t, s: t.cast(s), schema_without_views(schema))) for name, part in parts_out]
    sinks = [pipelines.write_parquet(part, staged, name, schema, shards, args.partition_by)
             for name, part in parts_out]
    if bad is not None:
        sinks.append(pipelines.write_dead_letter(bad, args.dead_letter))
    counters = pipelines.finish(p, sinks, output, dead_letter=args.dead_letter,
                                counters=COUNTERS + (("bad_rows",) if args.dead_letter else ()))
    return {"output": output, **counters}


if __name__ == "__main__":
    sys.exit(pipelines.main("pipelines.balance", run, parser=build_parser))
