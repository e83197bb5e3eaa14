"""`BalanceClasses`: every real row once (``is_synthetic=False``) plus synthetic rows."""

from __future__ import annotations

from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vae_augment.balancing import (
    SamplingStrategy,
    check_strategy_form,
    parse_sampling_strategy,
    samples_to_generate,
)
from vae_augment.beam._shared import (
    BAD,
    OK,
    DeadLetterMixin,
    canonical_model_dir,
    mismatched_schema,
    model_meta,
    shared_handle,
)
from vae_augment.beam._shared import warm_up as _load_in_background
from vae_augment.beam.counting import CountClasses, require_global_window
from vae_augment.beam.generate import DEFAULT_ROWS_PER_SHARD, GenerateSynthetic, _blocks_per_shard
from vae_augment.beam.parquet import row_group_start, rows_counted
from vae_augment.beam.rows import (
    BadRows,
    as_table,
    compact,
    label_problems,
    named_table,
    split_bad_rows,
    with_flag,
)
from vae_augment.encoding import _rows_note
from vae_augment.errors import SchemaError, check_seed, label_column
from vae_augment.io import schema_without_views, without_views

__all__ = ["BalanceClasses", "BalancedParts", "generation_counts", "own_output_schema"]


class BalancedParts(NamedTuple):
    """The two outputs of ``BalanceClasses(..., flatten=False)``."""

    real: beam.PCollection
    synthetic: beam.PCollection


def generation_counts(counts: dict[Any, int], classes, sampling_strategy,
                      rows: int | None = None, label: str | None = None) -> dict[Any, int]:
    """Rows to generate per class from the data's counts, exactly as `api.balance` decides:
    nothing for an input of no rows; with `rows` (the input's rows, null labels included)
    and `label`, a `SchemaError` when rows exist but the label is null in every one."""
    unknown = [c for c in counts if c not in classes]
    if unknown:
        raise SchemaError(f"input has classes {unknown} the model does not know (known: {classes})")
    present = {c: counts.get(c, 0) for c in classes if counts.get(c, 0) > 0}
    if not present:
        if rows:  # as `api.balance` says it
            raise SchemaError(f"{label_column(label or 'label')} is null in every row")
        # no rows (an empty input or shard): nothing to balance, as `api.balance` with a
        # model writes an empty output
        return {}
    return samples_to_generate(present, sampling_strategy)


def own_output_schema(schema, model_out_schema):
    """The output schema of a real table: the model's types, with the table's own schema
    and field metadata (as the CLI keeps the input's); a field is nullable when the model's
    or the table's is (so real and synthetic tables both hold to it; the Beam job's sink
    declares the input's own, `pipelines.balance`)."""
    def own(f):
        if f.name not in schema.names:  # is_synthetic
            return f
        theirs = schema.field(f.name)
        md = theirs.metadata
        f = f.with_nullable(f.nullable or theirs.nullable)
        return f.with_metadata(md) if md else f.remove_metadata()

    return pa.schema([own(f) for f in model_out_schema], metadata=schema.metadata)


