"""High-level Python API: `fit`, `sample`, `balance`. The CLI is a thin layer over these."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from vae_augment.artifact import (
    SAMPLER_VERSION,
    Artifact,
    check_replaceable,
    holds_artifact,
    load_artifact,
    save_artifact,
)
from vae_augment.balancing import SamplingStrategy, check_strategy_form, samples_to_generate
from vae_augment.errors import (
    ArtifactError,
    InputError,
    SchemaError,
    VAEAugmentError,
    arg,
    check_guided,
    check_seed,
    columns_note,
    label_column,
    option,
    warn,
)
from vae_augment.io import (
    AtomicParquetWriter,
    check_output_parent,
    check_partition_by,
    check_partition_values,
    in_memory_table,
    is_table_like,
    iter_batches,
    output_schema,
    probe_writable,
    read_schema,
    refuse_input_as_output,
    refuse_output,
    resolve_inputs,
    schema_without_views,
    with_range_index_rows,
    with_views,
    without_views,
)
from vae_augment.schema import canonical_zeros
from vae_augment.streaming import count_rows
from vae_augment.training import TrainConfig, train_model

__all__ = ["fit", "sample", "balance", "class_counts", "real_with_flag"]


def checkpoint_location(model_dir, checkpoint_dir, checkpoint_every, resume) -> str | None:
    """Where `fit` keeps checkpoints: `checkpoint_dir`, else MODEL_DIR/checkpoints when
    checkpointing or resuming, else None."""
    if checkpoint_dir is None and model_dir is not None and (checkpoint_every or resume):
        return os.path.join(os.fspath(model_dir), "checkpoints")
    return None if checkpoint_dir is None else os.fspath(checkpoint_dir)


def _refuse_interrupted(model_dir) -> None:
    """An `ArtifactError` when `model_dir` holds no artifact but an interrupted fit's
    checkpoints in MODEL_DIR/checkpoints: training afresh would delete them without a word
    (saving replaces the directory; checkpointing clears it), after the interruption's
    message advised resuming from them. A `checkpoint_dir` elsewhere may be shared by runs,
    so it is left to the fingerprint check of a resume."""
    from vae_augment.artifact import holds_artifact
    from vae_augment.checkpoint import latest_checkpoint

    directory = os.path.join(os.fspath(model_dir), "checkpoints")
    if holds_artifact(model_dir) or not os.path.isdir(directory):
        return
    path = latest_checkpoint(directory)
    if path is not None:
        raise ArtifactError(
            f"model directory '{model_dir}' holds an interrupted fit's checkpoint ({path}) and "
            f"no model: add {option('resume', True)} to continue from it, or delete "
            f"'{directory}' to train afresh")


def fit(
    inputs,
    *,
    label: str,
    model_dir: str | None = None,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    max_categories: int = 200,
    verbose: int | str = 0,
    strategy=None,
    callbacks: Sequence[Any] = (),
    checkpoint_dir: str | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    tensorboard: str | None = None,
    streaming: bool | None = None,
    encoding=None,
    constraints="auto",
    **train_kwargs,
) -> Artifact:
    """Fits the encoding and the conditional VAE, saving an artifact if `model_dir` is given.

    Args:
        inputs: a Parquet path, directory, glob, list of paths, or a table in memory: a
            `pyarrow.Table`, a pandas DataFrame (its index left out) or any object with the
            Arrow PyCapsule stream interface (a Polars DataFrame, a DuckDB result, ...).
        label: the class column.
        model_dir: where to save the artifact (optional).
        exclude: columns not to model (null in synthetic rows).
        categorical / numeric: integer columns to force to one kind.
        max_categories: cardinality limit for string/dictionary columns.
        verbose: Keras progress verbosity.
        strategy: a `tf.distribute.Strategy` or one of ``auto``, ``default``, ``mirrored``,
            ``tpu``, ``multi-worker`` (see `vae_augment.strategy.resolve_strategy`).
        callbacks: extra Keras callbacks.
        checkpoint_dir: checkpoint directory (default ``<model_dir>/checkpoints`` when
            checkpointing or resuming with a `model_dir`).
        checkpoint_every: save a checkpoint every this many training steps.
        resume: continue from the newest checkpoint (same final weights as an uninterrupted
            run with the same seed); starts from scratch when there is none.
        tensorboard: TensorBoard log directory (kept when it is inside `model_dir`).
        streaming: stream Parquet row groups through a shuffle buffer instead of loading the
            data; None streams inputs above `vae_augment.streaming.STREAMING_MIN_ROWS` rows.
        encoding: a fitted `Encoding` or the path of an ``encoding.json`` (for example from
            ``pipelines/fit_stats.py``) to use instead of the streaming statistics pass.
        constraints: inequalities between numeric columns that every generated row keeps:
            ``"auto"`` (the default) for every one that holds in all training rows and that
            the two columns' marginals alone would not keep (one more pass over the data);
            a list of ``"A <= B"`` / ``"A >= B"`` strings (with ``"auto"`` as an item to
            add the discovered ones); None, ``"none"`` or ``[]`` for none. A row that breaks
            one is put on its edge as often as real rows of its class are, else redrawn
            (`vae_augment.constraints`). ``"auto"`` also finds, and every generated row
            keeps: derived columns (one numeric column a linear function of another in every
            training row, to its rounding), recomputed from their source
            (`constraints.Derived`); linked columns (a category value held exactly where a
            numeric column holds its most frequent value, or is null), set from the numeric
            column (`constraints.Link`); dependent categories (a categorical column that is a
            function of another, a region of its state), set from their determinant
            (`constraints.Dependency`); and class null rules (a column null in every training
            row of a class, or in none, is so in its generated rows:
            `Encoding.class_null_rules`). The CLI's `fit` and `info` list them.
        **train_kwargs: `TrainConfig` fields (epochs, batch_size, latent_dim, seed, precision,
            shuffle_buffer, ...).

    Example:
        >>> art = fit("examples/data/churn.parquet", label="churn", epochs=5)  # doctest: +SKIP
    """
    from vae_augment.training import prepare_training

    config = TrainConfig(**train_kwargs)
    checkpoint_dir = checkpoint_location(model_dir, checkpoint_dir, checkpoint_every, resume)
    if model_dir is not None:  # before training, not after: never delete a user's files
        for what, path in (("checkpoint_dir", checkpoint_dir), ("tensorboard", tensorboard)):
            if path is not None and os.path.abspath(os.fspath(path)) == os.path.abspath(
                    os.fspath(model_dir)):
                raise ArtifactError(
                    f"{arg(what)} must not be the model directory itself (saving replaces "
                    f"it); use a folder inside it, e.g. '{os.path.join(model_dir, 'logs')}'")
        check_replaceable(model_dir, _inside(model_dir, checkpoint_dir, tensorboard))
        if not resume:
            _refuse_interrupted(model_dir)
    for what, path in (("the model", model_dir), ("checkpoints", checkpoint_dir),
                       ("TensorBoard logs", tensorboard)):
        if path is not None:  # saving replaces the model directory from its parent
            probe_writable(path, what, replaced=path is model_dir)
    if is_table_like(inputs):
        inputs = in_memory_table(inputs)
    encoding, data = prepare_training(
        inputs, label, config, exclude=exclude, categorical=categorical, numeric=numeric,
        max_categories=max_categories, streaming=streaming, encoding=encoding,
        checkpoint_dir=checkpoint_dir if resume else None,
        constraints=[] if constraints is None else constraints,
    )
    model, metrics = train_model(
        encoding, data, config, verbose=verbose, strategy=strategy, callbacks=callbacks,
        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, resume=resume,
        tensorboard=tensorboard,
    )
    # the sampler version too, as config.json has it: a pickled artifact (a fitted
    # VAEOverSampler's) then dates its draws as a saved one does
    config_json = {
        "train_config": config.to_json(),
        "metrics": metrics,
        "sampler_version": SAMPLER_VERSION,
    }
    from vae_augment.strategy import is_chief

    # one writer: on a multi-worker cluster every worker holds the same weights, and each
    # saving would replace the others' directory (the chief's, as for checkpoints)
    if model_dir is not None and is_chief(model.distribute_strategy):
        save_artifact(model_dir, model, encoding, train_config=config.to_json(), metrics=metrics,
                      preserve=_inside(model_dir, checkpoint_dir, tensorboard))
    return Artifact(model, encoding, config_json, path=model_dir)


def _inside(model_dir, *paths) -> tuple[str, ...]:
    """Top-level entries of `model_dir` that hold any of `paths` (kept when it is rewritten)."""
    root = os.path.abspath(os.fspath(model_dir))
    out = []
    for p in paths:
        if p is None:
            continue
        rel = os.path.relpath(os.path.abspath(os.fspath(p)), root)
        if rel != "." and not rel.startswith(".."):
            out.append(rel.split(os.sep)[0])
    return tuple(dict.fromkeys(out))


def _artifact(model) -> Artifact:
    return model if isinstance(model, Artifact) else load_artifact(model)


def sample(
    model,
    counts: Mapping[Any, int],
    output: str | None = None,
    *,
    seed: int = 0,
    overwrite: bool = False,
    output_shards: int | None = None,
    partition_by: str | Sequence[str] | None = None,
    progress: bool | None = None,
    privacy_min_distance: float | None = None,
    reference=None,
    stats: dict[str, Any] | None = None,
    guided: bool = False,
) -> pa.Table | int:
    """Generates `counts` ({class: rows}) synthetic rows from an artifact (or its directory).

    `guided`: each row gets the model's selection at generation, its class guide's redraws
    (up to its `candidates` draws), as `balance` generates: rows that sit in their class as
    firmly as most real rows of it, about 3x slower. False (the default): one plain draw per
    row from the model, the faster rows, and harder to tell from real ones (C2ST) on most
    tables. The two are the same for a model fitted with ``candidates=1``.

    Returns the table when `output` is None, else writes Parquet atomically and returns the
    number of rows written: one file, `output_shards` files in a directory, or a directory
    partitioned by the columns `partition_by` (``key=value`` folders; see
    `vae_augment.io.AtomicParquetWriter`).

    With `privacy_min_distance`, synthetic rows within that distance of a row of `reference`
    (the training data: paths or a table) of the same class are dropped and replaced from
    further blocks; ``stats["privacy_dropped"]`` receives ``{class: rows dropped}``. The
    distance is `vae_augment.privacy`'s: Euclidean in the model's encoding divided by
    sqrt(number of columns) (numbers on their quantile-normal scale, categories one-hot
    scaled so two different values are 1 apart, a tensor column weighing as one column); 0
    drops exact copies only.

    The rows are in the training data's schema plus ``is_synthetic`` (`Encoding.sample_schema`):
    an image column trained from a variable-length list is written as that list type.
    """
    from vae_augment.sampler import Sampler, check_counts

    check_seed(seed)
    guided = check_guided(guided)
    if output is None and (partition_by or output_shards is not None):
        raise VAEAugmentError("`partition_by` and `output_shards` lay out an `output`; "
                              "with `output` None the rows come back as a table")
    art = _artifact(model)
    if output is not None:  # before any generation
        refuse_output(output, overwrite, output_shards, partition_by)
        check_partition_by(art.encoding.sample_schema, partition_by)
    sampler = Sampler(art, guided=guided)
    if privacy_min_distance is None:
        batches = sampler.iter_counts(counts, seed, progress=progress)
    else:
        from vae_augment.private_sampling import check_min_distance, iter_counts_private

        check_min_distance(privacy_min_distance)
        if reference is None:
            raise InputError("`reference` (the training data) is required with `privacy_min_distance`")
        if is_table_like(reference):
            reference = in_memory_table(reference)
        if not isinstance(reference, pa.Table):
            rows = _Rows(reference)
            refuse_input_as_output(output, rows.paths)
            reference = _read_classes(rows, art.encoding, list(counts))
        dropped: dict[Any, int] = {}
        if stats is not None:
            stats["privacy_dropped"] = dropped
        batches = iter_counts_private(
            sampler, counts, seed, reference, privacy_min_distance, dropped=dropped,
            progress=progress,
        )
    if art.encoding.input_lists:  # as the training data held them
        batches = map(art.encoding.as_sampled, batches)
    if output is None:
        return pa.Table.from_batches(list(batches), schema=art.encoding.sample_schema)
    check_counts(art.encoding, counts)  # before the shards' total is summed from them
    with AtomicParquetWriter(
        output, art.encoding.sample_schema, overwrite=overwrite, shards=output_shards,
        partition_by=partition_by,
        total_rows=sum(int(n) for n in counts.values()) if output_shards else None,
    ) as writer:
        writer.write(batches)
    return writer.rows_written


class _Rows:
    """`balance`'s input: Parquet paths, streamed, or a table in memory (`in_memory_table`)."""

    def __init__(self, inputs):
        if isinstance(inputs, (pa.Table, pa.RecordBatch)) or is_table_like(inputs):
            self.table, self.paths = in_memory_table(inputs), []
            self.schema = self.table.schema
        else:
            self.table, self.paths = None, resolve_inputs(inputs)
            self.schema = read_schema(self.paths)

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        if self.table is None:
            return iter_batches(self.paths, columns=columns)
        table = self.table if columns is None else self.table.select(list(columns))
        return iter(without_views(table).to_batches())  # as `iter_batches` reads them

    def count(self) -> int:
        return self.table.num_rows if self.table is not None else count_rows(self.paths)

    @property
    def source(self):
        """What `fit` takes: the table, or the paths."""
        return self.table if self.table is not None else self.paths

    def named(self) -> str:
        return "the table" if self.table is not None else _inputs_named(self.paths)


