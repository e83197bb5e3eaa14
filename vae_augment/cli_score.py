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
import sys

from vae_augment.cli import register_command

__all__ = ["add", "cmd_encode", "cmd_score", "score_file"]


def score_file(
    inputs,
    output: str,
    *,
    model_dir: str,
    latent_column: str | None = None,
    score_column: str | None = None,
    method: str = "elbo",
    k: int = 16,
    seed: int = 0,
    unseen: str = "error",
    overwrite: bool = False,
    output_shards: int | None = None,
    batch_size: int = 65536,
    progress: bool | None = None,
) -> int:
    """Writes every input row plus the requested columns to `output`; returns rows written.

    Args:
        inputs: Parquet file, directory, glob or list.
        output: output Parquet file (a directory with `output_shards`).
        model_dir: artifact directory.
        latent_column: name of the latent-mean column to append (None: none).
        score_column: name of the anomaly-score column to append (None: none).
        method: ``"elbo"`` or ``"iwae"``; `k` and `seed` apply to ``"iwae"``.
        unseen: ``"error"`` or ``"inf"``: what a category the model never saw does (see
            `vae_augment.scoring.anomaly_scores`; with ``"inf"`` the row's latent is NaN).
        progress: a progress bar of the rows on stderr (None: when stderr is a terminal).

    Raises:
        VAEAugmentError: a bad input, artifact or row (naming the column); nothing is written.

    Example:
        >>> score_file("data.parquet", "scored.parquet", model_dir="runs/churn",
        ...            score_column="anomaly_score")  # doctest: +SKIP
    """
    from vae_augment.artifact import load_artifact
    from vae_augment.beam.rows import score_table, scored_schema
    from vae_augment.errors import VAEAugmentError
    from vae_augment.io import (
        AtomicParquetWriter,
        iter_batches,
        read_schema,
        refuse_output,
        resolve_inputs,
    )

    if latent_column is None and score_column is None:
        raise VAEAugmentError("nothing to append: give `latent_column` and/or `score_column`")
    if latent_column is not None and latent_column == score_column:
        raise VAEAugmentError(f"the latent and the score columns are both named "
                              f"'{latent_column}'; give them different names")
    from vae_augment.scoring import check_options

    check_options(method=method, unseen=unseen, k=k)  # before any output is opened
    refuse_output(output, overwrite, output_shards)
    paths = resolve_inputs(inputs)
    schema = read_schema(paths)
    art = load_artifact(model_dir)
    out_schema = scored_schema(
        schema, latent_dim=art.model.latent_dim, latent_column=latent_column,
        score_column=score_column,
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vae_augment.progress import progress_bar

    shown = sys.stderr.isatty() if progress is None else progress
    # the bar's total costs one more footer read per file: only when a bar is shown
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in paths) if shown else 0
    desc = "scoring" if score_column is not None else "encoding"
    with AtomicParquetWriter(output, out_schema, overwrite=overwrite, shards=output_shards) as w, \
            progress_bar(total, desc=desc, unit="rows", enabled=shown) as bar:
        for batch in iter_batches(paths, batch_size=batch_size):
            table = score_table(
                art, pa.Table.from_batches([batch]), latent_column=latent_column,
                score_column=score_column, method=method, k=k, seed=seed, unseen=unseen,
            )
            w.write(table)
            bar.update(batch.num_rows)
    return w.rows_written


def cmd_encode(args) -> int:
    rows = score_file(
        args.input, args.output, model_dir=args.model_dir, latent_column=args.column,
        unseen=args.unseen_categories, overwrite=args.overwrite,
        output_shards=args.output_shards, progress=False if args.quiet else None,
    )
    print(json.dumps({"output": args.output, "rows_written": rows, "column": args.column}))
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
    rows = score_file(
        args.input, args.output, model_dir=args.model_dir,
        latent_column=args.latent_column if args.latent else None, score_column=args.column,
        method=args.method, k=args.k, seed=args.seed, unseen=args.unseen_categories,
        overwrite=args.overwrite, output_shards=args.output_shards,
        progress=False if args.quiet else None,
    )
    print(json.dumps({"output": args.output, "rows_written": rows, "column": args.column,
                      "method": args.method}))
    if not args.quiet:
        print(f"scored {rows} rows", file=sys.stderr)
    return 0


def _common(p) -> None:
    p.add_argument("input", help="Parquet file, directory or glob")
    p.add_argument("output", help="output Parquet file (a directory with --output-shards)")
    p.add_argument("--model-dir", required=True, help="artifact directory")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--output-shards", type=int, default=None, help="write N files in a directory")


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
    p.set_defaults(func=cmd_score)
