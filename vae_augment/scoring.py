"""Latent encodings and anomaly scores of real rows (shared by the CLI, Beam and the report)."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from vae_augment.encoding import label_validity
from vae_augment.schema import canonical_zeros

__all__ = [
    "SCORE_METHODS", "UNSEEN_CATEGORIES", "check_options", "encode_latent", "anomaly_scores",
    "class_posterior", "label_scores", "unseen_category_rows", "with_known_categories",
    "append_columns", "latent_array", "latent_type", "row_keys", "row_noise", "as_table",
]

SCORE_METHODS = ("elbo", "iwae")
UNSEEN_CATEGORIES = ("error", "inf")  # what a score does with a category the model never saw
#: what a score is of: x given its class -log p(x | y), x alone -log p(x), or the label
#: given x -log p(y | x)
SCORE_KINDS = ("conditional", "marginal", "label")
CHUNK_ROWS = 4096  # rows the model encodes or scores at once


def check_options(*, method: str = "elbo", unseen: str = "error", k: int = 16,
                  kind: str = "conditional") -> None:
    """Raises `VAEAugmentError` for an unknown `method`, `unseen` or `kind`, or a `k` that is
    not a positive integer: the checks every scoring entry point (Python, CLI, Beam) makes
    first."""
    from vae_augment.errors import VAEAugmentError, arg

    # the CLI's flag for `unseen` is --unseen-categories
    for name, flag, value, allowed in (("method", "method", method, SCORE_METHODS),
                                       ("unseen", "unseen_categories", unseen, UNSEEN_CATEGORIES),
                                       ("kind", "kind", kind, SCORE_KINDS)):
        if value not in allowed:
            shown = arg(flag) if arg(flag).startswith("`--") else f"`{name}`"
            raise VAEAugmentError(f"{shown} must be one of {list(allowed)}, got {value!r}")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise VAEAugmentError(f"{arg('k')} must be a positive integer, got {k!r}")


def as_table(table, schema: pa.Schema | None = None, name: str = "table"):
    """`table` as Arrow: a `pyarrow.Table` or `RecordBatch` as it is; an object with the
    Arrow PyCapsule stream interface (a Polars DataFrame, ...) through `pyarrow.table`; a
    pandas DataFrame
    converted without its index, its columns that `schema` names to that schema's types (a
    model's input schema: its DataFrame round trip, `table.to_pandas()`, comes back the
    same) and the others dropped. Anything else is a `VAEAugmentError` naming `name`."""
    if isinstance(table, (pa.Table, pa.RecordBatch)):
        return table
    from vae_augment.io import in_memory_table, is_pandas_frame, is_table_like

    if is_table_like(table) and not is_pandas_frame(table):  # an Arrow stream (Polars, ...)
        return in_memory_table(table)
    if type(table).__name__ == "DataFrame" and hasattr(table, "columns"):
        if schema is None:
            return pa.Table.from_pandas(table, preserve_index=False)
        from vae_augment.errors import SchemaError

        fields = [schema.field(c) for c in table.columns if c in schema.names]
        try:
            return pa.Table.from_pandas(table, schema=pa.schema(fields, metadata=schema.metadata),
                                        preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            pass
        # a float column where the model's column is an integer (128.5 in an int column): read
        # as numbers, as a Parquet file's doubles are, not refused for the fraction
        fields = [f.with_type(pa.float64()) if pa.types.is_integer(f.type)
                  and table[f.name].dtype.kind == "f" else f for f in fields]
        try:
            return pa.Table.from_pandas(table, schema=pa.schema(fields, metadata=schema.metadata),
                                        preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise SchemaError(f"`{name}` does not convert to the model's column types: "
                              f"{' '.join(str(exc).split())}") from exc
    from vae_augment.errors import VAEAugmentError

    raise VAEAugmentError(f"`{name}` must be a pyarrow Table or RecordBatch, a pandas "
                          f"DataFrame or an Arrow stream (`__arrow_c_stream__`: Polars, "
                          f"DuckDB, ...), got {type(table).__name__}")


def _per_row(artifact, table, fn, width: int | None) -> np.ndarray:
    """Applies `fn` to the encoded rows with a label; rows whose label is null get NaN.

    `Encoding.encode` drops null-label rows (they cannot be conditioned on a class), so the
    results are scattered back to keep one output per input row, in order.
    """

    n = table.num_rows
    shape = (n,) if width is None else (n, width)
    out = np.full(shape, np.nan, np.float32)
    label = artifact.encoding.label
    valid = (label_validity(table.column(label)) if label in table.column_names
             else np.ones(n, bool))
    # numerics past the training range are extrapolated, not clipped to its ends, so that
    # a value's score grows with its distance from the range
    x = artifact.encoding.encode(table, extrapolate=True)
    if len(x["y"]):
        out[valid] = _chunked(fn, x)
    return out


def _chunked(fn, x: dict[str, np.ndarray]) -> np.ndarray:
    """`fn` of the encoded rows `x` (with "y"), `CHUNK_ROWS` rows at a time: the model's
    activations (k of them for "iwae", each as wide as the rows) would otherwise grow with
    the table, many GB for a batch of images."""
    n = len(x["y"])
    return np.concatenate([fn({name: v[i:i + CHUNK_ROWS] for name, v in x.items()}).numpy()
                           for i in range(0, n, CHUNK_ROWS)])


def _per_class(artifact, table, fn) -> np.ndarray:
    """[n, classes] float64: `fn` (a per-row -log p(x | c) estimate) of every row of `table`
    under every class c, whatever the row's label (absent or null too)."""
    enc = artifact.encoding
    x = enc.encode(table, with_label=False, extrapolate=True)
    n = table.num_rows
    out = np.empty((n, len(enc.classes)), np.float64)
    if n:
        for c in range(len(enc.classes)):
            out[:, c] = _chunked(fn, {**x, "y": np.full(n, c, np.int32)})
    return out


