"""Artifacts saved by earlier releases: loaded as they were, and told apart when this
release generates other rows from them for the same seed (no old checkout needed: the old
layout is written here as those releases wrote it)."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings

from vae_augment.artifact import SAMPLER_VERSION, load_artifact, read_artifact_meta
from vae_augment.errors import VAEAugmentWarning


def _rewrite_manifest(model_dir):
    manifest = {name: hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
                for name in ("model.keras", "encoding.json", "config.json")}
    (model_dir / "manifest.json").write_text(json.dumps(manifest))


def _as_saved_before(src, dst, *, spike: bool):
    """`src` as a release before config.json's sampler_version wrote it; `spike=False`: also
    before FeatureSpec.spike (2026-12-02), whose encodings have no such key."""
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    del config["sampler_version"]
    (dst / "config.json").write_text(json.dumps(config))
    if not spike:
        encoding = json.loads((dst / "encoding.json").read_text())
        for feature in encoding["features"]:
            del feature["spike"]
        (dst / "encoding.json").write_text(json.dumps(encoding))
    _rewrite_manifest(dst)
    return dst


def _sampler_warnings(model_dir) -> list[str]:
    from vae_augment.sampler import Sampler

    art = load_artifact(str(model_dir))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Sampler(art, guided=False)
    return [str(w.message) for w in caught if issubclass(w.category, VAEAugmentWarning)]


def test_saved_artifact_records_its_sampler(mixed_artifact):
    config = json.loads((mixed_artifact / "config.json").read_text())
    assert config["sampler_version"] == SAMPLER_VERSION
    assert not [m for m in _sampler_warnings(mixed_artifact) if "sampler version" in m]


def test_artifact_before_the_sampler_change_warns(tmp_path, mixed_artifact):
    """An artifact of 2026-11-24..12-01 (before Gumbel-max categories and stratified bank
    slots) loaded and sampled silently, every column of its rows other than its release's for
    the same seed."""
    old = _as_saved_before(mixed_artifact, tmp_path / "old", spike=False)
    _, config = read_artifact_meta(str(old))
    assert config["sampler_version"] == 0
    messages = _sampler_warnings(old)
    assert len(messages) == 1, messages
    assert "sampler version 0" in messages[0] and "re-fit" in messages[0]
    assert "\n" not in messages[0]


def test_artifact_after_the_sampler_change_does_not_warn(tmp_path, mixed_artifact):
    """Saved after version 1 but before config.json recorded it (features hold ``spike``):
    it generates what its release did, so no warning."""
    newer = _as_saved_before(mixed_artifact, tmp_path / "newer", spike=True)
    _, config = read_artifact_meta(str(newer))
    assert config["sampler_version"] == SAMPLER_VERSION
    assert not [m for m in _sampler_warnings(newer) if "sampler version" in m]


def test_tfdata_stream_of_an_artifact_before_the_sampler_change_warns(tmp_path, mixed_artifact):
    """tf.data's synthetic stream draws through the model, not the block Sampler."""
    from vae_augment.tfdata import synthetic_dataset

    old = _as_saved_before(mixed_artifact, tmp_path / "old", spike=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        synthetic_dataset(str(old), load_artifact(str(old)).classes[0], batch_size=4, seed=0)
    assert [w for w in caught if "sampler version 0" in str(w.message)]


def test_version_0_artifact_whose_draws_did_not_change_does_not_warn():
    """Format 1's models of numbers and images drew z from the prior: no category, mixture
    or posterior bank, so version 1 generates their rows as before (a3ffcd2's digits)."""
    from types import SimpleNamespace

    from vae_augment.artifact import Artifact, warn_if_sampler_changed

    def warned(kinds, **model):
        model = {"latent_source": "prior", "bank_size": 0, "num_components": 1, **model}
        art = Artifact(SimpleNamespace(**model),
                       SimpleNamespace(specs=[SimpleNamespace(kind=k) for k in kinds]),
                       {"sampler_version": 0}, path="old")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_if_sampler_changed(art)
        return bool(caught)

    assert not warned(["numeric", "tensor"])
    assert warned(["numeric", "categorical"])
    assert warned(["numeric"], latent_source="posterior", bank_size=1024)
    assert warned(["numeric"], num_components=3)


def test_artifact_before_the_sampler_change_saved_again_still_warns(tmp_path, mixed_artifact):
    """Re-saved with its own sampler version, an old artifact keeps its warning (saved as
    today's version, it sampled other rows for a seed than its release did, silently)."""
    from vae_augment.artifact import save_artifact

    art = load_artifact(str(_as_saved_before(mixed_artifact, tmp_path / "old", spike=False)))
    save_artifact(str(tmp_path / "again"), art.model, art.encoding,
                  sampler_version=art.config["sampler_version"])
    assert read_artifact_meta(str(tmp_path / "again"))[1]["sampler_version"] == 0
    assert [m for m in _sampler_warnings(tmp_path / "again") if "sampler version 0" in m]
