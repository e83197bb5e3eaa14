"""Encoding statistics of Parquet data on any Beam runner (for data that needs a cluster).

Example:
    python -m pipelines.fit_stats --input 'data/*.parquet' --label churn \\
        --output stats/encoding.json [--runner DataflowRunner ...]
    vae-augment fit 'data/*.parquet' --label churn --model-dir runs/big \\
        --encoding stats/encoding.json --streaming

Writes the same ``encoding.json`` as the streaming passes of ``vae-augment fit`` (feature
kinds, vocabularies, quantile knots, tensor scales, classes and counts, and the constraints
between numeric columns): each worker folds its row groups into a `SchemaStats`, and the
partial statistics merge (`vae_augment.stats_merge.merge_stats`). Counts, vocabularies and
tensor ranges are exact; the numeric quantile knots are exact while a column has at most
200,000 values (the reservoir size) and a uniform-sample estimate beyond that, as in the
streaming pass. The constraints (``--constraint``, default ``auto``) come from a second
combine over the same rows, given the merged encoding (`vae_augment.constraints
.RelationStats`, also mergeable); ``fit --encoding`` with the same ``--constraint`` keeps them
and makes no pass of its own.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence

import apache_beam as beam

import pipelines

__all__ = ["build_parser", "run", "StatsCombineFn", "RelationStatsFn", "MergeRelationStats"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipelines.fit_stats", allow_abbrev=False,
                                description=__doc__.split("\n")[0], epilog=pipelines.EPILOG)
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
    p.add_argument("--constraint", action="append", default=[], metavar="'A <= B'",
                   help="an inequality between two numeric columns that synthetic rows keep; "
                        "repeatable; 'auto' (the default): every one that holds in all rows "
                        "and the columns' ranges alone would not keep, plus derived columns "
                        "(a numeric column a linear function of another), linked columns (a "
                        "category held exactly where a numeric column holds its most frequent "
                        "value or is null), dependent categories (a categorical column a "
                        "function of another) and class null rules (a column null in every "
                        "row of a class, or in none, is so in its generated rows); 'none': "
                        "none of these")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    return p


class StatsCombineFn(beam.CombineFn):
    """Arrow tables (or (path, table) pairs) -> merged `SchemaStats` -> encoding JSON (a
    dict)."""

    def __init__(self, schema, label: str, kwargs: dict, *, name_files: bool = False):
        super().__init__()
        self.name_files = name_files  # a value error names its file (inputs of several)
        # IPC bytes, not the pickled schema: pickling a pa.Schema renames fixed-size-list
        # children ("element" -> "item"), and the encoding must record the input's exact schema
        self._schema = schema.serialize().to_pybytes()
        self.label, self.kwargs = label, kwargs
        from vae_augment.schema import _unsized_list

        # variable-length list columns: their rows are checked one by one, and a bad one is
        # counted in its file when the footer tells where the row group starts
        self.checks_rows = any(_unsized_list(f, schema) for f in schema)

    @property
    def schema(self):
        import pyarrow as pa

        return pa.ipc.read_schema(pa.py_buffer(self._schema))

    def create_accumulator(self):
        from vae_augment.schema import SchemaStats

        return SchemaStats(self.schema, self.label, **self.kwargs)

    def add_input(self, acc, named_table):
        from vae_augment.errors import SchemaError
        from vae_augment.io import in_file

        # (path, table) from ReadParquetTables(with_filename=True), or a bare table
        path, table = named_table if isinstance(named_table, tuple) else (None, named_table)
        # a row group's rows: counted in the file when a row is named and the file tells
        # where the row group starts (`row_group_start`), else within the row group
        where = None
        if self.checks_rows and path is not None:
            from vae_augment.beam.parquet import row_group_start

            def where() -> tuple[int, str]:
                start = row_group_start(path, table, read=True)
                return (0, " of its row group") if start is None else (start, "")
        try:
            acc.update(table, first_row=0, within=" of its row group", where=where,
                       source=path if self.name_files else None)
        except SchemaError as exc:
            if not self.name_files or path is None:
                raise
            raise in_file(path, exc) from exc
        return acc

    def merge_accumulators(self, accs):
        from vae_augment.stats_merge import merge_stats

        accs = list(accs)
        out = accs[0]
        for other in accs[1:]:
            out = merge_stats(out, other, inplace=True)
        return out

    def extract_output(self, acc):
        from vae_augment.io import schema_without_views
        from vae_augment.stats_merge import encoding_from_stats

        acc.schema = schema_without_views(self.schema)  # as `SchemaStats` holds it
        return encoding_from_stats(acc).to_json()


class RelationStatsFn(beam.DoFn):
    """Arrow table -> its `RelationStats` over the columns a `ConstraintSpec` needs, counted
    per class of the encoding (the side input: the encoding JSON of `StatsCombineFn`)."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self._cached = (None, None, None)

    def _prepared(self, encoding_json):
        if self._cached[0] is not encoding_json:
            from vae_augment.encoding import Encoding

            encoding = Encoding.from_json(encoding_json)
            self._cached = (encoding_json, encoding, self.spec.columns(encoding)
                            if self.spec.needs_pass(encoding) else None)
        return self._cached[1:]

    def process(self, table, encoding_json):
        from vae_augment.constraints import RelationStats, link_columns, update_relation_stats

        encoding, names = self._prepared(encoding_json)
        if names is not None:
            # (constructed here: Beam infers the output's coder from this call)
            stats = RelationStats(names, len(encoding.classes),
                                  link_columns(encoding, names) if self.spec.auto else None)
            update_relation_stats(stats, table, encoding)
            yield stats


