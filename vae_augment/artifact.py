"""The model directory: one artifact for every interface. No pickle anywhere.

Layout::

    model_dir/
      model.keras      Keras 3 archive (loads with safe_mode=True)
      encoding.json    feature specs, vocabularies, quantile knots, classes, Arrow schema
      config.json      format version, training config, final metrics, library versions
      manifest.json    sha256 of the three files above (tampering is refused on load)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from typing import Any

from vae_augment.encoding import Encoding
from vae_augment.errors import ArtifactError, arg, option
from vae_augment.io import os_reason, with_umask_mode

__all__ = ["FORMAT_VERSION", "SAMPLER_VERSION", "Artifact", "save_artifact", "load_artifact",
           "check_replaceable", "warn_if_sampler_changed"]

FORMAT_VERSION = 2  # 2: FeatureSpec.decimals, model prior/sampling options
# Bumped when the same artifact and seed generate other rows than before (the model and its
# files unchanged, so FORMAT_VERSION stays): an artifact saved before is then loaded with a
# warning saying so, instead of silently giving other rows for its seed. config.json records
# it from format 2 on; an artifact without it is dated by its encoding (`_saved_sampler`).
#   1 (2026-12-01): categories drawn by Gumbel-max (86f496f, 2026-11-24) and stratified
#     posterior-bank slots (7fbc142): every column of a row can differ from version 0's
SAMPLER_VERSION = 1
_FILES = ("model.keras", "encoding.json", "config.json")


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with _opened(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _opened(path: str, mode: str, **kwargs):
    """`open` for reading an artifact's file; `ArtifactError` naming it when it cannot be
    read (no read permission: the CLI said "cannot write" of it)."""
    try:
        return open(path, mode, **kwargs)
    except OSError as exc:
        raise ArtifactError(f"cannot read artifact file '{path}': "
                            f"{exc.strerror or exc}") from exc


class Artifact:
    """A loaded model directory: the Keras model, its encoding and its config."""

    def __init__(self, model, encoding: Encoding, config: dict[str, Any], path: str | None = None):
        self.model = model
        self.encoding = encoding
        self.config = config
        self.path = path

    @property
    def label(self) -> str:
        return self.encoding.label

    @property
    def classes(self) -> list[Any]:
        return self.encoding.classes

    @property
    def history(self) -> dict[str, list[float | None]]:
        """Every training epoch's figures, as Keras' ``History.history``: ``loss`` (the
        trained bound, recon + beta x KL, with the KL term weighted e / W in epoch e of a
        W-epoch KL warm-up; early stopping starts after the warm-up and watches
        ``neg_elbo``, or recon + beta x KL when beta != 1), ``neg_elbo``, ``recon``, ``kl`` and their
        validation ``val_*`` twins, one value per epoch (None for a non-finite one); empty
        for an artifact saved before artifacts recorded them. The weights kept are those
        of ``config["metrics"]["best_epoch"]`` (1-based)."""
        history = ((self.config or {}).get("metrics") or {}).get("history") or {}
        return {k: list(v) for k, v in history.items()}  # a copy: the config stays as loaded

    def __repr__(self) -> str:
        return f"Artifact(path={self.path!r}, label={self.label!r}, classes={self.classes})"

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling (a fitted VAEOverSampler's `artifact_`): one pickled before in-memory
        artifacts recorded their sampler version is dated by its encoding, as a model
        directory without it is, so `warn_if_sampler_changed` warns of one whose seed now
        draws other rows (a pre-2026-12-02 sampler's sampled them silently)."""
        self.__dict__.update(state)
        config = self.config or {}
        if "sampler_version" not in config:
            specs = getattr(self.encoding, "specs", [])
            features = [vars(s) for s in specs]  # a pickled spec's own fields, not defaults
            self.config = {**config, "sampler_version": _saved_sampler({"features": features})}


