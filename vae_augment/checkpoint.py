"""Training checkpoints: everything needed to continue a run to the same final weights.

A checkpoint is a directory ``ckpt-<global step>`` written under a temporary name and renamed
into place (a kill mid-write leaves the previous checkpoint intact). It holds:

* ``model.npz``      every model variable, including the KL weight and the seed-generator
                     states of the reparameterisation noise and dropout;
* ``optimizer.npz``  the optimizer's variables (Adam moments, iteration count, loss scale);
* ``metrics.npz``    the running metric accumulators of the epoch in progress;
* ``best.npz``       the early-stopping best weights (when there are any);
* ``state.json``     epoch, step in epoch, global step, per-epoch history, early-stopping
                     state, checkpoint interval, a fingerprint of the run's configuration,
                     the data's rows per class, and the vae-augment release (and artifact
                     format version) that wrote it.

No pickle: arrays are loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from vae_augment.errors import VAEAugmentError
from vae_augment.io import os_reason, with_umask_mode

__all__ = ["CheckpointError", "latest_checkpoint", "save_checkpoint", "load_checkpoint",
           "clear_checkpoints", "assign_variables", "variable_values", "KEEP"]

KEEP = 2  # checkpoints kept (the newest and one before it)
_NAME = re.compile(r"^ckpt-(\d+)$")


class CheckpointError(VAEAugmentError):
    """A checkpoint is missing, unreadable or belongs to a different run."""


def _checkpoints(directory: str) -> list[tuple[int, str]]:
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        m = _NAME.match(name)
        if m and os.path.isfile(os.path.join(directory, name, "state.json")):
            found.append((int(m.group(1)), os.path.join(directory, name)))
    return sorted(found)


def latest_checkpoint(directory: str) -> str | None:
    """The newest complete checkpoint in `directory`, or None."""
    found = _checkpoints(directory)
    return found[-1][1] if found else None


def clear_checkpoints(directory: str) -> None:
    """Removes every checkpoint in `directory` (a fresh run does not mix with an old one),
    and the half-written ones a killed run left (`remove_partial`)."""
    for _, path in _checkpoints(directory):
        shutil.rmtree(path, ignore_errors=True)
    remove_partial(directory)


def remove_partial(directory: str) -> None:
    """Removes the ``.ckpt.*`` folders of checkpoint writes that never finished (a run
    killed while saving left one the size of a whole checkpoint, model and optimizer); one
    run writes a directory's checkpoints, one at a time."""
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if name.startswith(".ckpt.") and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)


def variable_values(variables: Sequence[Any]) -> dict[str, np.ndarray]:
    return {f"v{i:05d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}


def assign_variables(variables: Sequence[Any], values: dict[str, np.ndarray], what: str) -> None:
    if len(values) != len(variables):
        raise CheckpointError(
            f"checkpoint has {len(values)} {what} variables, the model has {len(variables)} "
            "(different model configuration?)"
        )
    for i, v in enumerate(variables):
        value = values[f"v{i:05d}"]
        if tuple(value.shape) != tuple(v.shape):
            raise CheckpointError(
                f"{what} variable '{getattr(v, 'path', v.name)}' has shape {tuple(v.shape)}, "
                f"the checkpoint has {tuple(value.shape)}"
            )
        v.assign(value)


def save_checkpoint(
    directory: str,
    *,
    global_step: int,
    state: dict[str, Any],
    arrays: dict[str, dict[str, np.ndarray]],
) -> str:
    """Writes ``ckpt-<global_step>`` atomically and prunes older checkpoints."""
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, f"ckpt-{global_step:09d}")
    tmp = with_umask_mode(tempfile.mkdtemp(prefix=".ckpt.", dir=directory))
    try:
        for name, values in arrays.items():
            if values is not None:
                np.savez(os.path.join(tmp, f"{name}.npz"), **values)
        with open(os.path.join(tmp, "state.json"), "w") as f:
            json.dump(state, f)
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):  # a full disk mid-run was "cannot write: ...", no path
            raise CheckpointError(f"cannot write checkpoint '{final}': "
                                  f"{os_reason(exc)}") from exc
        raise
    for _, old in _checkpoints(directory)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    remove_partial(directory)
    return final


def load_checkpoint(path: str) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Reads a checkpoint directory: (state, {"model": ..., "optimizer": ..., ...})."""
    try:
        with open(os.path.join(path, "state.json")) as f:
            state = json.load(f)
        arrays = {}
        for name in ("model", "optimizer", "metrics", "best"):
            file = os.path.join(path, f"{name}.npz")
            if os.path.exists(file):
                with np.load(file, allow_pickle=False) as z:
                    arrays[name] = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint '{path}' is unreadable ({exc})") from exc
    return state, arrays