def class_counts(inputs, label: str) -> dict[Any, int]:
    """Rows per class in `inputs` (Parquet paths, streaming the label column only, or a table
    in memory, as `fit` takes them); rows with a null label are not counted."""
    import pyarrow.compute as pc

    rows = inputs if isinstance(inputs, _Rows) else _Rows(inputs)
    if label not in rows.schema.names:
        raise SchemaError(
            f"{label_column(label)} not found. Columns: {columns_note(rows.schema.names)}")
    counts: dict[Any, int] = {}
    for batch in rows.batches(columns=[label]):
        col = batch.column(0)
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        vc = pc.value_counts(canonical_zeros(col.drop_null()))
        for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
            counts[v] = counts.get(v, 0) + c
    return counts


def labelled_counts(inputs, label: str, *, allow_empty: bool = False) -> dict[Any, int]:
    """`class_counts`, with an `InputError` / `SchemaError` when no row has a label (as
    `fit` says it): the input has no rows, or its label is null in every row. With
    `allow_empty` an input of no rows at all is ``{}`` (applying an existing model to it
    writes an empty output); a label null in every row is still an error."""
    rows = inputs if isinstance(inputs, _Rows) else _Rows(inputs)
    counts = class_counts(rows, label)
    if not counts:
        if rows.count() == 0:
            if allow_empty:
                return {}
            raise InputError("the input has no rows")
        raise SchemaError(f"{label_column(label)} is null in every row")
    return counts


