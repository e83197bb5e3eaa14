"""vae-augment: conditional-VAE data augmentation for imbalanced tables and images.

Heavy dependencies (TensorFlow, TFP) load lazily, on first use of a name that needs them.

Example:
    >>> import vae_augment as va
    >>> art = va.fit("examples/data/churn.parquet", label="churn",
    ...              model_dir="runs/churn")                                  # doctest: +SKIP
    >>> va.balance("examples/data/churn.parquet", "balanced.parquet", label="churn",
    ...            model_dir="runs/churn", seed=0)                            # doctest: +SKIP
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "fit": "vae_augment.api",
    "sample": "vae_augment.api",
    "balance": "vae_augment.api",
    "class_counts": "vae_augment.api",
    "Artifact": "vae_augment.artifact",
    "load_artifact": "vae_augment.artifact",
    "save_artifact": "vae_augment.artifact",
    "samples_to_generate": "vae_augment.balancing",
    "target_counts": "vae_augment.balancing",
    "Encoding": "vae_augment.encoding",
    "ConditionalVAE": "vae_augment.model",
    "Sampler": "vae_augment.sampler",
    "TrainConfig": "vae_augment.training",
    "GUIDED": "vae_augment.training",
    "UNGUIDED": "vae_augment.training",
    "VAEAugmentError": "vae_augment.errors",
    "SchemaError": "vae_augment.errors",
    "InputError": "vae_augment.errors",
    "ArtifactError": "vae_augment.errors",
    "VAEAugmentWarning": "vae_augment.errors",
    "VAEOverSampler": "vae_augment.imblearn",
    "evaluate": "vae_augment.evaluation",
    "c2st_auc": "vae_augment.evaluation",
    "anomaly_scores": "vae_augment.scoring",
    "encode_latent": "vae_augment.scoring",
    "class_posterior": "vae_augment.scoring",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vae_augment' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
