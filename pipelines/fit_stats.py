"""Encoding statistics of Parquet data on any Beam runner (for data that needs a cluster).

Example:
    python -m pipelines.fit_stats --input 'data/*.parquet' --label churn \\
        --output stats/encoding.json [--runner DataflowRunner ...]
    vae-augment fit 'data/*.parquet' --label churn --model-dir runs/big \\
        --encoding stats/encoding.json --streaming

Writes the same ``encoding.json`` as the streaming pass of ``vae-augment fit`` (feature kinds,
vocabularies, quantile knots, tensor scales, classes and counts): each worker folds its row
groups into a `SchemaStats`, and the partial statistics merge
(`vae_augment.stats_merge.merge_stats`). Counts, vocabularies and tensor ranges are exact; the
numeric quantile knots are exact while a column has at most 200,000 values (the reservoir
size) and a uniform-sample estimate beyond that, as in the streaming pass.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import apache_beam as beam

import pipelines

__all__ = ["build_parser", "run", "StatsCombineFn"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipelines.fit_stats", allow_abbrev=False,
                                description=__doc__.split("\n")[0])
    p.add_argument("--input", required=True, help="Parquet file, directory or glob; comma-separated")
    p.add_argument("--output", required=True, help="encoding.json to write (local or gs://, ...)")
    p.add_argument("--label", required=True, help="class label column")
    p.add_argument("--exclude", action="append", default=[], metavar="COL",
                   help="column not to model; repeatable")
    p.add_argument("--categorical", action="append", default=[], metavar="COL",
                   help="integer column to model as a category; repeatable")
    p.add_argument("--numeric", action="append", default=[], metavar="COL",
                   help="integer column to model as a number; repeatable")
    p.add_argument("--max-categories", type=int, default=200,
                   help="most distinct values of a categorical column [200]")
    return p


class StatsCombineFn(beam.CombineFn):
    """Arrow tables -> merged `SchemaStats` -> encoding JSON (a dict)."""

    def __init__(self, schema, label: str, kwargs: dict):
        super().__init__()
        # IPC bytes, not the pickled schema: pickling a pa.Schema renames fixed-size-list
        # children ("element" -> "item"), and the encoding must record the input's exact schema
        self._schema = schema.serialize().to_pybytes()
        self.label, self.kwargs = label, kwargs

    @property
    def schema(self):
        import pyarrow as pa

        return pa.ipc.read_schema(pa.py_buffer(self._schema))

    def create_accumulator(self):
        from vae_augment.schema import SchemaStats

        return SchemaStats(self.schema, self.label, **self.kwargs)

    def add_input(self, acc, table):
        acc.update(table)
        return acc

    def merge_accumulators(self, accs):
        from vae_augment.stats_merge import merge_stats

        accs = list(accs)
        out = accs[0]
        for other in accs[1:]:
            out = merge_stats(out, other, inplace=True)
        return out

    def extract_output(self, acc):
        from vae_augment.stats_merge import encoding_from_stats

        acc.schema = self.schema
        return encoding_from_stats(acc).to_json()


def _schema_arrow(patterns):
    """The schema as `pq.ParquetFile(...).schema_arrow` gives it (what `fit_encoding` records;
    `pq.read_schema` names list children differently)."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    for pattern in patterns:
        found = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
        if found:
            with FileSystems.open(found[0]) as f:
                return pq.ParquetFile(f).schema_arrow
    raise AssertionError("unreachable: input_schema checked the patterns")


def _write_json(doc, path: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(path) as f:
        f.write(json.dumps(doc).encode())
    return path


def run(argv: Sequence[str] | None = None) -> dict:
    """Builds and runs the job; returns ``{"output": path, "rows": n, "classes": {...}}``."""
    from vae_augment.beam import ReadParquetTables, expand_patterns
    from vae_augment.schema import SchemaStats

    args, options = pipelines.parse_args(build_parser(), argv)
    patterns = expand_patterns(args.input)
    pipelines.input_schema(patterns)  # a clear error when nothing matches or is unreadable
    schema = _schema_arrow(patterns)
    kwargs = {"exclude": args.exclude, "categorical": args.categorical,
              "numeric": args.numeric, "max_categories": args.max_categories}
    SchemaStats(schema, args.label, **kwargs)  # argument errors before the job starts
    combine = StatsCombineFn(schema, args.label, kwargs)
    p = beam.Pipeline(options=options)
    written = (
        p
        | "Read" >> ReadParquetTables(patterns)
        | "Stats" >> beam.CombineGlobally(combine)
        | "Write" >> beam.Map(_write_json, args.output)
    )
    pipelines.finish(p, [written])
    from vae_augment.training import load_encoding

    enc = load_encoding(args.output) if "://" not in args.output else None
    summary = {"output": args.output}
    if enc is not None:
        summary["rows"] = int(sum(enc.class_counts.values()))
        summary["classes"] = {str(c): n for c, n in enc.class_counts.items()}
    return summary


if __name__ == "__main__":
    import sys

    sys.exit(pipelines.main("fit_stats", run))
