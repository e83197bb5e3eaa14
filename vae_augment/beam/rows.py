"""Table-level helpers shared by the Beam transforms and the `encode`/`score` CLI.

Nothing here imports Apache Beam, so the CLI can use it. Everything works on whole
`pyarrow.Table`s (never row dicts): schema checks, the `is_synthetic` flag, the latent and
anomaly-score columns, and isolating bad rows for a dead-letter output by bisection (a table
with ``b`` bad rows out of ``n`` costs about ``2 b log2(n)`` re-encodes, not ``n``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vae_augment.errors import SchemaError, VAEAugmentError, arg, label_column, option
from vae_augment.io import schema_difference  # re-exported: the Beam transforms use it
from vae_augment.scoring import (  # SCORE_METHODS re-exported: the Beam transforms use it
    SCORE_METHODS,
    latent_type,
)

__all__ = [
    "BadRows",
    "bad_rows_json",
    "counted_in_file",
    "in_row_group",
    "named_table",
    "LATENT_COLUMN",
    "SCORE_COLUMN",
    "SCORE_METHODS",
    "as_table",
    "compact",
    "schema_difference",
    "with_flag",
    "label_problems",
    "scored_schema",
    "score_table",
    "split_bad_rows",
]

LATENT_COLUMN = "latent"
SCORE_COLUMN = "anomaly_score"


class BadRows(NamedTuple):
    """A dead-letter element: rows that could not be processed and why.

    Attributes:
        rows: the offending rows, unchanged (their own schema).
        error: one line naming the column, what was expected and what was found (and the
            row's position: in its table, or in `file`, or in its row group of `file` when the
            file's footer does not tell where the row group starts).
        file: the Parquet file the rows were read from, when the transform's elements were
            ``(path, table)`` pairs (`ReadParquetTables(..., with_filename=True)`, as the
            `pipelines` jobs read); None for plain tables.
    """

    rows: pa.Table
    error: str
    file: str | None = None


def bad_rows_json(bad: BadRows):
    """One JSON line ``{"error": ..., "row": {...}}`` per bad row (values via `str` if needed),
    with ``"file"`` (before ``"row"``) when the rows' file is known (`BadRows.file`).
    Strict JSON: a NaN or infinite number is written as the string ``"NaN"``, ``"Infinity"``
    or ``"-Infinity"`` (the row's values stay readable; jq and other parsers accept it)."""
    import json
    import math

    def strict(v):
        if isinstance(v, float) and not math.isfinite(v):
            return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
        if isinstance(v, dict):
            return {k: strict(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [strict(x) for x in v]
        return v

    where = {"file": bad.file} if getattr(bad, "file", None) is not None else {}
    for row in bad.rows.to_pylist():
        yield json.dumps({"error": bad.error, **where, "row": strict(row)}, default=str,
                         allow_nan=False)


def named_table(element) -> tuple[str | None, pa.Table]:
    """(path, table) of a transform's element: a Table or RecordBatch (path None), or a
    ``(path, table)`` pair as `ReadParquetTables(..., with_filename=True)` yields, so that an
    error or dead letter about its rows can name their file (`in_row_group`)."""
    if (isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], str)
            and isinstance(element[1], (pa.Table, pa.RecordBatch))):
        return element[0], as_table(element[1])
    return None, as_table(element)


_FIRST_ROW = re.compile(r"the first is row (\d+)\)")


def in_row_group(path: str, exc: Exception, start: int | None = None) -> Exception:
    """`exc`, an error about rows of one row group of the file at `path`, as the same error
    type naming the file (`vae_augment.io.in_file`), its row position moved to the file
    (`counted_in_file`)."""
    from vae_augment.io import in_file

    named = in_file(path, exc)
    named.args = (counted_in_file(named.args[0], start),)
    return named


def counted_in_file(message: str, start: int | None) -> str:
    """`message`, about rows of one row group, with the row position it gives ("the first is
    row 17)") counted in the file when `start`, the row group's first row's place in it, is
    known (`beam.parquet.row_group_start`), else said to be within the row group."""
    if start is None:
        return _FIRST_ROW.sub(r"the first is row \1 of its row group)", message)
    return _FIRST_ROW.sub(lambda m: f"the first is row {int(m[1]) + start} of its file)",
                          message)


def as_table(element: pa.Table | pa.RecordBatch) -> pa.Table:
    """A `pa.Table` from a Table or RecordBatch element (anything else is a clear error)."""
    if isinstance(element, pa.Table):
        return element
    if isinstance(element, pa.RecordBatch):
        return pa.Table.from_batches([element])
    if isinstance(element, dict):
        kind = "a row dict"
    elif hasattr(element, "_asdict") or type(element).__name__.startswith("BeamSchema_"):
        kind = "a Beam Row (a schema'd PCollection of single rows)"
    elif isinstance(element, tuple) and any(isinstance(e, (pa.Table, pa.RecordBatch))
                                            for e in element):
        kind = ("a tuple holding a table (a keyed element, or ReadParquetTables(..., "
                "with_filename=True)'s (path, table): pass the tables alone, e.g. beam.Values())")
    else:
        kind = f"a {type(element).__name__}"
    raise VAEAugmentError(
        f"elements must be pyarrow Tables or RecordBatches, got {kind}: read Parquet with "
        "ReadParquetTables (or Beam's ReadFromParquetBatched), or batch rows into tables "
        "first (beam.BatchElements, then pa.Table.from_pylist)"
    )


def compact(table: pa.Table) -> pa.Table:
    """`table`'s rows in buffers of their own (a copy), for a slice sent on as an element.

    A runner that encodes an element (between stages, to another process, in a shuffle)
    pickles the pyarrow Table, and a slice pickles its parent's whole buffers: a 1-row dead
    letter of a 50,000-row table was encoded as the whole table (8.5 MB), and the good rows
    around 50 bad ones, 492 slices, as 4.2 GB."""
    return table.take(np.arange(table.num_rows))


def with_flag(table: pa.Table, out_schema: pa.Schema, value: bool = False) -> pa.Table:
    """`table` unchanged (zero copy) plus a constant `is_synthetic` column, in `out_schema`
    (string views, read as large types by `ReadParquetTables`, cast back to the views)."""
    from vae_augment.io import schema_without_views, with_views

    flag = pa.array(np.full(table.num_rows, value, dtype=bool))
    return with_views(pa.Table.from_arrays(
        [*table.columns, flag], schema=schema_without_views(out_schema)), out_schema)


def _decoded(col):
    """A label column as compared: one chunk, a dictionary decoded, string views as
    large strings (no `is_in` or `filter` kernel takes views)."""
    from vae_augment.io import array_without_view

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return array_without_view(
        col.dictionary_decode() if pa.types.is_dictionary(col.type) else col)


def label_problems(
    table: pa.Table, label: str, classes: Sequence[Any], *, allow_null: bool, model: bool = False
) -> tuple[np.ndarray, str] | None:
    """Rows whose label is not one of `classes` (or null, unless allowed): (mask, message).
    `model`: the label is the artifact's, not an argument (see `errors.label_column`)."""
    named = label_column(label, model=model)
    col = _decoded(table.column(label))
    try:
        known = pc.is_in(col, value_set=pa.array(list(classes), type=col.type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(
            f"{named} has type {col.type}, which does not match the model's "
            f"classes {list(classes)}"
        ) from exc
    bad = ~known.to_numpy(zero_copy_only=False)
    nulls = col.is_null().to_numpy(zero_copy_only=False)
    if allow_null:
        bad &= ~nulls
    if not bad.any():
        return None
    if allow_null or not nulls[bad].all():
        values = pc.filter(col, pa.array(bad & ~nulls)).unique().to_pylist()[:5]
        message = (
            f"{named} has classes {values} the model was not trained on "
            f"(known: {list(classes)})"
        )
    else:
        message = f"{named} is null; every row needs its class to be encoded"
    return bad, message


def scored_schema(
    input_schema: pa.Schema,
    *,
    latent_dim: int | None = None,
    latent_column: str | None = None,
    score_column: str | None = None,
    looks_like_column: str | None = None,
    label_type: pa.DataType | None = None,
) -> pa.Schema:
    """`input_schema` plus the latent (fixed-size list<float32>) and/or score columns, and
    the class each row most resembles (`looks_like_column`, of `label_type`: the label's,
    a dictionary's value type).

    Under a schema-level ``image_shape`` (which reshapes every fixed-size list of its size),
    the latent column gets its own flat ``image_shape`` field metadata, so that reading the
    output does not take it for an image."""
    schema = input_schema
    flat = ({b"image_shape": str(int(latent_dim)).encode()}
            if latent_dim is not None and b"image_shape" in (input_schema.metadata or {})
            else None)
    for name, field in (
        (latent_column, lambda n: pa.field(n, latent_type(latent_dim), False,
                                           metadata=flat)),
        (score_column, lambda n: pa.field(n, pa.float32(), False)),
        (looks_like_column, lambda n: pa.field(n, _value_type(label_type))),
    ):
        if name is None:
            continue
        if name in schema.names:
            raise SchemaError(f"input already has a column named '{name}'; choose another name")
        schema = schema.append(field(name))
    return schema


def _value_type(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def label_type(encoding) -> pa.DataType:
    """The type of a column of class values: the label's in the training schema (a
    dictionary's value type)."""
    return _value_type(encoding.schema.field(encoding.label).type)


def looks_like_type(encoding, input_schema: pa.Schema | None) -> pa.DataType:
    """The type of the looks-like column for input of `input_schema`: its label column's
    (a dictionary's value type), so the column compares with the label it sits beside (an
    int32 label scored by a model trained on int64 got an int64 column), when every class of
    the model casts to it safely; else the model's `label_type`."""
    model = label_type(encoding)
    if input_schema is None or encoding.label not in input_schema.names:
        return model
    own = _value_type(input_schema.field(encoding.label).type)
    if own == model:
        return model
    try:
        pa.array(encoding.classes, type=model).cast(own, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return model
    return own


def check_looks_like(kind, looks_like_column, score_column) -> None:
    """`VAEAugmentError` unless a `looks_like_column` comes with label scores (`kind`
    ``"label"``, a `score_column`) and is named apart from it."""
    if looks_like_column is None:
        return
    if not isinstance(looks_like_column, str) or not looks_like_column:
        raise VAEAugmentError(f"{arg('looks_like_column')} needs a non-empty column name, "
                              f"got {looks_like_column!r}")
    if kind != "label" or score_column is None:
        raise VAEAugmentError(f"{arg('looks_like_column')} names the class each row most "
                              f"resembles, from the class posterior that "
                              f"{option('kind', 'label')} scores compute; got "
                              f"{option('kind', kind)}")
    if looks_like_column == score_column:
        raise VAEAugmentError(f"the score and the looks-like columns are both named "
                              f"'{score_column}'; give them different names")


def score_table(
    artifact,
    table: pa.Table,
    *,
    latent_column: str | None = None,
    score_column: str | None = None,
    looks_like_column: str | None = None,
    method: str = "elbo",
    k: int = 16,
    seed: int = 0,
    unseen: str = "error",
    kind: str = "conditional",
) -> pa.Table:
    """`table` plus latent means and/or anomaly scores (negative ELBO or IWAE bound), per row.
    `kind` (`scoring.anomaly_scores`): with ``"marginal"`` the scores are of x alone, the
    label column may be absent or hold anything, and no latent column may be asked for.

    With ``unseen="inf"`` a row with a category value the model never saw scores ``+inf`` and
    its latent mean is NaN (see `scoring.anomaly_scores`).

    With ``kind="label"``, `looks_like_column` names a column of the class each row most
    resembles (the argmax of its class posterior, `scoring.label_scores`), null where its
    score is NaN.

    Raises:
        SchemaError: a null or unknown label, an unseen category (``unseen="error"``), a
            wrong type (naming the column).
    """
    from vae_augment import scoring

    scoring.check_options(method=method, unseen=unseen, k=k, kind=kind)
    enc = artifact.encoding
    check_kind(kind, latent_column)
    check_looks_like(kind, looks_like_column, score_column)
    if kind != "marginal":
        if enc.label not in table.column_names:
            raise SchemaError(with_marginal_hint(enc.label_not_found(table.column_names), enc,
                                                 table.column_names,
                                                 scoring=score_column is not None))
        _check_labels(enc, table)
    schema = scored_schema(
        table.schema, latent_dim=artifact.model.latent_dim, latent_column=latent_column,
        score_column=score_column, looks_like_column=looks_like_column,
        label_type=looks_like_type(enc, table.schema),
    )
    # unseen="inf": unseen categories swapped for known ones once, for both columns
    known, unseen_rows = (scoring.with_known_categories(enc, table) if unseen == "inf"
                          else (table, None))
    arrays = []
    if latent_column is not None:
        z = scoring.encode_latent(artifact, known)
        if unseen_rows is not None:
            z[unseen_rows] = np.nan
        arrays.append(scoring.latent_array(z))
    if score_column is not None:
        best = None
        if looks_like_column is not None:  # kind "label": the scores' own model passes
            scores, best = scoring.label_scores(artifact, known, method=method, k=k,
                                                seed=seed)
        else:
            scores = scoring.anomaly_scores(artifact, known, method=method, k=k, seed=seed,
                                            kind=kind)
        scores = np.array(scores, np.float32)
        if unseen_rows is not None:
            # labels are non-null here (checked above); a label score has no value there
            scores[unseen_rows] = np.nan if kind == "label" else np.inf
        arrays.append(pa.array(scores))
        if best is not None:
            if unseen_rows is not None:
                best[unseen_rows] = -1
            vocab = pa.array(enc.classes, type=label_type(enc)).cast(
                schema.field(looks_like_column).type)
            arrays.append(vocab.take(pa.array(best, mask=best < 0)))
    return pa.Table.from_arrays([*table.columns, *arrays], schema=schema)


def with_marginal_hint(problem: str, encoding, names: Sequence[str], *, scoring: bool) -> str:
    """`problem`, about rows to score (`scoring`) or encode whose columns are `names`, plus
    the score that needs no label when they are scored and have no label column."""
    if scoring and encoding.label not in names:
        return f"{problem} (to score rows without a label: {option('kind', 'marginal')})"
    return problem


def input_problem(encoding, schema: pa.Schema, *, kind: str = "conditional",
                  scoring: bool = True) -> str | None:
    """Why tables of `schema` cannot be scored (`scoring`) or encoded at all, or None:
    `Encoding.type_problem` (a column the model reads is missing or of a type it cannot
    encode; a marginal score needs no label), `with_marginal_hint` (not for a marginal score:
    it is the score that needs no label)."""
    problem = encoding.type_problem(schema, label=kind != "marginal")
    if problem is None:
        return None
    return with_marginal_hint(problem, encoding, schema.names,
                              scoring=scoring and kind != "marginal")


def check_kind(kind, latent_column) -> None:
    """`VAEAugmentError` for an unknown score `kind`, or a marginal score with a latent
    column (the encoder needs each row's class)."""
    from vae_augment.scoring import check_options

    check_options(kind=kind)
    if kind == "marginal" and latent_column is not None:
        raise VAEAugmentError(f"{arg('kind')} marginal scores rows without their label, and "
                              f"latent means need it (the encoder is conditioned on the "
                              f"class): encode them in another run")


def _check_labels(enc, table: pa.Table) -> None:
    """A `SchemaError` for a null or unknown label, naming the rows as `Encoding.encode` does
    (a dead letter's error then names the row's position)."""
    from vae_augment.encoding import _rows_note

    problems = label_problems(table, enc.label, enc.classes, allow_null=False, model=True)
    if problems is not None:
        mask, message = problems
        valid = _decoded(table.column(enc.label)).is_valid().to_numpy(zero_copy_only=False)
        if (mask & valid).any():  # the message names the unknown classes, not the nulls
            mask = mask & valid
        raise SchemaError(f"{message} ({_rows_note(mask)})")


def check_scoring_rows(artifact, piece: pa.Table, unseen: str = "error",
                       kind: str = "conditional") -> None:
    """Raises `VAEAugmentError` when `piece` holds a row that `score_table` cannot score (a
    null or unknown label, a bad value; an unseen category unless ``unseen="inf"``): the
    `split_bad_rows` check of the scoring dead letters (the Beam transforms and the CLI)."""
    from vae_augment.scoring import with_known_categories

    enc = artifact.encoding
    if kind != "marginal":  # marginal scores ignore the label
        _check_labels(enc, piece)
    if unseen == "inf":  # an unseen category scores +inf, not bad
        piece = with_known_categories(enc, piece)[0]
    enc.encode(piece, with_label=kind != "marginal")


def split_bad_rows(
    table: pa.Table, check: Callable[[pa.Table], None], *, first_row: int = 0,
    of: str = "the table", where: Callable[[], tuple[int, str]] | None = None,
) -> tuple[list[pa.Table], list[BadRows]]:
    """Splits `table` into good contiguous pieces and single bad rows, by bisection.

    A bad row's error names its position as ``row N of <of>``, counting `table`'s first
    row as `first_row` (the CLI passes the row's position in its input). `where`, when
    given, is called once if a row is bad, for the ``(first_row, of)`` to use instead: a
    Beam element learns where its row group starts in its file only then
    (`beam.parquet.rows_counted`).

    `check(piece)` raises `VAEAugmentError` when a piece holds a bad row. Whole-table problems
    (a missing column, a wrong type) should be caught before calling this.
    """
    good: list[pa.Table] = []
    found: list[tuple[pa.Table, int, str]] = []

    def visit(piece: pa.Table, offset: int) -> None:
        if piece.num_rows == 0:
            return
        try:
            check(piece)
        except VAEAugmentError as exc:
            if piece.num_rows == 1:
                found.append((piece, offset, " ".join(str(exc).split())))
                return
            half = piece.num_rows // 2
            visit(piece.slice(0, half), offset)
            visit(piece.slice(half), offset + half)
            return
        good.append(piece)

    visit(table, 0)
    if found and where is not None:
        first_row, of = where()
    # the check saw a 1-row piece: its "row 0" is this row of `table`
    bad = [BadRows(piece, message.replace("1 row; the first is row 0",
                                          f"row {first_row + offset} of {of}"))
           for piece, offset, message in found]
    return good, bad
