"""`EncodeLatent` and `ScoreAnomalies`: per-row latent means and anomaly scores."""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa

from vae_augment.beam._shared import (
    BAD,
    OK,
    DeadLetterMixin,
    ModelDoFn,
    canonical_model_dir,
    mismatched_schema,
    model_meta,
    shared_handle,
)
from vae_augment.beam.parquet import row_group_start, rows_counted
from vae_augment.beam.rows import (
    LATENT_COLUMN,
    SCORE_COLUMN,
    check_kind,
    check_looks_like,
    check_scoring_rows,
    compact,
    in_row_group,
    input_problem,
    looks_like_type,
    named_table,
    score_table,
    scored_schema,
    split_bad_rows,
)
from vae_augment.errors import SchemaError, VAEAugmentError, check_seed
from vae_augment.scoring import check_options

__all__ = ["EncodeLatent", "ScoreAnomalies"]


class _ScoreFn(ModelDoFn):
    def __init__(self, model_dir, shared, options, kwargs, dead_letter):
        super().__init__(model_dir, shared)
        self._options = options  # latent_column / score_column
        self._kwargs = kwargs  # method / k / seed
        self._dead_letter = dead_letter
        self._bad_rows = beam.metrics.Metrics.counter("vae_augment", "bad_rows")

    def _score(self, table: pa.Table) -> pa.Table:
        return score_table(self.artifact, table, **self._options, **self._kwargs)

    def _check(self, piece: pa.Table) -> None:
        check_scoring_rows(self.artifact, piece, self._kwargs.get("unseen", "error"),
                           self._kwargs.get("kind", "conditional"))

    def process(self, element):
        path, table = named_table(element)
        enc = self.artifact.encoding
        rejected = mismatched_schema(enc.schema, table, encoding=enc,
                                     dead_letter=self._dead_letter, counter=self._bad_rows,
                                     label=self._kwargs.get("kind") != "marginal", path=path)
        if rejected is not None:
            yield rejected
            return
        try:
            out = self._score(table)
        except VAEAugmentError as exc:
            if not self._dead_letter:
                if path is None:
                    raise
                raise in_row_group(path, exc, row_group_start(path, table, read=True)) from exc
        else:
            yield (OK, out) if self._dead_letter else out
            return
        # the pieces are slices of `table`: copied, so an encoded element holds its own rows
        good, bad = split_bad_rows(table, self._check, where=rows_counted(path, table))
        if good:
            yield OK, self._score(compact(pa.concat_tables(good)))
        for item in bad:
            self._bad_rows.inc(item.rows.num_rows)
            yield BAD, item._replace(rows=compact(item.rows), file=path)


class _ScoreBase(DeadLetterMixin, beam.PTransform):
    _options: dict
    _kwargs: dict

    def __init__(self, model_dir: str):
        super().__init__()
        self._model_dir = canonical_model_dir(model_dir)
        self._encoding, self._config = model_meta(self._model_dir)
        self._shared = shared_handle(self._model_dir)

    def display_data(self):
        """Shown by the runner's UI (Dataflow, Flink) beside the step."""
        return {"model_dir": self._model_dir, **{k: v for k, v in self._options.items()},
                **{k: v for k, v in self._kwargs.items()}}

    def _check_column(self, column) -> str:
        """The new column's name: a non-empty string that is not a column of the training
        schema (the input tables have those)."""
        if not isinstance(column, str) or not column:
            raise VAEAugmentError(f"`column` must be a non-empty column name, got {column!r}")
        if column in self._encoding.schema.names:
            raise SchemaError(f"`column` '{column}' is a column of the data the model was "
                              f"trained on; give the new column another name")
        return column

    def _latent_dim(self) -> int:
        return int(self._config["train_config"]["latent_dim"])

    def output_schema(self, input_schema: pa.Schema | None = None) -> pa.Schema:
        """The schema of the output tables for input tables of `input_schema` (default: the
        schema the model was trained on, as `BalanceClasses.output_schema` uses). A method,
        not a property like `BalanceClasses.output_schema`, because scored tables keep the
        input's own columns, which may differ from the training schema (extra columns)."""
        if input_schema is None:
            input_schema = self._encoding.schema
        return scored_schema(input_schema, latent_dim=self._latent_dim(),
                             label_type=looks_like_type(self._encoding, input_schema),
                             **self._options)

    def check_input_schema(self, input_schema: pa.Schema) -> None:
        """A `SchemaError` now when tables of `input_schema` cannot be scored (a column the
        model reads is missing, or of a type it cannot encode: `Encoding.type_problem`, as
        the CLI's `score`): every table would fail, or go to the dead-letter output, once
        the pipeline runs."""
        problem = input_problem(self._encoding, input_schema,
                                kind=self._kwargs.get("kind", "conditional"),
                                scoring="score_column" in self._options)
        if problem is not None:
            raise SchemaError(f"input does not match the schema the model was trained on: "
                              f"{problem}")

    def expand(self, tables):
        fn = _ScoreFn(self._model_dir, self._shared, self._options, self._kwargs,
                      self._dead_letter)
        out = tables | "Score" >> beam.ParDo(fn)
        return self._split(out) if self._dead_letter else out