def _read_classes(rows: _Rows, encoding, classes) -> pa.Table:
    """The rows of `rows` whose label is one of `classes` (the privacy filter's reference)."""
    from vae_augment.private_sampling import check_reference, class_rows

    schema = rows.schema
    if encoding.label not in schema.names:
        raise SchemaError(encoding.label_not_found(schema.names))
    check_reference(encoding, schema)
    lists = encoding.list_tensors(schema)
    values = [encoding.classes[encoding.class_index(c)] for c in classes]
    parts = []
    done = 0  # rows so far: a bad row is named by its position in the input
    for batch in rows.batches():
        encoding.check_list_tensors(batch, lists, first_row=done)
        done += batch.num_rows
        table = pa.Table.from_batches([batch])
        parts.extend(class_rows(table, encoding.label, v) for v in values)
    parts = [p for p in parts if p.num_rows]
    return pa.concat_tables(parts) if parts else schema_without_views(schema).empty_table()


def real_with_flag(batch: pa.RecordBatch, out_schema: pa.Schema) -> pa.RecordBatch:
    """A real batch, unchanged, plus `is_synthetic = False` (string views, read as large
    types by `io.iter_batches`, cast back to the input's views)."""

    arrays = list(batch.columns) + [pa.array(np.zeros(batch.num_rows, bool))]
    return with_views(pa.RecordBatch.from_arrays(
        arrays, schema=schema_without_views(out_schema)), out_schema)