def _log_prior(encoding) -> np.ndarray:
    """log p(c): each class's share of the training rows."""
    counts = np.asarray([encoding.class_counts[c] for c in encoding.classes], np.float64)
    with np.errstate(divide="ignore"):
        return np.log(counts / counts.sum())


def _marginal_per_row(artifact, table, fn) -> np.ndarray:
    """-log sum_c p(c) exp(-fn(x, c)) per row: x alone, the classes weighed by their shares
    of the training rows."""
    from scipy.special import logsumexp

    per_class = _per_class(artifact, table, fn)
    return (-logsumexp(_log_prior(artifact.encoding)[None, :] - per_class, axis=1)
            ).astype(np.float32)


def _log_posterior(artifact, table, fn) -> np.ndarray:
    """[n, classes] float64: log p(c | x) of every row of `table` for every class c, p(c) the
    class's share of the training rows and `fn` the per-row -log p(x | c) estimate."""
    from scipy.special import log_softmax

    return log_softmax(_log_prior(artifact.encoding)[None, :]
                       - _per_class(artifact, table, fn), axis=1)


def _label_per_row(artifact, table, fn) -> np.ndarray:
    """-log p(y | x) per row, y its label: the model's class posterior, p(y) p(x | y) over
    sum_c p(c) p(x | c); NaN for a null label (an unknown one is a `SchemaError`)."""
    return _label_and_best(artifact, table, fn)[0]


def _label_and_best(artifact, table, fn) -> tuple[np.ndarray, np.ndarray]:
    """(`_label_per_row`, [n] int64 index into ``encoding.classes`` of each row's most
    probable class, -1 where no class has a finite log p(c | x))."""
    enc = artifact.encoding
    valid, y = _valid_labels(enc, table)
    log_post = _log_posterior(artifact, table, fn)
    out = np.full(table.num_rows, np.nan, np.float32)
    out[valid] = -log_post[valid][np.arange(len(y)), y]
    best = log_post.argmax(axis=1).astype(np.int64)
    best[~np.isfinite(log_post).any(axis=1)] = -1
    return out, best


def label_scores(artifact, table, *, method: str = "elbo", k: int = 16, seed: int = 0,
                 unseen: str = "error") -> tuple[np.ndarray, np.ndarray]:
    """`anomaly_scores` with ``kind="label"`` (-log p(y | x) per row), and from the same
    model passes the class each row most resembles: the index into
    ``artifact.encoding.classes`` of the argmax of its class posterior p(c | x), whatever its
    label; -1 where the score is NaN for an unseen category (``unseen="inf"``). A null
    label scores NaN, but its row still gets its most probable class.

    Example:
        >>> score, best = label_scores(art, table)                     # doctest: +SKIP
        >>> looks_like = np.asarray(art.encoding.classes)[best]        # doctest: +SKIP
    """
    from vae_augment.errors import check_seed

    check_options(method=method, unseen=unseen, k=k, kind="label")
    check_seed(seed)
    artifact = _loaded(artifact)
    table = as_table(table, artifact.encoding.schema)
    rows = None
    if unseen == "inf":
        table, rows = with_known_categories(artifact.encoding, table)
    score, best = _label_and_best(artifact, table, _score_fn(artifact, method, k, seed))
    if rows is not None:
        score[rows] = np.nan
        best[rows] = -1
    return score, best


