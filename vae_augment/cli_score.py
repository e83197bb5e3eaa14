"""`vae-augment encode` and `vae-augment score`: append latent means or anomaly scores.

Both stream the input one record batch at a time and write Parquet atomically (the output
appears only when complete). The values equal those of `vae_augment.scoring` and of the Beam
transforms `EncodeLatent` / `ScoreAnomalies` for the same artifact.

Example:
    vae-augment score data.parquet scored.parquet --model-dir runs/churn
    vae-augment encode data.parquet latents.parquet --model-dir runs/churn
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from vae_augment.cli import output_args, register_command

__all__ = ["add", "cmd_encode", "cmd_score", "score_file"]


def score_file(
    inputs,
    output: str,
    *,
    model_dir: str,
    latent_column: str | None = None,
    score_column: str | None = None,
    looks_like_column: str | None = None,
    method: str = "elbo",
    k: int = 16,
    seed: int = 0,
    unseen: str = "error",
    overwrite: bool = False,
    output_shards: int | None = None,
    partition_by: str | Sequence[str] | None = None,
    batch_size: int = 65536,
    progress: bool | None = None,
    dead_letter: str | None = None,
    kind: str = "conditional",
    _read: tuple | None = None,
) -> int:
    """Writes every input row plus the requested columns to `output`; returns rows written.

    Args:
        inputs: Parquet file, directory, glob or list.
        output: output Parquet file (a directory with `output_shards`, or partitioned by
            the columns `partition_by`: see `vae_augment.io.AtomicParquetWriter`).
        model_dir: artifact directory.
        latent_column: name of the latent-mean column to append (None: none).
        score_column: name of the anomaly-score column to append (None: none).
        looks_like_column: with ``kind="label"``, name of a column to append holding the
            class each row most resembles, the argmax of its class posterior p(c | x), in
            the label's type (None: none; see `vae_augment.scoring.label_scores`).
        method: ``"elbo"`` or ``"iwae"``; `k` and `seed` apply to ``"iwae"``.
        unseen: ``"error"`` or ``"inf"``: what a category the model never saw does (see
            `vae_augment.scoring.anomaly_scores`; with ``"inf"`` the row's latent is NaN).
        progress: a progress bar of the rows on stderr (None: when stderr is a terminal).
        dead_letter: a JSON-lines file for the rows that cannot be scored (a null or unknown
            label, a bad value; an unseen category unless ``unseen="inf"``), one
            ``{"error": ..., "row": {...}}`` line each, as the Beam job's dead letters. They
            are left out of `output`; the file is written (atomically, after `output`) only
            when there are such rows. None: such a row is an error and nothing is written.
            A file whose schema differs from the model's is an error either way.
        kind: what the score is of: ``"conditional"`` (x given its class), ``"marginal"``
            (x alone, its label not read: absent, null or anything; not with
            `latent_column`) or ``"label"`` (-log p(y | x)); see
            `vae_augment.scoring.anomaly_scores`.
        _read: (resolved paths, their schema) of `inputs`, when the caller has read them
            (the CLI, `_refuse_clash`): the footers are read once. None: read here.

    Raises:
        VAEAugmentError: a bad input, artifact or row (naming the column); nothing is written.

    Example:
        >>> score_file("data.parquet", "scored.parquet", model_dir="runs/churn",
        ...            score_column="anomaly_score")  # doctest: +SKIP
    """
    from vae_augment.artifact import load_artifact
    from vae_augment.beam.rows import looks_like_type, score_table, scored_schema
    from vae_augment.errors import VAEAugmentError
    from vae_augment.io import (
        AtomicParquetWriter,
        iter_batches,
        read_schema,
        refuse_input_as_output,
        refuse_output,
        resolve_inputs,
    )

    if latent_column is None and score_column is None:
        raise VAEAugmentError("nothing to append: give `latent_column` and/or `score_column`")
    for name in (latent_column, score_column, looks_like_column):  # as Beam refuses
        if name is not None and (not isinstance(name, str) or not name):
            raise VAEAugmentError(f"the new column needs a non-empty name, got {name!r}")
    for other, what in ((score_column, "score"), (looks_like_column, "looks-like")):
        if latent_column is not None and latent_column == other:
            raise VAEAugmentError(f"the latent and the {what} columns are both named "
                                  f"'{latent_column}'; give them different names")
    from vae_augment.scoring import check_options

    check_options(method=method, unseen=unseen, k=k)  # before any output is opened
    from vae_augment.beam.rows import check_kind

    check_kind(kind, latent_column)
    from vae_augment.beam.rows import check_looks_like

    check_looks_like(kind, looks_like_column, score_column)
    paths, schema = (resolve_inputs(inputs), None) if _read is None else _read
    refuse_input_as_output(output, paths)
    refuse_input_as_output(dead_letter, paths, what="dead-letter file")
    refuse_output(output, overwrite, output_shards, partition_by)
    if dead_letter is not None:
        from vae_augment.io import refuse_existing

        if os.path.abspath(dead_letter) == os.path.abspath(output):
            raise VAEAugmentError(f"the dead-letter file and the output are both '{output}'")
        refuse_existing(dead_letter, overwrite, what="dead-letter file")
        parent = os.path.dirname(os.path.abspath(dead_letter))
        if not os.path.isdir(parent):  # now, not once the output is written
            raise VAEAugmentError(f"dead-letter directory '{parent}' does not exist")
    if schema is None:
        schema = read_schema(paths)
    art = load_artifact(model_dir)
    if dead_letter is not None:  # a whole-file mismatch is not a row's fault
        from vae_augment.beam.rows import input_problem
        from vae_augment.errors import SchemaError

        problem = input_problem(art.encoding, schema, kind=kind,
                                scoring=score_column is not None)
        if problem is not None:
            raise SchemaError(f"input table does not match the schema the model was trained "
                              f"on: {problem}")
    out_schema = scored_schema(
        schema, latent_dim=art.model.latent_dim, latent_column=latent_column,
        score_column=score_column, looks_like_column=looks_like_column,
        label_type=looks_like_type(art.encoding, schema),
    )
    from vae_augment.io import check_partition_by

    check_partition_by(out_schema, partition_by)
    import pyarrow as pa

    from vae_augment.progress import progress_bar
    from vae_augment.streaming import count_rows

    shown = sys.stderr.isatty() if progress is None else progress
    # the bar's total costs one more footer read per file: only when a bar is shown
    # the shards split the rows evenly, in order
    total = count_rows(paths) if shown or output_shards else 0
    desc = "scoring" if score_column is not None else "encoding"
    options = dict(latent_column=latent_column, score_column=score_column,
                   looks_like_column=looks_like_column, method=method, k=k, seed=seed,
                   unseen=unseen, kind=kind)
    bad_lines: list[str] = []
    seen = 0  # rows read so far: a bad row is named by its position in the input
    with AtomicParquetWriter(output, out_schema, overwrite=overwrite, shards=output_shards,
                             partition_by=partition_by, total_rows=total or None) as w, \
            progress_bar(total, desc=desc, unit="rows", enabled=shown) as bar:
        for batch in iter_batches(paths, batch_size=batch_size):
            table = pa.Table.from_batches([batch])
            try:
                w.write(score_table(art, table, **options))
            except VAEAugmentError as exc:
                if dead_letter is None:
                    _in_input(exc, seen)
                    raise
                _score_good_rows(art, table, options, w, bad_lines, seen)
            seen += batch.num_rows
            bar.update(batch.num_rows)
    if dead_letter is not None and not bad_lines and os.path.isfile(dead_letter):
        os.remove(dead_letter)  # an earlier run's, replaced (overwrite): none this time
    if bad_lines:
        _write_lines(dead_letter, bad_lines)
        done = "scored" if score_column is not None else "encoded"
        print(f"vae-augment: warning: {len(bad_lines)} row(s) could not be {done}; they are "
              f"left out of '{output}' and written to '{dead_letter}'", file=sys.stderr)
    return w.rows_written


def _in_input(exc: Exception, first_row: int) -> None:
    """Names the bad rows of an error about a later batch by their position in the input (an
    error counts from its batch's first row), as the dead letters do."""
    import re

    if first_row and exc.args and isinstance(exc.args[0], str):
        exc.args = (re.sub(r"the first is row (\d+)\)",
                           lambda m: f"the first is row {int(m.group(1)) + first_row} of the input)",
                           exc.args[0]), *exc.args[1:])


def _score_good_rows(art, table, options, writer, bad_lines: list[str], first_row: int) -> None:
    """Scores the good rows of a batch that holds bad ones; the bad ones become JSON lines."""
    import pyarrow as pa

    from vae_augment.beam.rows import (
        bad_rows_json,
        check_scoring_rows,
        score_table,
        split_bad_rows,
    )

    good, bad = split_bad_rows(
        table, lambda piece: check_scoring_rows(art, piece, options["unseen"],
                                                options.get("kind", "conditional")),
        first_row=first_row, of="the input")
    if good:
        writer.write(score_table(art, pa.concat_tables(good), **options))
    for item in bad:
        bad_lines.extend(bad_rows_json(item))


def _write_lines(path: str, lines: list[str]) -> None:
    import tempfile

    from vae_augment.io import with_umask_mode

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".dead-letter.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        os.replace(with_umask_mode(tmp), path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _refuse_clash(inputs, flags: dict) -> tuple:
    """A new column (`flags`: flag -> name) that the input already has, named by its flag
    (``encode --column``, ``score --column`` / ``--latent-column``), before any work.
    Returns (resolved paths, their schema), for `score_file` not to read them again."""
    from vae_augment.errors import SchemaError
    from vae_augment.io import read_schema, resolve_inputs

    paths = resolve_inputs(inputs)
    schema = read_schema(paths)
    for flag, name in flags.items():
        if name is not None and name in schema.names:
            raise SchemaError(f"input already has a column named '{name}' (the new column's "
                              f"name, {flag}); give {flag} another name")
    return paths, schema


def cmd_encode(args) -> int:
    read = _refuse_clash(args.input, {"--column": args.column})
    rows = score_file(
        args.input, args.output, model_dir=args.model_dir, latent_column=args.column,
        unseen=args.unseen_categories, overwrite=args.overwrite,
        output_shards=args.output_shards, partition_by=args.partition_by,
        progress=False if args.quiet else None, dead_letter=args.dead_letter, _read=read,
    )
    print(json.dumps({"output": args.output, "rows_written": rows, "column": args.column,
                      **_bad_summary(args)}))
    if not args.quiet:
        print(f"encoded {rows} rows", file=sys.stderr)
    return 0


def cmd_score(args) -> int:
    if args.method == "elbo":
        given = [flag for flag, value, default in (("--k", args.k, 16), ("--seed", args.seed, 0))
                 if value != default]
        if given:
            verb = "apply" if len(given) > 1 else "applies"
            print(f"vae-augment: warning: {' and '.join(given)} {verb} to --method iwae only; "
                  f"ignored with --method elbo (deterministic)", file=sys.stderr)
    if args.looks_like and args.kind != "label":
        from vae_augment.errors import VAEAugmentError

        raise VAEAugmentError(f"--looks-like names the class each row most resembles, from "
                              f"the class posterior that --kind label computes; got --kind "
                              f"{args.kind}")
    looks_like = args.looks_like_column if args.looks_like else None
    read = _refuse_clash(args.input, {"--column": args.column,
                                      "--latent-column": args.latent_column if args.latent
                                      else None, "--looks-like-column": looks_like})
    rows = score_file(
        args.input, args.output, model_dir=args.model_dir,
        latent_column=args.latent_column if args.latent else None, score_column=args.column,
        looks_like_column=looks_like, method=args.method, k=args.k, seed=args.seed, unseen=args.unseen_categories,
        overwrite=args.overwrite, output_shards=args.output_shards,
        partition_by=args.partition_by,
        progress=False if args.quiet else None, dead_letter=args.dead_letter,
        kind=args.kind, _read=read,
    )
    print(json.dumps({"output": args.output, "rows_written": rows, "column": args.column,
                      **({"looks_like_column": looks_like} if looks_like else {}),
                      "method": args.method, "kind": args.kind,
                      **_bad_summary(args)}))
    if not args.quiet:
        print(f"scored {rows} rows", file=sys.stderr)
    return 0


def _bad_summary(args) -> dict:
    """The dead-letter file and its row count (it is written only when there are bad rows)."""
    if args.dead_letter is None:
        return {}
    bad = 0
    if os.path.isfile(args.dead_letter):
        with open(args.dead_letter, encoding="utf-8") as f:
            bad = sum(1 for _ in f)
    return {"dead_letter": args.dead_letter, "bad_rows": bad}


def _common(p) -> None:
    p.add_argument("input", help="Parquet file, directory or glob")
    p.add_argument("--model-dir", required=True, help="artifact directory")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    output_args(p, example="--partition-by LABEL, the model's label column")
    p.add_argument("--dead-letter", default=None, metavar="JSONL",
                   help="write rows that cannot be processed (a null or unknown label, a bad "
                        "value) to this JSON-lines file, one {\"error\", \"row\"} object each, "
                        "and leave them out of the output, instead of failing; written only "
                        "when there are such rows")


@register_command
def add(sub, common) -> None:
    p = sub.add_parser(
        "encode", parents=[common], help="append each row's latent mean (needs the label column)",
        description="Write every input row plus its posterior mean E[z | x, y] as a fixed-size "
                    "list<float32> column.",
    )
    _common(p)
    p.add_argument("--column", default="latent", help="name of the new column [latent]")
    p.add_argument("--unseen-categories", choices=["error", "inf"], default="error",
                   help="a category the model never saw: an error naming the column, or "
                        "(inf, as for score) a NaN latent for its row [error]")
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser(
        "score", parents=[common], help="append an anomaly score per row (higher = rarer)",
        description="Write every input row plus an anomaly score: the negative ELBO's terms "
                    "at the posterior mean (default; a deterministic point estimate) or the "
                    "negative importance-weighted bound (--method iwae; seeded, an upper "
                    "bound on -log p(x | y) that tightens with --k).",
    )
    _common(p)
    p.add_argument("--column", default="anomaly_score", help="name of the new column [anomaly_score]")
    p.add_argument("--method", choices=["elbo", "iwae"], default="elbo",
                   help="negative ELBO, or negative IWAE bound with --k samples [elbo]")
    p.add_argument("--k", type=int, default=16, help="importance samples for iwae [16]")
    p.add_argument("--seed", type=int, default=0, help="seed for iwae [0]")
    p.add_argument("--unseen-categories", choices=["error", "inf"], default="error",
                   help="a category the model never saw: an error naming the column, or a "
                        "score of +inf (and NaN latents) for its row [error]")
    p.add_argument("--latent", action="store_true", help="also append the latent means")
    p.add_argument("--latent-column", default="latent", help="latent column with --latent [latent]")
    p.add_argument("--kind", choices=["conditional", "marginal", "label"], default="conditional",
                   help="what the score is of: x given its label, -log p(x | y); x alone, "
                        "-log sum_c p(c) p(x | c) with the classes' training shares as p(c), "
                        "so rows need no label (it is not read; not with --latent); or the "
                        "label given x, -log p(y | x), high for a row that looks like another "
                        "class (mislabelled); marginal and label cost one model pass per "
                        "class [conditional]")
    p.add_argument("--looks-like", action="store_true",
                   help="with --kind label: also append the class each row most resembles, "
                        "the argmax of its class posterior p(c | x), from the same model "
                        "passes (null where the score is NaN)")
    p.add_argument("--looks-like-column", default="looks_like",
                   help="that column's name with --looks-like [looks_like]")
    p.set_defaults(func=cmd_score)
