"""Latent encodings and anomaly scores of real rows (shared by the CLI, Beam and the report)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["encode_latent", "anomaly_scores", "append_columns", "latent_array"]


def _model_inputs(artifact, table: pa.Table | pa.RecordBatch) -> dict[str, np.ndarray]:
    enc = artifact.encoding.encode(table)
    return enc


def encode_latent(artifact, table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Posterior means E[z | x, y] for every row, [n, latent_dim] float32.

    Rows need the label column (the encoder is conditioned on the class).
    """
    x = _model_inputs(artifact, table)
    if len(x["y"]) == 0:
        return np.zeros((0, artifact.model.latent_dim), np.float32)
    return artifact.model.encode_mean(x).numpy()


def anomaly_scores(artifact, table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Per-row negative ELBO (nats); higher means less typical of its class."""
    x = _model_inputs(artifact, table)
    if len(x["y"]) == 0:
        return np.zeros((0,), np.float32)
    return artifact.model.neg_elbo(x).numpy()


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

