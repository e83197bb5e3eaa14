"""The training data: the encoding (one streaming pass over the input's statistics) and the
encoded rows, in memory or streamed from Parquet (`vae_augment.streaming`).

`vae_augment.training` re-exports these names; `train_model` takes what `prepare_training`
returns.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from vae_augment.encoding import Encoding
from vae_augment.errors import SchemaError, warn
from vae_augment.io import in_file, iter_batches, read_schema, resolve_inputs
from vae_augment.schema import DEFAULT_MAX_CATEGORIES, SchemaStats, warn_pandas_index

if TYPE_CHECKING:
    from vae_augment.training import TrainConfig

__all__ = ["fit_encoding", "encode_all", "load_encoding", "prepare_training"]


def fit_encoding(
    inputs,
    label: str,
    *,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> Encoding:
    """Fits the encoding in one streaming pass over `inputs` (paths, a glob, or a table)."""
    if isinstance(inputs, (pa.Table, pa.RecordBatch)):
        schema = inputs.schema
        batches = inputs.to_batches() if isinstance(inputs, pa.Table) else [inputs]
        batches = ((None, b) for b in batches)
    else:
        paths = resolve_inputs(inputs)
        schema = read_schema(paths)
        named = len(paths) > 1  # a value error names its file when there are several
        batches = ((path if named else None, b) for path in paths for b in iter_batches([path]))
    stats = SchemaStats(
        schema, label, exclude=exclude, categorical=categorical, numeric=numeric,
        max_categories=max_categories,
    )
    warn_pandas_index(schema, label, exclude)
    row, last = 0, None  # a bad row is named by its position in its file
    for path, batch in batches:
        row = 0 if path != last else row
        last = path
        try:
            stats.update(batch, first_row=row, source=path)
            row += batch.num_rows
        except SchemaError as exc:
            if path is None:
                raise
            raise in_file(path, exc) from exc
    from vae_augment.stats_merge import encoding_from_stats

    encoding = encoding_from_stats(stats)  # shared with the Beam job pipelines/fit_stats.py
    _warn_null_tensors(encoding, encoding.list_tensors(schema))
    return encoding


def _warn_null_tensors(encoding: Encoding, lists=()) -> None:
    """A table in memory may hold null tensors that no Parquet file read by this pyarrow can:
    the model then generates null tensors, which cannot be written to Parquet either. Not
    said of the columns `lists` the input stores as variable-length lists: `balance` writes
    them as that list type, which holds nulls (`sample`'s writer refuses null fixed-size
    lists in its own error)."""
    from vae_augment.io import null_fixed_size_lists_readable

    nulls = [s.name for s in encoding.tensors if s.has_nulls and s.name not in lists]
    if nulls and not null_fixed_size_lists_readable():
        warn(
            f"tensor column(s) {nulls} have null rows: the model will generate null tensors "
            f"at their rate, which pyarrow {pa.__version__} cannot write to Parquet and read "
            f"back (apache/arrow#35692), so writing its rows to Parquet will fail; fill those "
            f"entries (e.g. with zeros) or exclude the column to write Parquet")


def encode_all(encoding: Encoding, inputs) -> dict[str, np.ndarray]:
    """Encodes every row of `inputs` (paths or a table) into in-memory arrays."""
    if isinstance(inputs, (pa.Table, pa.RecordBatch)):
        return encoding.encode(inputs)
    paths = resolve_inputs(inputs)
    lists = encoding.list_tensors(read_schema(paths))
    named = len(paths) > 1  # a bad list row is named by its file and its row in that file
    parts = []
    for path in paths:
        row = 0
        for b in iter_batches([path]):
            try:
                encoding.check_list_tensors(b, lists, first_row=row)
            except SchemaError as exc:
                raise (in_file(path, exc) if named else exc) from exc
            row += b.num_rows
            parts.append(encoding.encode(b))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def load_encoding(path) -> Encoding:
    """Reads an ``encoding.json`` (a checkpoint's, an artifact's or `pipelines/fit_stats.py`'s)."""
    from vae_augment.errors import InputError, arg

    try:
        with open(os.fspath(path)) as f:
            return Encoding.from_json(json.load(f))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{arg('encoding')} file '{path}' is not a readable encoding.json ({exc})") from exc


MAX_TENSOR_ELEMENTS = 256 * 256 * 3  # per row and column; past it a model is refused


def check_tensor_sizes(encoding: Encoding) -> None:
    """`SchemaError` for a tensor column past `MAX_TENSOR_ELEMENTS` (a 256x256x3 image):
    the conv net stops at 3 stride-2 stages, so a 512x512 image meets its dense layer with
    524,288 features (134 M weights each way) and 100 rows took more than 12 GB in the first
    training step. Said before any training, not found by the OOM killer."""
    from vae_augment.errors import option

    for s in encoding.tensors:
        size = int(np.prod(s.shape))
        if size > MAX_TENSOR_ELEMENTS:
            shape = "x".join(map(str, s.shape))
            raise SchemaError(
                f"tensor column '{s.name}' holds {shape} = {size:,} values per row, more than "
                f"vae-augment models ({MAX_TENSOR_ELEMENTS:,}, a 256x256x3 image): downsample "
                f"it (e.g. to 128x128), or leave it out with {option('exclude', s.name, many=True)}")


def prepare_training(
    inputs,
    label: str,
    config: TrainConfig,
    *,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    streaming: bool | None = None,
    encoding=None,
    checkpoint_dir: str | None = None,
    constraints=None,
):
    """The encoding and the training data (arrays in memory, or a `ParquetSource`).

    The encoding comes from `encoding` (an `Encoding` or a path to its JSON), else from the
    ``encoding.json`` of `checkpoint_dir` (a resumed run skips the statistics pass), else from
    one streaming pass over `inputs`. `constraints` (see `constraints.constraint_spec`;
    ``"auto"`` costs one more pass) replace the encoding's relations when given, unless the
    encoding's were resolved from the same request. Data is
    streamed when `streaming` is true, or when it
    is None and the input has more than `vae_augment.streaming.STREAMING_MIN_ROWS` rows.
    """
    from vae_augment.errors import SchemaError, arg
    from vae_augment.streaming import ParquetSource, should_stream

    if encoding is None and checkpoint_dir is not None:
        saved = os.path.join(checkpoint_dir, "encoding.json")
        if os.path.exists(saved):
            encoding = saved
    given = encoding is not None and checkpoint_dir is None  # computed elsewhere
    if isinstance(encoding, (str, os.PathLike)):
        encoding = load_encoding(encoding)
    if encoding is None:
        encoding = fit_encoding(
            inputs, label, exclude=exclude, categorical=categorical, numeric=numeric,
            max_categories=max_categories,
        )
    else:
        if encoding.label != label:
            raise SchemaError(
                f"{arg('encoding')} was fitted with label '{encoding.label}', not "
                f"{arg('label')} '{label}'"
            )
        schema = (inputs.schema if isinstance(inputs, (pa.Table, pa.RecordBatch))
                  else read_schema(resolve_inputs(inputs)))
        # `sample` writes an image column as the type the training data holds it as, whatever
        # the copy the encoding's statistics came from held
        encoding = encoding.with_input_lists(encoding.list_tensors(schema))
        # a variable-length list column is taken as the fixed-size list it was fitted as
        schema = encoding.as_trained(schema)
        if not encoding.schema.equals(schema, check_metadata=False):
            from vae_augment.io import schema_difference

            problem = schema_difference(encoding.schema, schema) or "a field differs"
            raise SchemaError(
                f"{arg('encoding')} was fitted on data of another schema than the input's: "
                f"{problem}")
    check_tensor_sizes(encoding)
    encoding = encoding.with_count_likelihood(config.image_likelihood).with_spikes(
        float(config.spike_share)).with_float_tensors(config.float_tensors)
    if constraints is not None:
        from vae_augment.constraints import constraint_spec, resolve_rules

        spec = constraint_spec(constraints, encoding)
        # relations resolved from the same request (by `pipelines.fit_stats`, or the run being
        # resumed) are kept: the search would find them again
        if encoding.constraints != spec.key:
            rules = resolve_rules(spec, inputs, encoding)
            encoding = encoding.with_rules(rules, spec.key)
    if should_stream(inputs, streaming):
        source = ParquetSource(
            inputs, encoding, validation_split=config.validation_split, seed=config.seed,
            shuffle_buffer=config.shuffle_buffer,
        )
        if given:
            _check_given_counts(encoding, source.n_train + source.n_val, None)
        return encoding, source
    arrays = encode_all(encoding, inputs)
    if given:
        _check_given_counts(encoding, len(arrays["y"]), np.bincount(
            np.asarray(arrays["y"], np.int64), minlength=len(encoding.classes)))
    return encoding, arrays


def _check_given_counts(encoding: Encoding, rows: int, per_class) -> None:
    """A warning when an encoding computed elsewhere (`pipelines.fit_stats`) counted other
    rows than the input holds: its statistics (quantiles, vocabularies, class counts) then
    describe data the model is not trained on, and the artifact records those counts."""
    want = encoding.class_counts
    same = (sum(want.values()) == rows if per_class is None else
            [want[c] for c in encoding.classes] == [int(n) for n in per_class])
    if not same:

        got = (f"{rows:,} rows" if per_class is None else
               f"{rows:,} rows ({dict(zip(map(str, encoding.classes), map(int, per_class)))})")
        warn(
            f"the encoding was computed on {sum(want.values()):,} labelled rows "
            f"({ {str(c): n for c, n in want.items()} }), the input holds {got}: were they "
            f"not the same files? Its statistics and class counts describe other rows than "
            f"the model trains on")