def save_artifact(
    model_dir: str,
    model,
    encoding: Encoding,
    *,
    train_config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    overwrite: bool = True,
    preserve: tuple[str, ...] = (),
    sampler_version: int = SAMPLER_VERSION,
) -> str:
    """Writes the artifact to a temporary directory and renames it into place.

    `preserve` names entries of an existing `model_dir` (e.g. ``checkpoints``, ``logs``) that
    are moved into the new directory instead of being deleted with the old one.
    `sampler_version` is recorded in config.json: the current one for a model trained now;
    an artifact saved again passes its own (``art.config["sampler_version"]``), so that
    `warn_if_sampler_changed` still warns of it when its seed draws other rows than then.
    """
    from vae_augment import __version__

    model_dir = os.fspath(model_dir)
    if os.path.exists(model_dir) and not overwrite:
        raise ArtifactError(f"model directory '{model_dir}' already exists")
    check_replaceable(model_dir, preserve)
    parent = os.path.dirname(os.path.abspath(model_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = with_umask_mode(tempfile.mkdtemp(prefix=".model.", dir=parent))
    moved: list[str] = []
    try:
        model.save(os.path.join(tmp, "model.keras"))
        with open(os.path.join(tmp, "encoding.json"), "w") as f:
            json.dump(encoding.to_json(), f)
        config = {
            "format_version": FORMAT_VERSION,
            "sampler_version": sampler_version,
            "vae_augment_version": __version__,
            "library_versions": _library_versions(),
            "train_config": train_config or {},
            "metrics": metrics or {},
        }
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
        manifest = {name: _sha256(os.path.join(tmp, name)) for name in _FILES}
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
        if os.path.isdir(model_dir):
            for name in preserve:
                if name not in (*_FILES, "manifest.json") and os.path.exists(
                    os.path.join(model_dir, name)
                ):
                    os.replace(os.path.join(model_dir, name), os.path.join(tmp, name))
                    moved.append(name)
            shutil.rmtree(model_dir)
        os.replace(tmp, model_dir)
    except BaseException as exc:
        for name in moved:  # checkpoints and logs go back where they were, never lost
            if os.path.isdir(model_dir) and not os.path.exists(os.path.join(model_dir, name)):
                os.replace(os.path.join(tmp, name), os.path.join(model_dir, name))
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):  # a full disk: "cannot write: ..." named no path
            raise ArtifactError(f"cannot write the model '{model_dir}': "
                                f"{os_reason(exc)}") from exc
        raise
    return model_dir


def _library_versions() -> dict[str, str]:
    """Versions of the libraries that wrote the model, for `info` and bug reports."""
    import importlib.metadata as md

    out = {}
    for name in ("tensorflow", "keras", "tensorflow-probability", "pyarrow", "numpy"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def holds_artifact(model_dir) -> bool:
    """Whether `model_dir` is there to be loaded rather than trained into: it exists and is
    not a directory without any artifact file (an empty one, or one of checkpoints only, is
    where `balance` trains and saves, as `fit` does). A partial artifact counts, so loading
    names what is missing."""
    model_dir = os.fspath(model_dir)
    if not os.path.exists(model_dir):
        return False
    if not os.path.isdir(model_dir):
        return True
    return bool({*_FILES, "manifest.json"} & set(os.listdir(model_dir)))


def check_replaceable(model_dir, preserve: tuple[str, ...] = ()) -> None:
    """Raises `ArtifactError` unless `model_dir` can take a new artifact: it is absent, empty,
    or holds only an artifact's files and the `preserve`d entries (checkpoints, logs).

    Saving replaces the whole directory, so a directory with anything else in it (a user's
    own files, a mistyped parent such as ``runs``) is refused instead of deleted.
    """
    model_dir = os.fspath(model_dir)
    if os.path.islink(model_dir):  # saving replaces the directory, which a link is not
        raise ArtifactError(
            f"{arg('model_dir')} '{model_dir}' is a symbolic link; pass the directory it points to "
            f"('{os.path.realpath(model_dir)}')")
    if not os.path.exists(model_dir):
        return
    if not os.path.isdir(model_dir):
        raise ArtifactError(f"{arg('model_dir')} '{model_dir}' is a file, not a directory")
    ours = {*_FILES, "manifest.json", "checkpoints", *preserve}  # checkpoints: the default name
    foreign = sorted(set(os.listdir(model_dir)) - ours)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise ArtifactError(
            f"model directory '{model_dir}' holds files that are not part of a vae-augment "
            f"artifact ({shown}); saving would delete them. Choose a new "
            f"{option('model_dir')}, or "
            f"empty this one")


def read_artifact_meta(model_dir: str) -> tuple[Encoding, dict[str, Any]]:
    """Checks the manifest and format version; returns (encoding, config) without TF."""
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        raise ArtifactError(f"{arg('model_dir')} '{model_dir}' is not a directory")
    try:  # without search permission its files looked missing ("is it an artifact?")
        os.stat(os.path.join(model_dir, "manifest.json"))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ArtifactError(f"cannot read model directory '{model_dir}': "
                            f"{exc.strerror or exc}") from exc
    for name in (*_FILES, "manifest.json"):
        if not os.path.isfile(os.path.join(model_dir, name)):
            raise ArtifactError(f"model directory '{model_dir}' has no {name}; is it an artifact?")
    manifest = _read_json_object(model_dir, "manifest.json")
    config = _read_json_object(model_dir, "config.json")
    version = config.get("format_version")
    valid = isinstance(version, int) and not isinstance(version, bool) and version >= 1
    if valid and version > FORMAT_VERSION:  # before the checksums: a newer one may differ
        raise ArtifactError(
            f"artifact '{model_dir}' has format version {version!r}; this vae-augment reads "
            f"versions up to {FORMAT_VERSION} (upgrade vae-augment)"
        )
    for name in _FILES:
        if manifest.get(name) != _sha256(os.path.join(model_dir, name)):
            raise ArtifactError(
                f"artifact file '{os.path.join(model_dir, name)}' does not match its checksum "
                "in manifest.json (modified or corrupt)"
            )
    if not valid:  # no upgrade reads it: not written by vae-augment, or edited
        raise ArtifactError(
            f"artifact file '{os.path.join(model_dir, 'config.json')}' has no valid "
            f"format_version ({version!r}); it was not written by vae-augment, or was edited")
    model_file = os.path.join(model_dir, "model.keras")
    if not zipfile.is_zipfile(model_file):  # Keras would say "File not found" of it
        raise ArtifactError(f"model file '{model_file}' is not a Keras archive (truncated or "
                            f"corrupt)")
    try:
        encoding_json = _read_json_object(model_dir, "encoding.json")
        encoding = Encoding.from_json(encoding_json)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ArtifactError):
            raise
        raise ArtifactError(
            f"artifact file '{os.path.join(model_dir, 'encoding.json')}' is not a vae-augment "
            f"encoding ({type(exc).__name__}: {exc})") from exc
    if "sampler_version" not in config:  # saved before it was recorded: dated by its encoding
        config = {**config, "sampler_version": _saved_sampler(encoding_json)}
    return encoding, config


def _saved_sampler(encoding_json: dict[str, Any]) -> int:
    """The `SAMPLER_VERSION` of an artifact saved before config.json recorded it: 0 when its
    features lack ``spike`` (FeatureSpec's field from 2026-12-02, the day after sampler
    version 1), else 1. An artifact saved on 2026-12-01 after version 1 counts as 0: a
    warning too many, never one too few."""
    features = encoding_json.get("features") or []
    if features and not all(isinstance(f, dict) and "spike" in f for f in features):
        return 0
    return 1


def warn_if_sampler_changed(artifact: Artifact) -> None:
    """Warns (`VAEAugmentWarning`) when `artifact` was saved by a vae-augment whose sampler
    generated other rows from it for the same seed than this one does."""
    from vae_augment.errors import warn

    saved = (artifact.config or {}).get("sampler_version", SAMPLER_VERSION)
    if not isinstance(saved, int) or isinstance(saved, bool) or saved >= SAMPLER_VERSION:
        return
    if saved == 0 and not _draws_changed_in_1(artifact):
        return
    where = f"artifact '{artifact.path}'" if artifact.path else "this artifact"
    warn(f"{where} was saved by an earlier vae-augment (sampler version {saved}, this "
         f"one's is {SAMPLER_VERSION}): the same seed now generates other rows from it "
         f"than it did then (the model is unchanged); re-fit it to record the current "
         f"sampler, or use the release that saved it to get its former rows")


def _draws_changed_in_1(artifact: Artifact) -> bool:
    """Whether sampler version 1 draws other rows from this version-0 artifact: it has a
    categorical column or a mixture (Gumbel-max draws) or a posterior bank (stratified
    slots). A model of numbers and images drawn from the prior (format 1's) gives the same."""
    model = artifact.model
    return (any(s.kind == "categorical" for s in artifact.encoding.specs)
            or (getattr(model, "num_components", 1) or 1) > 1
            or (getattr(model, "latent_source", None) == "posterior"
                and bool(getattr(model, "bank_size", 0))))


def _read_json_object(model_dir: str, name: str) -> dict[str, Any]:
    path = os.path.join(model_dir, name)
    try:
        with _opened(path, "r", encoding="utf-8") as f:
            value = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"artifact file '{path}' is not valid JSON (corrupt?): {exc}") from exc
    if not isinstance(value, dict):
        raise ArtifactError(f"artifact file '{path}' holds a JSON {type(value).__name__}, "
                            f"not an object (corrupt?)")
    return value


