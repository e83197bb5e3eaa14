"""Row sampling helpers shared by the evaluation report's sections (`vae_augment.evaluation`,
`detection`, `fidelity`, `utility`, `privacy`, `diagnostics`): seeded generators, sorted
`take`s and subsamples of Arrow tables, and a one-thread scope for scikit-learn."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__: list[str] = []


def _rng(seed: int, *salt: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *salt])


def _single_thread():
    """One OpenMP/BLAS thread: on a busy machine scikit-learn's histogram gradient boosting
    ran ~25x slower with 2 threads than with 1 (61 s vs 2.3 s for one C2ST here, same AUC)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _take(table: pa.Table, idx: np.ndarray) -> pa.Table:
    return table.take(pa.array(np.sort(np.asarray(idx, np.int64))))


def _subsample(table: pa.Table, n: int, rng: np.random.Generator) -> pa.Table:
    if table.num_rows <= n:
        return table
    return _take(table, rng.choice(table.num_rows, n, replace=False))