class MergeRelationStats(beam.CombineFn):
    """`RelationStats` -> one merged `RelationStats` (None when there were none)."""

    def create_accumulator(self):
        return None

    def add_input(self, acc, stats):
        return self.merge_accumulators([acc, stats])

    def merge_accumulators(self, accs):
        out = None
        for acc in accs:
            if acc is not None:
                out = acc if out is None else out.merge(acc)
        return out

    def extract_output(self, acc):
        return acc


def _with_constraints(encoding_json, spec, stats):
    """The encoding JSON with the relations, derived and linked columns and dependencies
    `spec` resolves to from `stats`."""
    from vae_augment.constraints import constraint_spec
    from vae_augment.encoding import Encoding

    encoding = Encoding.from_json(encoding_json)
    spec = constraint_spec(spec, encoding)  # a named integer column the statistics made a category
    return encoding.with_rules(spec.rules(stats, encoding), spec.key).to_json()


def _check_constraint_columns(spec, stats) -> None:
    """Errors for a named constraint column that cannot be numeric, from the kinds
    `SchemaStats` (`stats`, before any row) gives the columns; an integer column the
    statistics make a category is only found at the end, by `_with_constraints`."""
    from vae_augment.errors import SchemaError

    for r in spec.given:
        for name in (r.left, r.right):
            col = stats.columns.get(name)
            if name == stats.label:
                what = "the label"
            elif col is None:
                what = "excluded" if name in stats.exclude else "not a column"
            elif name in stats.force_categorical or col.kind not in ("int", "numeric"):
                what = f"a {'categorical' if col.kind == 'int' else col.kind} column"
            else:
                continue
            raise SchemaError(f"constraint '{r}': '{name}' is {what}; constraints compare "
                              "numeric columns")


def _schema_arrow(path: str):
    """The schema as `pq.ParquetFile(...).schema_arrow` gives it (what `fit_encoding` records;
    `pq.read_schema` names list children differently)."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.io import partition_schema

    with FileSystems.open(path) as f:
        return partition_schema(pq.ParquetFile(f).schema_arrow, path)


def _check_output(path: str, overwrite: bool) -> None:
    """As the other jobs: an existing `--output` only with `--overwrite`; its (local) parent
    directory must exist."""
    from apache_beam.io.filesystems import FileSystems

    from vae_augment.errors import InputError

    if "://" not in path:
        if os.path.isdir(path):
            raise InputError(f"`--output` '{path}' is a directory; give a JSON file path")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise InputError(f"`--output` parent directory '{parent}' does not exist")
    if not overwrite and FileSystems.exists(path):
        raise InputError(f"`--output` '{path}' already exists; pass --overwrite to replace it")


def _write_json(doc, path: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(path) as f:
        f.write(json.dumps(doc).encode())
    return path


def run(argv: Sequence[str] | None = None) -> dict:
    """Builds and runs the job; returns ``{"output": path, "rows": n, "classes": {...}}``."""
    from vae_augment.beam import ReadParquetTables
    from vae_augment.constraints import constraint_spec
    from vae_augment.schema import SchemaStats, warn_pandas_index

    args, options = pipelines.parse_args(build_parser(), argv)
    _check_output(args.output, args.overwrite)
    files, _ = pipelines.read_inputs(args.input)  # errors name a bad file
    schema = _schema_arrow(files[0])
    kwargs = {"exclude": args.exclude, "categorical": args.categorical,
              "numeric": args.numeric, "max_categories": args.max_categories}
    stats = SchemaStats(schema, args.label, **kwargs)  # argument errors before the job starts
    warn_pandas_index(schema, args.label, args.exclude)  # once, here, not per accumulator
    spec = constraint_spec(args.constraint or "auto")
    _check_constraint_columns(spec, stats)
    combine = StatsCombineFn(schema, args.label, kwargs, name_files=len(files) > 1)
    p = beam.Pipeline(options=options)
    named = p | "Read" >> ReadParquetTables(files, validate=False, with_filename=True)
    tables = named | "Tables" >> beam.Values()
    encoding = named | "Stats" >> beam.CombineGlobally(combine)
    if spec.auto or spec.given:
        relations = (
            tables
            | "RelationStats" >> beam.ParDo(RelationStatsFn(spec),
                                            beam.pvalue.AsSingleton(encoding))
            | "MergeRelations" >> beam.CombineGlobally(MergeRelationStats())
        )
    else:
        relations = p | "NoRelations" >> beam.Create([None])
    encoding = encoding | "Constraints" >> beam.Map(
        _with_constraints, spec, beam.pvalue.AsSingleton(relations))
    written = encoding | "Write" >> beam.Map(_write_json, args.output)
    pipelines.finish(p, [written])
    from vae_augment.training import load_encoding

    enc = load_encoding(args.output) if "://" not in args.output else None
    summary = {"output": args.output}
    if enc is not None:
        summary["rows"] = int(sum(enc.class_counts.values()))
        summary["classes"] = {str(c): n for c, n in enc.class_counts.items()}
        summary["constraints"] = [str(r) for r in enc.relations]
        summary["derived"] = [str(d) for d in enc.derived]
        summary["links"] = [str(k) for k in enc.links]
        summary["dependencies"] = [str(d) for d in enc.dependencies]
    return summary


if __name__ == "__main__":
    import sys

    sys.exit(pipelines.main("pipelines.fit_stats", run, uses_tensorflow=False, parser=build_parser))
