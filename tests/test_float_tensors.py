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