def _inputs_named(paths: Sequence[str]) -> str:
    more = len(paths) - 1
    return f"'{paths[0]}'" + (f" (and {more} more file{'s' if more > 1 else ''})" if more else "")


def balance(
    inputs,
    output: str | None = None,
    *,
    label: str,
    model_dir: str | None = None,
    sampling_strategy: SamplingStrategy = "auto",
    seed: int = 0,
    overwrite: bool = False,
    output_shards: int | None = None,
    partition_by: str | Sequence[str] | None = None,
    progress: bool | None = None,
    verbose: int | str = 0,
    fit_kwargs: Mapping[str, Any] | None = None,
    privacy_min_distance: float | None = None,
    model: Artifact | None = None,
) -> dict[str, Any]:
    """Writes every input row unchanged plus synthetic rows so classes match the strategy.

    `inputs`: Parquet paths (as `fit` takes them; streamed) or a table in memory (a
    `pyarrow.Table`, a pandas DataFrame, an Arrow stream such as a Polars DataFrame: see
    `vae_augment.io.in_memory_table`), its rows first in the output.

    Trains a model first unless `model_dir` names an existing artifact (a `model_dir` that
    does not exist yet, or an empty directory, is where the new model is saved) or `model`
    is given: an `Artifact` in memory, e.g. what `fit` returned (not reloaded from disk).
    With `output` None nothing is written: the balanced rows come back as
    ``summary["table"]`` (in memory: for data that fits).

    With `privacy_min_distance`, synthetic rows within that distance of a real row of their
    class are dropped and replaced from further blocks (classes still reach their target);
    the distance is `sample`'s (see there), and ``summary["privacy_dropped"]`` is
    ``{class: rows dropped}``.

    The output is one Parquet file, `output_shards` files in a directory, or a directory
    partitioned by the columns `partition_by` (e.g. ``["region"]`` or ``["is_synthetic"]``:
    ``key=value`` folders, as Spark writes them; see `vae_augment.io.AtomicParquetWriter`).

    Returns:
        A summary: ``counts_before``, ``generated``, ``counts_after``, ``rows_written``,
        ``artifact`` (the `Artifact` used), with `output` None ``table`` (the rows), and
        with the privacy filter ``privacy_dropped`` ({class: rows dropped}).

    Example:
        >>> balance("examples/data/churn.parquet", "balanced.parquet", label="churn",
        ...         seed=0, fit_kwargs={"epochs": 5})  # doctest: +SKIP
    """
    from vae_augment.sampler import Sampler

    rows = _Rows(inputs)
    paths, schema = rows.paths, rows.schema
    if label not in schema.names:
        raise SchemaError(f"{label_column(label)} not found. Columns: {columns_note(schema.names)}")
    check_seed(seed)
    if privacy_min_distance is not None:
        from vae_augment.private_sampling import check_min_distance

        privacy_min_distance = check_min_distance(privacy_min_distance)
    if output is None and (partition_by or output_shards is not None):
        raise VAEAugmentError("`partition_by` and `output_shards` lay out an `output`; "
                              "with `output` None the rows come back as a table")
    if output is not None:  # before any training
        refuse_input_as_output(output, paths)
        refuse_output(output, overwrite, output_shards, partition_by)
        names = check_partition_by(output_schema(schema), partition_by)
        # the real rows' own keys (is_synthetic is not in the input: it adds two at most)
        check_partition_values(paths, [n for n in names if n != "is_synthetic"],
                               batches=rows.batches)
    if output is not None:
        check_output_parent(output)
    if model is not None and model_dir is not None:
        raise VAEAugmentError("give `model` (an Artifact) or `model_dir`, not both")
    if model is not None and not isinstance(model, Artifact):
        raise VAEAugmentError(
            f"`model` must be an Artifact (from `fit` or `load_artifact`), got "
            f"{type(model).__name__}; pass a directory as `model_dir`")
    if model is not None or (model_dir is not None and holds_artifact(model_dir)):
        art = model if model is not None else load_artifact(model_dir)
        where = f"artifact '{model_dir}'" if model is None else "the given model"
        if fit_kwargs:
            warn(
                f"`fit_kwargs` ({', '.join(sorted(fit_kwargs))}) ignored: balance samples from "
                f"{where} and trains nothing")
        if art.label != label:
            raise SchemaError(f"{where} was trained with label '{art.label}', not '{label}'")
        # an image column stored as a variable-length list of the model's values is taken
        # (each row's length checked as the real rows pass), and written back as it came
        # (a field declared not nullable, or nullable, is taken: the output keeps the
        # input's declaration, unless the model generates nulls where it has none)
        lists, trained = art.encoding.list_tensors(schema), art.encoding.as_trained(schema)
        from vae_augment.io import schema_difference

        problem = (schema_difference(art.encoding.schema, trained, nullability=False)
                   or art.encoding.null_conflict(schema))
        if problem is not None:
            raise SchemaError(
                f"input {rows.named()} does not match the schema {where} was trained "
                f"on: {problem}")
        # the strategy's form before the input's counts (a dict's keys as the model's
        # classes); an input of no rows is balanced by adding nothing: the output is empty,
        # with the output schema (a shard of a partitioned table may be empty)
        sampling_strategy = check_strategy_form(sampling_strategy, art.encoding)
        counts = labelled_counts(rows, label, allow_empty=True)
        unknown = [c for c in counts if c not in art.encoding.classes]
        if unknown:
            holder = f"the model in '{model_dir}'" if model is None else "the given model"
            raise SchemaError(f"input has classes {unknown} {holder} does not know")
    else:
        early = class_counts(rows, label)
        if len(early) >= 2:  # a bad strategy fails before training, not after
            samples_to_generate(early, sampling_strategy)
        kwargs = dict(fit_kwargs or {})
        kwargs.setdefault("seed", seed)
        art = fit(rows.source, label=label, model_dir=model_dir, verbose=verbose, **kwargs)
        # an image column stored as a variable-length list was trained as the fixed-size
        # list: the synthetic rows are written back as the input's list type
        lists = art.encoding.list_tensors(schema)
        # the input's counts: the encoding's are another table's with `encoding=` statistics
        counts = early
    counts = {c: counts.get(c, 0) for c in art.encoding.classes if counts.get(c, 0) > 0}
    generate = samples_to_generate(counts, sampling_strategy) if counts else {}
    # the input's schema, metadata included (the model's may carry its training file's)
    out_schema = output_schema(schema)
    if len(paths) == 1 and not output_shards and not partition_by:
        # one file out of one file in, its rows first: a pandas RangeIndex goes on
        out_schema = with_range_index_rows(out_schema,
                                           rows.count() + sum(generate.values()))
    sampler = Sampler(art)

    summary = {
        "counts_before": counts,
        "generated": generate,
        "counts_after": {c: counts[c] + generate[c] for c in counts},
        "artifact": art,  # the model used (for `balance --report`)
    }
    if privacy_min_distance is None:
        synthetic = sampler.iter_counts(generate, seed, progress=progress)
    else:
        from vae_augment.private_sampling import iter_counts_private

        need = [c for c, n in generate.items() if n > 0]
        reference = _read_classes(rows, art.encoding, need)
        summary["privacy_min_distance"] = privacy_min_distance
        summary["privacy_dropped"] = {}
        synthetic = iter_counts_private(
            sampler, generate, seed, reference, privacy_min_distance,
            dropped=summary["privacy_dropped"], progress=progress,
        )

    def all_batches():
        done = 0  # real rows so far: a bad row is named by its position in the input
        for batch in rows.batches():
            art.encoding.check_list_tensors(batch, lists, first_row=done)
            done += batch.num_rows
            yield real_with_flag(batch, out_schema)
        for batch in synthetic:
            batch = art.encoding.as_list_types(batch, lists)
            yield pa.RecordBatch.from_arrays(batch.columns, schema=out_schema)

    if output is None:
        summary["table"] = pa.Table.from_batches(list(all_batches()), schema=out_schema)
        summary["rows_written"] = summary["table"].num_rows
        return summary
    # the shards split the rows evenly, in order
    total = rows.count() + sum(generate.values()) if output_shards else None
    with AtomicParquetWriter(output, out_schema, overwrite=overwrite, shards=output_shards,
                             partition_by=partition_by, total_rows=total) as w:
        w.write(all_batches())
    summary["rows_written"] = w.rows_written
    return summary



