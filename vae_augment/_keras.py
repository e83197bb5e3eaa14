"""Keras on the TensorFlow backend, which this library runs on; one clear error otherwise.

Keras 3 picks one backend per process (``KERAS_BACKEND``, else ``~/.keras/keras.json``) when it
is first imported. A process on another backend cannot run the model (TensorFlow ops, TFP
distributions, tf.data), so the library's modules import Keras from here. The CLI and the
Beam jobs, processes of their own, set ``KERAS_BACKEND=tensorflow`` before importing it.
"""

from __future__ import annotations

import os


def backend_message(backend: str) -> str:
    return (f"vae-augment runs on Keras' TensorFlow backend, but this process's Keras uses "
            f"{backend!r} (from KERAS_BACKEND or ~/.keras/keras.json). Keras has one backend "
            f"per process: set KERAS_BACKEND=tensorflow before Keras is first imported, or run "
            f"vae-augment in a process of its own (its CLI and Beam jobs set it themselves)")


try:
    import keras
except ImportError as exc:  # Keras fails on its own import when the backend's is missing
    _wanted = os.environ.get("KERAS_BACKEND", "tensorflow")
    if _wanted != "tensorflow":
        raise ImportError(backend_message(_wanted)) from exc
    raise

if keras.backend.backend() != "tensorflow":
    raise ImportError(backend_message(keras.backend.backend()))

__all__ = ["keras", "backend_message"]
