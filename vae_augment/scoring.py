"""Latent encodings and anomaly scores of real rows (shared by the CLI, Beam and the report)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["SCORE_METHODS", "encode_latent", "anomaly_scores", "append_columns", "latent_array"]

SCORE_METHODS = ("elbo", "iwae")


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


def encode_latent(artifact, table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Posterior means E[z | x, y] for every row, [n, latent_dim] float32.

    Rows need the label column (the encoder is conditioned on the class); rows whose label is
    null get NaN.
    """
    return _per_row(artifact, table, artifact.model.encode_mean, artifact.model.latent_dim)


def anomaly_scores(
    artifact, table: pa.Table | pa.RecordBatch, *, method: str = "elbo", k: int = 16,
    seed: int = 0,
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

    Raises:
        SchemaError: an unknown class or category, or a wrong type (naming the column).
        VAEAugmentError: an unknown `method` or a `k` that is not a positive integer.

    Example:
        >>> scores = anomaly_scores(art, table, method="iwae", k=32)  # doctest: +SKIP
        >>> table.take(np.argsort(-scores)[:5])                       # doctest: +SKIP
    """
    from vae_augment.errors import VAEAugmentError

    if method not in SCORE_METHODS:
        raise VAEAugmentError(f"`method` must be one of {list(SCORE_METHODS)}, got {method!r}")
    if method == "elbo":
        return _per_row(artifact, table, artifact.model.neg_elbo, None)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise VAEAugmentError(f"`k` must be a positive integer, got {k!r}")
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

