"""Apache Beam PTransforms over Arrow tables: balance, generate, encode and score.

Elements are `pyarrow.Table`s (one per Parquet row group, as `ReadAllFromParquetBatched`
yields them), never row dicts. Transforms load the artifact once per worker process
(`DoFn.setup` with `apache_beam.utils.shared.Shared`) and use the core's `Sampler`, so their
synthetic rows equal the CLI's for the same artifact and seed.

Example:
    >>> import apache_beam as beam
    >>> from vae_augment.beam import BalanceClasses, ReadParquetTables
    >>> with beam.Pipeline(runner="FnApiRunner") as p:                     # doctest: +SKIP
    ...     bal = BalanceClasses("runs/churn", "churn", seed=0)
    ...     (p | ReadParquetTables("data/*.parquet") | bal
    ...        | beam.io.WriteToParquetBatched("out/part", bal.output_schema,
    ...                                        file_name_suffix=".parquet",
    ...                                        use_compliant_nested_type=True))
"""

from __future__ import annotations

import importlib

# Loaded on first use, so `vae_augment.beam.rows` (used by the CLI) does not import Beam.
_LAZY = {
    "BadRows": "vae_augment.beam.rows",
    "BalanceClasses": "vae_augment.beam.balance",
    "BalancedParts": "vae_augment.beam.balance",
    "generation_counts": "vae_augment.beam.balance",
    "CountClasses": "vae_augment.beam.counting",
    "DEFAULT_ROWS_PER_SHARD": "vae_augment.beam.generate",
    "GenerateSynthetic": "vae_augment.beam.generate",
    "plan_shards": "vae_augment.beam.generate",
    "ReadParquetTables": "vae_augment.beam.parquet",
    "WritePartitionedParquet": "vae_augment.beam.parquet",
    "expand_patterns": "vae_augment.beam.parquet",
    "LATENT_COLUMN": "vae_augment.beam.rows",
    "SCORE_COLUMN": "vae_augment.beam.rows",
    "EncodeLatent": "vae_augment.beam.score",
    "ScoreAnomalies": "vae_augment.beam.score",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vae_augment.beam' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
