"""Tensors with a Normal head: embeddings (1-d) drawn from it, images kept at its mean
(`float_tensors`, `Encoding.with_float_tensors`)."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST_ARGS, run_cli
from vae_augment import distributions as D
from vae_augment.encoding import Encoding
from vae_augment.training import TrainConfig, fit_encoding


def _table(n=400):
    """Independent N(0, 1) elements: the latent code carries almost none of them, so the
    head's mean given z is near 0 and only a draw keeps their spread."""
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, 12)).astype(np.float32)
    img = rng.normal(size=(n, 16)).astype(np.float32)
    return pa.table({
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 12),
        "img": pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.float32(), [4, 4]),
                                              pa.FixedSizeListArray.from_arrays(
                                                  pa.array(img.ravel()), 16)),
        "y": ["a"] * (n // 2) + ["b"] * (n // 2),
    })


def _sd(table, column, size):
    col = table.column(column).combine_chunks()
    if hasattr(col, "storage"):  # fixed_shape_tensor
        col = col.storage
    return float(col.flatten().to_numpy().reshape(-1, size).std(axis=0).mean())


@pytest.mark.parametrize("mode, emb_drawn, img_drawn", [("auto", True, False),
                                                         ("mean", False, False),
                                                         ("draw", True, True)])
def test_embeddings_keep_their_spread_and_images_their_means(tmp_path, capsys, mode, emb_drawn,
                                                             img_drawn):
    src = tmp_path / "t.parquet"
    pq.write_table(_table(), src)
    model = tmp_path / "m"
    code, _, err = run_cli(["fit", str(src), "--label", "y", "--model-dir", str(model),
                            *FAST_ARGS, "--float-tensors", mode], capsys)
    assert code == 0, err
    layout = Encoding.from_json(json.loads((model / "encoding.json").read_text())).layout()
    assert [bool(t.get("draw")) for t in layout["tensors"]] == [emb_drawn, img_drawn]
    out = tmp_path / "s.parquet"
    code, _, err = run_cli(["sample", str(out), "--model-dir", str(model),
                            "--n", "600", "--quiet"], capsys)  # the saved artifact loads
    assert code == 0, err
    synthetic = pq.read_table(out)
    assert synthetic.schema.field("img").type == _table().schema.field("img").type
    # a draw keeps the real per-element SD (1.0); the mean given z is near 0
    assert (_sd(synthetic, "emb", 12) > 0.7) is emb_drawn
    assert (_sd(synthetic, "img", 16) > 0.7) is img_drawn


def test_encodings_before_the_option_keep_their_layout_and_means():
    """An artifact saved before `draw` existed has no such key: its layout (which the loader
    compares with the model's) is unchanged and its tensors stay at the mean."""
    enc = fit_encoding(_table(), "y")
    assert [s.draw for s in enc.tensors] == [None, None]
    assert all("draw" not in t for t in enc.layout()["tensors"])
    assert enc.with_float_tensors("mean").layout() == enc.layout()
    auto = enc.with_float_tensors("auto")
    assert [s.draw for s in auto.tensors] == [True, False]
    assert enc.tensors[0].draw is None  # never mutated
    assert Encoding.from_json(json.loads(json.dumps(auto.to_json()))).layout() == auto.layout()
    assert auto.with_float_tensors("auto") is auto
    with pytest.raises(ValueError, match="float_tensors"):
        enc.with_float_tensors("sample")


def test_sample_features_follows_the_layout_unless_told():
    import tensorflow as tf

    raw = tf.concat([tf.fill([2000, 3], 2.0), tf.fill([2000, 3], 0.0)], axis=1)  # loc, scale
    seed = tf.constant([1, 2])
    for draw in (False, True):
        layout = {"n_num": 0, "n_null": 0, "cat_sizes": [],
                  "tensors": [{"shape": [3], "likelihood": "normal",
                               **({"draw": True} if draw else {})}]}
        out = D.sample_features(layout, {"tensor_0": raw}, seed)["tensor_0"].numpy()
        assert bool(out.std() > 0.1) is draw and abs(out.mean() - 2.0) < 0.1
        told = D.sample_features(layout, {"tensor_0": raw}, seed, tensor_mean=True)
        assert float(tf.math.reduce_std(told["tensor_0"])) == 0.0


