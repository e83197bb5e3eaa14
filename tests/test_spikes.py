"""Spike indicators for numeric columns (`TrainConfig.spike_share`, `Encoding.with_spikes`)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from vae_augment import distributions as D
from vae_augment.encoding import Encoding
from vae_augment.errors import VAEAugmentError
from vae_augment.schema import QUANTILE_KNOTS
from vae_augment.training import TrainConfig

from .conftest import (
    FAST,
    check_oversampler_option,
    cli_train_config,
    column_values,
    make_tied_table,
    tied_encoding,
)


@pytest.fixture(scope="module")
def table():
    # 70 % zeros (85 % in class b), the rest log-normal amounts; 10 % null
    return make_tied_table(b_share=0.25, zero_rates=(0.65, 0.85))


@pytest.fixture(scope="module")
def plain(table):
    return tied_encoding(table)


@pytest.fixture(scope="module")
def spiked(plain):
    return plain.with_spikes(0.25)


def _decode(enc, x):
    return enc.decode_tf({"num": tf.constant(x["num"]), "cat": tf.constant(x["cat"]),
                          "nulls": tf.constant(x["nulls"])})


def test_the_large_tie_gets_an_indicator(plain, spiked):
    assert spiked.spike_columns == ["zeros"]
    assert [s.spike for s in spiked.numeric] == [0.0, None, None]
    assert plain.with_spikes(0.0) is plain  # nothing changes: the same object
    assert plain.spike_columns == []  # never mutated
    assert plain.with_spikes(0.9).spike_columns == []  # the zeros hold ~70 %, under 90 %
    assert plain.with_spikes(0.1).spike_columns == ["zeros", "count"]  # Poisson(6)'s mode
    assert spiked.with_spikes(0.0).spike_columns == []
    with pytest.raises(ValueError, match="share"):
        plain.with_spikes(1.5)


def test_layout_counts_the_indicators_after_the_nulls(plain, spiked):
    base = plain.layout()
    assert "num_spike_idx" not in base and "num_knots" not in base  # as before spikes
    lay = spiked.layout()
    assert lay["n_null"] == base["n_null"] + 1 == 2
    assert lay["num_null_idx"] == base["num_null_idx"] == [0, -1, -1]
    assert lay["num_spike_idx"] == [1, -1, -1]
    # the zeros' run of knots collapses to one knot; the other columns keep all of them
    k = lay["num_knots"]
    assert k[1:] == [QUANTILE_KNOTS, QUANTILE_KNOTS]
    assert 0.2 * QUANTILE_KNOTS < k[0] < 0.45 * QUANTILE_KNOTS


def test_encoding_round_trips_exactly(spiked, table):
    x = spiked.encode(table)
    real = column_values(table, "zeros")
    null, spike = x["nulls"][:, 0] > 0, x["nulls"][:, 1] > 0
    np.testing.assert_array_equal(null, np.isnan(real))
    np.testing.assert_array_equal(spike, real == 0)  # never on a null row
    assert not (x["num"][null | spike, 0]).any()  # both stored as 0
    dec = _decode(spiked, x)
    for name in ("zeros", "count", "cont"):
        col = column_values(table, name)
        ok = ~np.isnan(col)
        np.testing.assert_allclose(dec[name][0].numpy()[ok], col[ok], rtol=1e-6, atol=1e-9,
                                   err_msg=name)
    np.testing.assert_array_equal(dec["zeros"][1].numpy(), null)


def test_the_rest_of_the_column_gets_the_whole_normal_range(plain, spiked, table):
    """Without the indicator the amounts sit in the top 30 % of the scale, above the zeros'
    midpoint; with it they are N(0, 1) on their own."""
    rest = ~np.isnan(column_values(table, "zeros")) & (column_values(table, "zeros") != 0)
    before = plain.encode(table)["num"][rest, 0]
    after = spiked.encode(table)["num"][rest, 0]
    assert before.min() > 0.3
    assert after.mean() == pytest.approx(0.0, abs=0.05)
    assert after.std() == pytest.approx(1.0, abs=0.06)


def test_decoding_follows_the_indicator(spiked):
    n = 4000
    num = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    cat = np.zeros((n, 0), np.int32)
    for flag in (0.0, 1.0):
        nulls = np.zeros((n, 2), np.float32)
        nulls[:, 1] = flag
        dec = spiked.decode_tf({"num": tf.constant(num), "cat": tf.constant(cat),
                                "nulls": tf.constant(nulls)})
        zeros = dec["zeros"][0].numpy()
        if flag:
            assert (zeros == 0).all()
        else:  # only the lowest draws (under Φ⁻¹(ε)) reach the spike's knot
            assert (zeros == 0).mean() < 0.005 and zeros.min() >= 0
        # the other columns decode as without the indicator
        plain_dec = spiked.with_spikes(0.0).decode_tf(
            {"num": tf.constant(num), "cat": tf.constant(cat), "nulls": tf.constant(nulls[:, :1])})
        np.testing.assert_array_equal(dec["count"][0].numpy(), plain_dec["count"][0].numpy())


def test_the_likelihood_skips_the_spike_rows_numeric_value(spiked, table):
    x = {k: tf.constant(v[:256]) for k, v in spiked.encode(table).items()}
    lay = spiked.layout()
    params = {"num_loc": tf.zeros([256, 3]), "num_scale": tf.zeros([256, 3]),
              "null_logits": tf.zeros([256, 2])}
    base = D.feature_log_prob(lay, params, x)["num"].numpy()
    absent = (x["nulls"].numpy() > 0).any(axis=1)  # null or the spike
    assert absent.sum() > 100 and (~absent).sum() > 30
    moved = x["num"].numpy().copy()
    moved[:, 0] += 1.0  # the zeros column only
    other = D.feature_log_prob(lay, params, {**x, "num": tf.constant(moved)})["num"].numpy()
    np.testing.assert_array_equal(other[absent], base[absent])
    assert (other[~absent] != base[~absent]).all()
    mask = D.absent_numeric(lay, x["nulls"], 256).numpy()
    np.testing.assert_array_equal(mask[:, 0], (x["nulls"].numpy()[:, :2] > 0).any(axis=1))
    assert not mask[:, 1:].any()


def test_dequantization_leaves_the_spike_rows_and_decodes_exactly(spiked, table):
    x = spiked.encode(table)
    tab = spiked.tie_halfwidths()
    assert tab is not None and tab.shape == (3, 2 * QUANTILE_KNOTS - 1)
    out = D.dequantize_numeric(spiked.layout(), x, tab, tf.constant([3, 4])).numpy()
    absent = x["nulls"].max(axis=1) > 0
    np.testing.assert_array_equal(out[absent, 0], 0.0)  # null and spike rows untouched
    assert (out[:, 1] != x["num"][:, 1]).mean() > 0.95  # the counts still spread
    dec = _decode(spiked, {**x, "num": out})
    for name in ("zeros", "count", "cont"):
        col = column_values(table, name)
        ok = ~np.isnan(col)
        np.testing.assert_allclose(dec[name][0].numpy()[ok], col[ok], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_json_keeps_the_spikes_and_reads_older_files(plain, spiked):
    again = Encoding.from_json(json.loads(json.dumps(spiked.to_json())))
    assert again.spike_columns == ["zeros"] and again.layout() == spiked.layout()
    old = plain.to_json()
    for spec in old["features"]:
        spec.pop("spike")  # encodings written before the option
    assert Encoding.from_json(old).layout() == plain.layout()


def test_fit_and_sample_with_spike_share(table, tmp_path):
    from vae_augment.api import fit, sample
    from vae_augment.artifact import load_artifact

    cfg = {**FAST, "epochs": 8}
    art = fit(table, label="label", model_dir=str(tmp_path / "m"), seed=0, spike_share=0.25,
              **cfg)
    assert art.config["train_config"]["spike_share"] == 0.25
    assert art.encoding.spike_columns == ["zeros"]
    assert art.model.layout == art.encoding.layout()
    syn = sample(art, {"b": 2000}, seed=1)
    zeros = column_values(syn, "zeros")
    present = zeros[~np.isnan(zeros)]
    # the indicator has learned the zeros' share (85 % of b's non-null rows)
    assert 0.6 < (present == 0).mean() < 0.97
    assert present.min() >= 0
    again = load_artifact(str(tmp_path / "m"))
    assert again.encoding.spike_columns == ["zeros"]
    assert sample(again, {"b": 2000}, seed=1).equals(syn)
    off = fit(table, label="label", model_dir=str(tmp_path / "off"), seed=0, **cfg)
    assert off.encoding.spike_columns == [] and "num_spike_idx" not in off.model.layout


def test_guided_selection_with_spikes(table, tmp_path):
    """The guide and the redraw loop see the indicator slots like the null slots."""
    from vae_augment.api import fit, sample

    art = fit(table, label="label", model_dir=str(tmp_path / "g"), seed=0, spike_share=0.25,
              dequantize=True, **{**FAST, "candidates": 3})
    syn = sample(art, {"b": 500}, seed=2, guided=True)
    assert syn.num_rows == 500
    zeros = column_values(syn, "zeros")
    assert np.nanmin(zeros) >= 0


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "a", None])
def test_spike_share_is_validated(bad):
    with pytest.raises(VAEAugmentError, match="`spike_share` must be in"):
        TrainConfig(spike_share=bad)


def test_cli_flag(mixed_parquet, tmp_path, capsys):
    from vae_augment.cli import build_parser

    assert build_parser().parse_args(["fit", "x", "--label", "y", "--model-dir", "m"]).spike_share is None  # -> 0
    config = cli_train_config(mixed_parquet, tmp_path / "b", capsys, "--spike-share", "0.3")
    assert config["spike_share"] == 0.3


def test_oversampler_takes_spike_share():
    from vae_augment.imblearn import VAEOverSampler

    assert VAEOverSampler().get_params()["spike_share"] is None  # 0.25 for sparse X, else 0
    rng = np.random.default_rng(0)
    X = np.column_stack([np.where(rng.random(40) < 0.6, 0.0, rng.normal(5, 1, 40)),
                         rng.normal(size=40)])
    check_oversampler_option("spike_share", 0.25, X, bad=2.0)