def _score_fn(artifact, method: str, k: int, seed: int):
    """The per-row -log p(x | y) estimate of `method` (`anomaly_scores`)."""
    if method == "elbo":
        return artifact.model.neg_elbo

    def fn(x):
        noise = row_noise(x, seed, artifact.model.latent_dim)
        return -artifact.model.iw_bound(x, k, noise=noise)

    return fn


def _valid_labels(enc, table) -> tuple[np.ndarray, np.ndarray]:
    """(which rows of `table` have a label, those rows' class indices); a missing label column
    or an unknown class is a `SchemaError` naming it."""

    if enc.label not in table.column_names:
        from vae_augment.errors import SchemaError

        raise SchemaError(enc.label_not_found(table.column_names))
    col = table.column(enc.label)
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    valid = label_validity(col)
    return valid, enc._encode_label(col.filter(pa.array(valid)))  # unknown: its SchemaError


def class_posterior(artifact, table) -> np.ndarray:
    """[rows, classes] float64: the model's class probabilities p(c | x) of every row of
    `table`, in the order of ``artifact.encoding.classes``: p(c) p(x | c) normalised over
    the classes, p(c) the class's share of the training rows and -log p(x | c) the negative
    ELBO at the posterior mean (the ``"elbo"`` anomaly score). The label column is not read.
    A conditional VAE is a generative classifier; this is what `anomaly_scores(kind="label")`
    takes the label's entry of. One model pass per class.

    Args:
        artifact: an `Artifact` or its model directory.
        table: a pyarrow Table or RecordBatch, a pandas DataFrame or an Arrow stream (a
            Polars DataFrame, ...: `as_table`), with the model's
            feature columns (the label column may be there; it is not read).

    Returns:
        A float64 array of shape [rows, classes] whose rows sum to 1.

    Raises:
        SchemaError: a missing or mistyped column, or a category value the model was never
            trained on (`with_known_categories` swaps them out first, if wanted).

    Example:
        >>> p = class_posterior(art, table)                          # doctest: +SKIP
        >>> np.asarray(art.encoding.classes)[p.argmax(axis=1)]        # doctest: +SKIP
    """
    return np.exp(_class_log_posterior(artifact, table))


def _class_log_posterior(artifact, table) -> np.ndarray:
    """`class_posterior` as log p(c | x): ranks rows whose p(c | x) underflows to 0 (a
    class more than ~745 nats less likely, as images make it)."""
    artifact = _loaded(artifact)
    table = as_table(table, artifact.encoding.schema)
    return _log_posterior(artifact, table, artifact.model.neg_elbo)