class _RealFn(beam.DoFn):
    """Checks a real table (schema, known classes) and adds ``is_synthetic=False``."""

    def __init__(self, input_schema, out_schema, label, classes, dead_letter, warm=None,
                 sizes=None):
        super().__init__()
        self._sizes = sizes or {}  # {column: values a row} of image columns held as lists
        self._warm = warm  # (model_dir, Shared): load the model in the background
        self._input_schema = input_schema
        self._out_schema = out_schema
        self._label = label
        self._classes = classes
        self._dead_letter = dead_letter
        self._real_rows = beam.metrics.Metrics.counter("vae_augment", "real_rows")
        self._bad_rows = beam.metrics.Metrics.counter("vae_augment", "bad_rows")

    def setup(self):
        if self._warm is not None:
            # the synthetic rows can only start once the counts are known, i.e. after the
            # read: load the model (TF import, sampler trace) while this worker reads
            _load_in_background(*reversed(self._warm))

    def _check_lengths(self, piece):
        from vae_augment.encoding import _check_tensor_sizes

        for name, size in self._sizes.items():
            _check_tensor_sizes(name, piece.column(name).combine_chunks(), size)

    def _in_whole(self, whole, mask):
        """`mask`, over the rows of `whole` of the right lengths, as a mask over `whole`."""
        right = np.ones(whole.num_rows, dtype=bool)
        for name, size in self._sizes.items():
            lengths = pc.list_value_length(whole.column(name)).fill_null(size)
            right &= lengths.to_numpy(zero_copy_only=False) == size
        out = np.zeros(whole.num_rows, dtype=bool)
        out[np.flatnonzero(right)[mask]] = True
        return out

    def _label_letters(self, table, mask, places, of, path):
        """A dead letter per row of `table` that `mask` marks, naming its own class value
        and its place (`places`, counted in what `of` says), as other dead letters do."""
        texts = {}  # one message per class value
        for i, place in zip(np.flatnonzero(mask), places):
            row = compact(table.slice(int(i), 1))
            value = row.column(self._label)[0].as_py()
            if value not in texts:
                texts[value] = label_problems(row, self._label, self._classes,
                                              allow_null=True)[1]
            yield BAD, BadRows(row, f"{texts[value]} (row {place}{of})", path)

    def process(self, element):
        path, table = named_table(element)
        table = without_views(table)  # as `ReadParquetTables` reads them; cast back on output
        rejected = mismatched_schema(self._input_schema, table, dead_letter=self._dead_letter,
                                     counter=self._bad_rows, path=path, nullability=False)
        if rejected is not None:
            yield rejected
            return
        whole = table  # as read: its row group's place in its file can be looked up
        if self._sizes:
            good, bad = split_bad_rows(table, self._check_lengths,
                                       where=rows_counted(path, table))
            if bad and not self._dead_letter:
                raise _in_file(path, SchemaError(bad[0].error))
            for item in bad:
                self._bad_rows.inc(item.rows.num_rows)
                yield BAD, item._replace(file=path)
            table = pa.concat_tables(good) if good else table.slice(0, 0)
        found = label_problems(table, self._label, self._classes, allow_null=True)
        if found is not None:
            mask, message = found
            # the rows' places in the element as read (rows of another length went before),
            # counted in its file when its row group's start there is known
            at = mask if table is whole else self._in_whole(whole, mask)
            start = None if path is None else row_group_start(path, whole, read=True)
            of = "" if path is None else " of its row group" if start is None else " of its file"
            if not self._dead_letter:
                raise _in_file(path, SchemaError(
                    f"{message} ({_rows_note(at, start or 0)}{of})"))
            self._bad_rows.inc(int(mask.sum()))
            yield from self._label_letters(table, mask, np.flatnonzero(at) + (start or 0),
                                           of or " of the table", path)
            table = table.filter(~mask)
        self._real_rows.inc(table.num_rows)
        out = with_flag(table, own_output_schema(table.schema, self._out_schema), False)
        yield (OK, out) if self._dead_letter else out


def _in_file(path, exc):
    """`exc` naming the file its rows came from, when known (`io.in_file`)."""
    from vae_augment.io import in_file

    return exc if path is None else in_file(path, exc)