def test_the_option_is_checked_and_resume_ignores_it(tmp_path):
    from vae_augment.errors import VAEAugmentError
    from vae_augment.training import _AFTER_TRAINING

    with pytest.raises(VAEAugmentError, match="float_tensors` must be one of"):
        TrainConfig(float_tensors="sample")
    assert "float_tensors" in _AFTER_TRAINING


def test_grid_steps_finds_scaled_pixels_and_nothing_else():
    from vae_augment.schema import grid_steps

    pixels = np.arange(256)
    assert grid_steps((pixels / 255).astype(np.float32).astype(np.float64)) == 255
    assert grid_steps((pixels / 127.5 - 1).astype(np.float32).astype(np.float64)) == 255
    assert grid_steps(np.arange(17) / 16.0) == 16
    assert grid_steps(np.array([0.0, 1.0, 1.0])) == 1
    assert grid_steps(np.random.default_rng(0).random(1000)) is None
    assert grid_steps(np.array([0.5]), known=None) is None  # once off the grid, always
    assert grid_steps(np.array([0.5, 0.25]), known=2) == 4  # a multiple of the known steps


def _float_images(n=300, scale=255.0):
    rng = np.random.default_rng(1)
    ints = rng.integers(0, 256, size=(n, 16))
    pixels = (ints.astype(np.float32) / np.float32(scale))
    storage = pa.FixedSizeListArray.from_arrays(pa.array(pixels.ravel()), 16)
    return pa.table({"img": storage, "y": ["a"] * (n - n // 3) + ["b"] * (n // 3)},
                    metadata={b"image_shape": b"4,4"})


def test_float_images_on_a_grid_get_a_count_head_and_stay_on_it(tmp_path, capsys):
    """Pixels scaled to [0, 1] (as Keras users store images) had a Normal head on
    standardised values: digits so scaled were told from real ones every time (C2ST 1.00)
    and lowered logistic regression's F1 under no balancing. They are now counts, as their
    uint8 originals, and synthetic pixels are on the same grid."""
    table = _float_images()
    enc = fit_encoding(table, "y")
    (spec,) = enc.tensors
    assert (spec.likelihood, spec.steps) == ("binomial", 255)
    assert enc.layout()["tensors"][0]["total_count"] == 255
    src = tmp_path / "t.parquet"
    pq.write_table(table, src)
    code, _, err = run_cli(["fit", str(src), "--label", "y", "--model-dir",
                            str(tmp_path / "m"), *FAST_ARGS], capsys)
    assert code == 0, err
    out = tmp_path / "s.parquet"
    code, _, err = run_cli(["sample", str(out), "--model-dir", str(tmp_path / "m"),
                            "--n", "200", "--quiet"], capsys)
    assert code == 0, err
    synthetic = pq.read_table(out)
    assert synthetic.schema.field("img").type == table.schema.field("img").type
    values = synthetic.column("img").combine_chunks().flatten().to_numpy()
    grid = np.arange(256, dtype=np.float32) / np.float32(255)
    assert np.isin(values, grid).all()  # the very float32 values the real pixels have
    assert len(np.unique(values)) > 50


def _merged(parts):
    """The encoding of `parts`' statistics merged (as the Beam statistics job does)."""
    from vae_augment.schema import SchemaStats
    from vae_augment.stats_merge import encoding_from_stats, merge_stats

    stats = []
    for part in parts:
        s = SchemaStats(part.schema, "y")
        s.update(part)
        stats.append(s)
    return encoding_from_stats(merge_stats(*stats))


def test_other_float_tensors_stay_normal_and_merged_stats_keep_the_grid():
    assert fit_encoding(_table(), "y").tensors[0].likelihood == "normal"
    merged = _merged([_float_images(scale=255.0), _float_images(scale=254.0)])  # no common grid
    assert (merged.tensors[0].likelihood, merged.tensors[0].steps) == ("normal", None)
    small = [pa.table({"img": pa.FixedSizeListArray.from_arrays(pa.array(v), 2), "y": ["a", "b"]})
             for v in (np.array([0.0, 0.5, 1.0, 0.5]), np.array([0.0, 1 / 3, 2 / 3, 1.0]))]
    merged = _merged(small)  # steps 2 and 3: 6
    assert (merged.tensors[0].likelihood, merged.tensors[0].steps) == ("binomial", 6)
    assert merged.layout()["tensors"][0]["total_count"] == 6