def _unseen_by_column(encoding, table) -> dict[str, tuple[np.ndarray, pa.Array, object]]:
    """{column: (mask, decoded column, a category the model knows)} for the categorical
    columns holding (non-null) values the model was not trained on. Columns that are missing
    or of another type are left to `Encoding.encode` to report."""
    import pyarrow.compute as pc

    out = {}
    for s in encoding.categorical:
        if s.name not in table.column_names:
            continue
        col = table.column(s.name)
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        try:
            vocab = canonical_zeros(pa.array(s.vocab, type=col.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            continue
        idx = pc.index_in(canonical_zeros(col), value_set=vocab)
        mask = (pc.is_null(idx).to_numpy(zero_copy_only=False)
                & pc.is_valid(col).to_numpy(zero_copy_only=False))
        if mask.any():
            out[s.name] = (mask, col, vocab[0].as_py() if len(vocab) else None)
    return out


def unseen_category_rows(encoding, table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """[n] bool: rows holding, in some categorical column, a (non-null) value the model was
    not trained on. Columns that are missing or of another type are left to `Encoding.encode`
    to report."""
    out = np.zeros(table.num_rows, bool)
    for mask, _, _ in _unseen_by_column(encoding, table).values():
        out |= mask
    return out


def with_known_categories(encoding, table: pa.Table | pa.RecordBatch):
    """(`table` with every unseen category value replaced by one the model knows, [n] bool
    mask of the rows changed). Rows keep their positions; the rest of each row is as given."""
    import pyarrow.compute as pc

    rows = np.zeros(table.num_rows, bool)
    found = _unseen_by_column(encoding, table)
    if found and isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    for name, (mask, col, known) in found.items():
        placeholder = pc.if_else(pa.array(mask), pa.scalar(known, col.type), col)
        table = table.set_column(table.schema.get_field_index(name), name, placeholder)
        rows |= mask
    return table, rows


def _loaded(artifact):
    """`artifact`, or the artifact in the model directory it names (a str or path), as
    `vae_augment.sample` takes either."""
    if isinstance(artifact, (str, os.PathLike)):
        from vae_augment.artifact import load_artifact

        return load_artifact(os.fspath(artifact))
    return artifact


def encode_latent(artifact, table, *, unseen: str = "error") -> np.ndarray:
    """Posterior means E[z | x, y] for every row of `table` (an Arrow table or batch, a
    pandas DataFrame or an Arrow stream: `as_table`), [n, latent_dim] float32. `artifact`: an `Artifact`, or its model
    directory.

    Rows need the label column (the encoder is conditioned on the class); rows whose label is
    null get NaN. `unseen`: ``"error"`` (default), a category value the model was never
    trained on is an error naming the column; ``"inf"`` (as for `anomaly_scores`), such a
    row's latent is NaN.
    """
    check_options(unseen=unseen)
    artifact = _loaded(artifact)
    table = as_table(table, artifact.encoding.schema)
    rows = None
    if unseen == "inf":
        table, rows = with_known_categories(artifact.encoding, table)
    out = _per_row(artifact, table, artifact.model.encode_mean, artifact.model.latent_dim)
    if rows is not None:
        out[rows] = np.nan
    return out


def anomaly_scores(
    artifact, table, *, method: str = "elbo", k: int = 16,
    seed: int = 0, unseen: str = "error", kind: str = "conditional",
) -> np.ndarray:
    """Per-row anomaly score (nats; higher = less typical of its class); NaN for null labels
    (with ``kind="marginal"``, every row is scored, its label ignored).

    Args:
        artifact: a loaded `Artifact` (`vae_augment.load_artifact` or `fit`'s result), or
            the model directory to load it from.
        table: rows with the model's columns and the label (the score is of x given its
            class): a pyarrow Table or RecordBatch, a pandas DataFrame or an Arrow stream
            (a Polars DataFrame, ...: `as_table`).
        method: ``"elbo"``, the negative ELBO's terms with z at the posterior mean
            (deterministic; a point estimate, not a bound: see `ConditionalVAE.neg_elbo`); or
            ``"iwae"``, the negative importance-weighted bound with `k` samples of z, an upper
            bound on -log p(x | y) that tightens as `k` grows, what `vae-augment score
            --method iwae` writes. Numbers outside a column's training range are
            extrapolated (`Encoding.encode`), so a score grows with the distance from the
            range. Its noise is drawn from `seed` and the row's own values,
            so a row scores the same alone, in any batch and at any position.
        k: importance samples for ``"iwae"``.
        seed: seed of the ``"iwae"`` samples.
        unseen: ``"error"`` (default): a category value the model was never trained on is
            an error naming the column. ``"inf"``: such a row scores ``+inf``: the model gives
            the value probability 0, so the row is as atypical as a row can be (new values in
            production data are often what an anomaly detector is for).
        kind: what the score is of. ``"conditional"`` (default): x given its class,
            -log p(x | y). ``"marginal"``: x alone, ``-log sum_c p(c) p(x | c)``, with each
            class's share of the training rows as p(c) and `method`'s estimate of
            -log p(x | c): rows need no label (production data before it is labelled; the
            label column may be absent, null or hold anything), and a row typical of some
            class, even not its own, scores low. ``"label"``: the label given x,
            -log p(y | x), the model's class posterior: high for a row that looks like
            another class than its label says (a mislabelled row; 5 % of churn's labels
            flipped: ROC AUC 0.92-0.93 against the conditional score's 0.54-0.58). An
            unseen category (``unseen="inf"``) gives every class probability 0, so its
            label score is NaN. The two cost one model pass per class.

    Raises:
        SchemaError: an unknown class, an unseen category (with ``unseen="error"``), or a
            wrong type (naming the column).
        VAEAugmentError: an unknown `method`, `unseen` or `kind`, or a `k` that is not a
            positive integer.

    Example:
        >>> scores = anomaly_scores(art, table, method="iwae", k=32)  # doctest: +SKIP
        >>> table.take(np.argsort(-scores)[:5])                       # doctest: +SKIP
    """
    from vae_augment.errors import check_seed

    check_options(method=method, unseen=unseen, k=k, kind=kind)
    check_seed(seed)
    artifact = _loaded(artifact)
    table = as_table(table, artifact.encoding.schema)
    if unseen == "inf":
        # unseen values swapped for known ones in place: rows keep their positions and the
        # rest of each row is still checked
        known, rows = with_known_categories(artifact.encoding, table)
        out = np.array(anomaly_scores(artifact, known, method=method, k=k, seed=seed,
                                      kind=kind), np.float32)
        # a null label stays NaN; a label score has no value (every class gives 0)
        out[rows & ~np.isnan(out)] = np.nan if kind == "label" else np.inf
        return out
    fn = _score_fn(artifact, method, k, seed)
    if kind == "marginal":
        return _marginal_per_row(artifact, table, fn)
    if kind == "label":
        return _label_per_row(artifact, table, fn)
    return _per_row(artifact, table, fn, None)


_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)


def _mix64(v: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, element-wise on uint64 (wrapping arithmetic)."""
    v = (v ^ (v >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    v = (v ^ (v >> _U64(27))) * _U64(0x94D049BB133111EB)
    return v ^ (v >> _U64(31))


def _words(a: np.ndarray) -> np.ndarray:
    """[n, m] uint64 words holding the bits of an encoded array's rows (floats with -0.0 as 0.0)."""
    a = a.reshape(len(a), -1)
    if a.dtype.kind == "f":
        a = a.astype(np.float64) + 0.0
        return a.view(_U64)
    if a.dtype.kind == "b":
        return a.astype(_U64)
    return a.astype(np.int64).view(_U64)


def row_keys(x: dict[str, np.ndarray], seed: int) -> np.ndarray:
    """A uint64 key per encoded row, from the row's values and `seed` only (not its position
    or the other rows): equal rows get equal keys."""
    n = len(x["y"])
    with np.errstate(over="ignore"):
        key = np.full(n, _mix64(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], _U64))[0], _U64)
        for i, name in enumerate(sorted(x)):
            w = _words(np.asarray(x[name]))
            salt = _mix64((np.arange(w.shape[1], dtype=_U64) + _U64(1)) * _GOLDEN + _U64(i))
            key = _mix64(key ^ np.add.reduce(_mix64(w ^ salt), axis=1, dtype=_U64))
    return key


def row_noise(x: dict[str, np.ndarray], seed: int, dim: int):
    """``noise(s)``: the [n, dim] standard normal draws of importance sample s, each row's a
    function of its `row_keys` and s only, so a row scores the same in any table, batch or
    order (a counter-based generator: SplitMix64 of key + counter, then the normal quantile)."""
    from scipy.special import ndtri

    keys = row_keys(x, seed)[:, None]

    def noise(s: int) -> np.ndarray:
        counter = (np.arange(dim, dtype=_U64) + _U64(s * dim + 1)) * _GOLDEN
        with np.errstate(over="ignore"):
            bits = _mix64(keys + counter[None, :]) >> _U64(11)  # 53 random bits
        u = (bits.astype(np.float64) + 0.5) * 2.0 ** -53  # in (0, 1)
        return ndtri(u).astype(np.float32)

    return noise


def append_columns(table: pa.Table | pa.RecordBatch, columns: dict[str, pa.Array]):
    """`table` with extra columns appended (schema metadata kept)."""
    for name, arr in columns.items():
        if name in table.schema.names:
            from vae_augment.errors import SchemaError

            raise SchemaError(f"input already has a column named '{name}'")
        table = table.append_column(name, arr)
    return table


def latent_type(latent_dim: int) -> pa.DataType:
    """The latent column's type: fixed-size list<float32>[d] with its child named
    ``element``, as a Parquet file reads back (pyarrow writes the compliant name), so the
    tables of the Beam transforms, the CLI's and the files they write show the same type
    (pyarrow's own default, ``item``, compares equal but prints and concatenates apart)."""
    return pa.list_(pa.field("element", pa.float32()), int(latent_dim))


def latent_array(z: np.ndarray) -> pa.Array:
    """[n, d] latents as a fixed-size list<float32>[d] column (`latent_type`)."""
    d = z.shape[1]
    return pa.FixedSizeListArray.from_arrays(pa.array(z.reshape(-1).astype(np.float32)),
                                             type=latent_type(d))