class BalanceClasses(DeadLetterMixin, beam.PTransform):
    """Real rows (``is_synthetic=False``) plus synthetic rows so classes match a strategy.

    Composes `CountClasses` (a Combine, used as a side input) and `GenerateSynthetic`; the
    synthetic rows equal `vae_augment.api.balance`'s for the same artifact, data and seed.
    Input and output elements are Arrow tables; the input must have the schema the model was
    trained on, or `input_schema` (output: that schema plus `is_synthetic`, see
    `output_schema`). Rows whose
    label the model does not know fail the pipeline with an error naming the column, or go
    to the dead-letter output after `with_exception_handling()`. An input element may also
    be a ``(path, table)`` pair, as `ReadParquetTables(..., with_filename=True)` yields: the
    error, or the dead letter's `BadRows.file`, then names the rows' file, and the error
    counts the row in it (`beam.parquet.row_group_start`).

    Args:
        model_dir: artifact directory (local or a Beam filesystem URL).
        label: the class column (must be the artifact's label).
        sampling_strategy: as imbalanced-learn's (``"auto"``, float, dict, callable, ...).
        seed: run seed.
        rows_per_shard: synthetic rows per unit of parallel work.
        flatten: return one PCollection (default) or `BalancedParts(real, synthetic)`. Runners
            that buffer a Flatten of two stages in memory (Beam's local FnApiRunner does)
            should write the parts with two sinks, as `pipelines.balance` does.
        warm_up: workers that read real rows start loading the model in a background thread,
            so it is ready when the synthetic rows (which wait for the counts) begin.
        input_schema: the input tables' schema, when it stores an image column as a
            variable-length list (or large list) of the model's values: the tables must then
            have it, each row's length is checked (a row of another length fails the pipeline
            naming it, or is a dead letter), and the output keeps that list type, synthetic
            rows included (`pipelines.balance` passes its input's schema).

    Example:
        >>> balanced = tables | BalanceClasses("runs/churn", "churn", seed=0)  # doctest: +SKIP
        >>> good, bad = tables | BalanceClasses(                          # doctest: +SKIP
        ...     "runs/churn", "churn").with_exception_handling()
    """

    def __init__(
        self,
        model_dir: str,
        label: str,
        sampling_strategy: SamplingStrategy = "auto",
        seed: int = 0,
        *,
        rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
        flatten: bool = True,
        warm_up: bool = True,
        input_schema: pa.Schema | None = None,
    ):
        super().__init__()
        self._model_dir = canonical_model_dir(model_dir)
        self._encoding, _ = model_meta(self._model_dir)
        if label != self._encoding.label:
            raise SchemaError(
                f"artifact '{self._model_dir}' was trained with label '{self._encoding.label}', "
                f"not '{label}'"
            )
        if isinstance(sampling_strategy, str):  # the CLI's forms: a name, a float, JSON
            sampling_strategy = parse_sampling_strategy(sampling_strategy, self._encoding.classes)
        # its form now, before a whole read of the input (the counts decide the rest)
        sampling_strategy = check_strategy_form(sampling_strategy, self._encoding)
        check_seed(seed)
        _blocks_per_shard(rows_per_shard)
        self._label = label
        self._strategy = sampling_strategy
        self._seed = seed
        self._rows_per_shard = rows_per_shard
        self._flatten = flatten
        self._warm_up = warm_up
        self._shared = shared_handle(self._model_dir)
        self._lists = ({} if input_schema is None
                       else self._encoding.list_tensors(input_schema))
        conflict = None if input_schema is None else self._encoding.null_conflict(input_schema)
        if conflict is not None:  # a field the input declares not nullable, the model's nulls
            raise SchemaError(f"input does not match the schema artifact '{self._model_dir}' "
                              f"was trained on: {conflict}")

    def display_data(self):
        """Shown by the runner's UI (Dataflow, Flink) beside the step."""
        return {"model_dir": self._model_dir, "label": self._label,
                "sampling_strategy": repr(self._strategy) if not callable(self._strategy)
                else getattr(self._strategy, "__name__", "callable"),
                "seed": self._seed, "rows_per_shard": self._rows_per_shard,
                "flatten": self._flatten}

    def warm_up(self):
        """Starts loading the model in a background thread of *this* process.

        For in-process runners (Beam's FnApiRunner without multi-processing), where the
        launching process is the worker: the model is then loading while the pipeline is
        built and the data read. `pipelines.balance` calls it for such runners.
        """
        return _load_in_background(self._shared, self._model_dir)

    @property
    def output_schema(self):
        """Schema of every output table: the training schema plus `is_synthetic` (with the
        `input_schema`'s list types for image columns it holds as lists)."""
        return self._encoding.with_list_types(self._encoding.output_schema, self._lists)

    @property
    def input_schema(self):
        """The schema the input tables must have (the one the model was trained on, with the
        `input_schema`'s list types for image columns it holds as lists; its string views
        as the large types they are read as: `vae_augment.io.without_views`)."""
        return schema_without_views(
            self._encoding.with_list_types(self._encoding.schema, self._lists))

    def expand(self, tables):
        require_global_window(tables, "BalanceClasses")
        enc = self._encoding
        checked = tables | "CheckAndFlag" >> beam.ParDo(
            _RealFn(self.input_schema, self.output_schema, self._label, list(enc.classes),
                    self._dead_letter,
                    warm=(self._model_dir, self._shared) if self._warm_up else None,
                    sizes={s.name: int(np.prod(s.shape)) for s in enc.tensors
                           if s.name in self._lists})
        )
        if self._dead_letter:
            real, bad = self._split(checked)
        else:
            real, bad = checked, None
        counts = real | "Count" >> CountClasses(self._label)
        rows = (real | "RowsPerTable" >> beam.Map(lambda t: as_table(t).num_rows)
                | "Rows" >> beam.CombineGlobally(sum))
        to_generate = counts | "ToGenerate" >> beam.Map(
            generation_counts, list(enc.classes), self._strategy,
            rows=beam.pvalue.AsSingleton(rows), label=self._label,
        )
        synthetic = beam.pvalue.PBegin(tables.pipeline) | "Synthetic" >> GenerateSynthetic(
            self._model_dir, to_generate, self._seed, rows_per_shard=self._rows_per_shard,
            shared=self._shared, list_types=self._lists,  # the input's, as the real rows'
            guided=True,  # balancing: the model's selection (its class guide), as the CLI's
        )
        if self._flatten:
            main = (real, synthetic) | "Merge" >> beam.Flatten()
        else:
            main = BalancedParts(real, synthetic)
        return (main, bad) if self._dead_letter else main
