"""Latent encodings and anomaly scores of real rows (shared by the CLI, Beam and the report)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vae_augment.schema import canonical_zeros

__all__ = [
    "SCORE_METHODS", "UNSEEN_CATEGORIES", "check_options", "encode_latent", "anomaly_scores", "unseen_category_rows",
    "with_known_categories", "append_columns", "latent_array",
]

SCORE_METHODS = ("elbo", "iwae")
UNSEEN_CATEGORIES = ("error", "inf")  # what a score does with a category the model never saw


def check_options(*, method: str = "elbo", unseen: str = "error", k: int = 16) -> None:
    """Raises `VAEAugmentError` for an unknown `method` or `unseen`, or a `k` that is not a
    positive integer: the checks every scoring entry point (Python, CLI, Beam) makes first."""
    from vae_augment.errors import VAEAugmentError

    for name, value, allowed in (("method", method, SCORE_METHODS),
                                 ("unseen", unseen, UNSEEN_CATEGORIES)):
        if value not in allowed:
            raise VAEAugmentError(f"`{name}` must be one of {list(allowed)}, got {value!r}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise VAEAugmentError(f"`k` must be a positive integer, got {k!r}")


def _per_row(artifact, table, fn, width: int | None) -> np.ndarray:
    """Applies `fn` to the encoded rows with a label; rows whose label is null get NaN.

    `Encoding.encode` drops null-label rows (they cannot be conditioned on a class), so the
    results are scattered back to keep one output per input row, in order.
    """
    import pyarrow.compute as pc

    n = table.num_rows
    shape = (n,) if width is None else (n, width)
    out = np.full(shape, np.nan, np.float32)
    label = artifact.encoding.label
    valid = (
        pc.is_valid(table.column(label)).to_numpy(zero_copy_only=False)
        if label in table.column_names
        else np.ones(n, bool)
    )
    x = artifact.encoding.encode(table)
    if len(x["y"]):
        out[valid] = fn(x).numpy()
    return out


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


def encode_latent(artifact, table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Posterior means E[z | x, y] for every row, [n, latent_dim] float32.

    Rows need the label column (the encoder is conditioned on the class); rows whose label is
    null get NaN.
    """
    return _per_row(artifact, table, artifact.model.encode_mean, artifact.model.latent_dim)


def anomaly_scores(
    artifact, table: pa.Table | pa.RecordBatch, *, method: str = "elbo", k: int = 16,
    seed: int = 0, unseen: str = "error",
) -> np.ndarray:
    """Per-row anomaly score (nats; higher = less typical of its class); NaN for null labels.

    Args:
        artifact: a loaded `Artifact` (`vae_augment.load_artifact` or `fit`'s result).
        table: rows with the model's columns and the label (the score is of x given its class).
        method: ``"elbo"``, the negative ELBO with z at the posterior mean (deterministic, a
            one-point estimate, see `ConditionalVAE.neg_elbo`); or ``"iwae"``, the negative
            importance-weighted bound with `k` samples of z (tighter, stateless-seeded by
            `seed`), what `vae-augment score --method iwae` writes.
        k: importance samples for ``"iwae"``.
        seed: seed of the ``"iwae"`` samples.
        unseen: ``"error"`` (default): a category value the model was never trained on is
            an error naming the column. ``"inf"``: such a row scores ``+inf``: the model gives
            the value probability 0, so the row is as atypical as a row can be (new values in
            production data are often what an anomaly detector is for).

    Raises:
        SchemaError: an unknown class, an unseen category (with ``unseen="error"``), or a
            wrong type (naming the column).
        VAEAugmentError: an unknown `method` or `unseen`, or a `k` that is not a positive
            integer.

    Example:
        >>> scores = anomaly_scores(art, table, method="iwae", k=32)  # doctest: +SKIP
        >>> table.take(np.argsort(-scores)[:5])                       # doctest: +SKIP
    """
    check_options(method=method, unseen=unseen, k=k)
    if unseen == "inf":
        # unseen values swapped for known ones in place: rows keep their positions (IWAE
        # noise is drawn per position) and the rest of each row is still checked
        known, rows = with_known_categories(artifact.encoding, table)
        out = np.array(anomaly_scores(artifact, known, method=method, k=k, seed=seed),
                       np.float32)
        out[rows & ~np.isnan(out)] = np.inf  # a null label stays NaN
        return out
    if method == "elbo":
        return _per_row(artifact, table, artifact.model.neg_elbo, None)
    from vae_augment.sampler import block_seed

    seed_t = block_seed(seed, 0, 0)
    return _per_row(artifact, table, lambda x: -artifact.model.iw_bound(x, k, seed_t), None)


def append_columns(table: pa.Table | pa.RecordBatch, columns: dict[str, pa.Array]):
    """`table` with extra columns appended (schema metadata kept)."""
    for name, arr in columns.items():
        if name in table.schema.names:
            from vae_augment.errors import SchemaError

            raise SchemaError(f"input already has a column named '{name}'")
        table = table.append_column(name, arr)
    return table


def latent_array(z: np.ndarray) -> pa.Array:
    """[n, d] latents as a fixed-size list<float32>[d] column."""
    d = z.shape[1]
    return pa.FixedSizeListArray.from_arrays(pa.array(z.reshape(-1).astype(np.float32)), d)