def load_artifact(model_dir: str) -> Artifact:
    """Loads an artifact with Keras safe_mode (no Lambda layers, no unknown classes).

    Raises:
        ArtifactError: missing files, checksum mismatch, newer format version, or a model
            file Keras refuses in safe mode.
    """
    # the files first: a mistyped directory is an error before TensorFlow's ~5 s import
    encoding, config = read_artifact_meta(model_dir)
    import vae_augment.model  # noqa: F401  (registers ConditionalVAE)
    from vae_augment._keras import keras

    model_file = os.path.join(model_dir, "model.keras")
    # the model's layers are built anew: under a caller's global policy (a Keras user's
    # mixed_float16) they would compute in float16 and generate other rows than the CLI's
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        model = keras.saving.load_model(
            model_file, safe_mode=True, compile=False
        )
    except Exception as exc:  # Keras raises ValueError/TypeError for unsafe or unknown objects
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(f"model file in '{model_dir}' was refused: {first}") from exc
    finally:
        keras.config.set_dtype_policy(policy)
    from vae_augment.model import ConditionalVAE

    if not isinstance(model, ConditionalVAE):
        raise ArtifactError(
            f"model file in '{model_dir}' holds a {type(model).__name__}, not a ConditionalVAE"
        )
    if model.layout != encoding.layout():
        raise ArtifactError(f"model and encoding in '{model_dir}' do not match")
    return Artifact(model, encoding, config, path=os.fspath(model_dir))