class EncodeLatent(_ScoreBase):
    """Appends the posterior mean E[z | x, y] of each row as a fixed-size list<float32> column.

    Rows need their label (the encoder is conditioned on the class). Bad rows (null or unknown
    label, unknown category, wrong type) fail with an error naming the column, or go to the
    dead-letter output after `with_exception_handling()`. With ``unseen="inf"`` (as in
    `ScoreAnomalies`) a row with a category the model never saw is kept with a NaN latent.
    Elements are tables, or ``(path, table)`` pairs as in `ScoreAnomalies`.

    Example:
        >>> with_z = tables | EncodeLatent("runs/churn")  # doctest: +SKIP
    """

    def __init__(self, model_dir: str, *, column: str = LATENT_COLUMN, unseen: str = "error"):
        check_options(unseen=unseen)
        super().__init__(model_dir)
        self._options = {"latent_column": self._check_column(column)}
        self._kwargs = {"unseen": unseen}


class ScoreAnomalies(_ScoreBase):
    """Appends an anomaly score per row (higher = less typical of its class), float32.

    Input elements are Arrow tables, or ``(path, table)`` pairs as
    `ReadParquetTables(..., with_filename=True)` yields them: an error about a row, or its
    dead letter's `BadRows.file`, then names its file (and its row in it: `row_group_start`).
    Output elements are tables.

    Args:
        model_dir: artifact directory.
        column: name of the new column.
        method: ``"elbo"`` (the negative ELBO's terms at the posterior mean: a deterministic
            point estimate, equal across batchings to within float32 rounding) or ``"iwae"``
            (the negative importance-weighted bound with `k` samples, seeded by `seed` and
            each row's own values, so the same in any batch and on any worker).
        k: importance samples for ``"iwae"``.
        seed: seed for ``"iwae"``.
        unseen: ``"error"`` (a row with a category the model never saw is a bad row) or
            ``"inf"`` (it scores ``+inf``; see `vae_augment.scoring.anomaly_scores`).
        kind: ``"conditional"`` (x given its class), ``"marginal"`` (x alone,
            ``-log sum_c p(c) p(x | c)``: tables need no label column, and a label they hold
            is not read) or ``"label"`` (-log p(y | x), high for a row that looks like
            another class); see `vae_augment.scoring.anomaly_scores`.
        looks_like_column: with ``kind="label"``, also a column of this name holding the
            class each row most resembles (the argmax of its class posterior, in the
            label's type; null where the score is NaN).

    Example:
        >>> scored = tables | ScoreAnomalies("runs/churn")  # doctest: +SKIP
    """

    def __init__(
        self,
        model_dir: str,
        *,
        column: str = SCORE_COLUMN,
        method: str = "elbo",
        k: int = 16,
        seed: int = 0,
        unseen: str = "error",
        kind: str = "conditional",
        looks_like_column: str | None = None,
    ):
        check_options(method=method, unseen=unseen, k=k, kind=kind)
        check_seed(seed)
        check_kind(kind, None)
        check_looks_like(kind, looks_like_column, column)
        super().__init__(model_dir)
        self._options = {"score_column": self._check_column(column)}
        if looks_like_column is not None:
            self._options["looks_like_column"] = self._check_column(looks_like_column)
        self._kwargs = {"method": method, "k": k, "seed": seed, "unseen": unseen,
                        "kind": kind}
