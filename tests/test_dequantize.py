"""Uniform dequantization of tied numerics in training (`TrainConfig.dequantize`)."""


import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from vae_augment import distributions as D
from vae_augment.errors import VAEAugmentError
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
    return make_tied_table()


@pytest.fixture(scope="module")
def encoding(table):
    return tied_encoding(table)


def test_tie_table_marks_the_tied_columns_only(encoding):
    table = encoding.tie_halfwidths()
    assert table.shape == (3, 2 * 1025 - 1)
    zeros, count, cont = (table > 0).sum(axis=1)
    assert zeros >= 1 and count >= 10  # the zero spike; every count value fills knots
    assert cont == 0
    # the zeros fill about 70 % of the quantile range: half-width ~0.35
    assert table[0].max() == pytest.approx(0.35, abs=0.03)


def test_no_ties_no_table():
    from vae_augment.preparation import fit_encoding

    rng, n = np.random.default_rng(1), 3000  # more rows than quantile knots: no ties
    t = pa.table({"x": rng.normal(size=n), "label": np.where(rng.random(n) < 0.5, "a", "b")})
    assert fit_encoding(t, label="label").tie_halfwidths() is None


def test_fewer_rows_than_knots_are_not_ties():
    """The quantile knots interpolate between the sorted values. They were the sorted values
    themselves (`inverted_cdf`), so with fewer rows than knots each value filled 2-3 knots:
    a tie, which decoding maps back to the value. Synthetic draws of a continuous column on
    a 300-row table then copied a real value in about 70 % of the cells."""
    from vae_augment.preparation import fit_encoding

    rng, n = np.random.default_rng(2), 300
    x = rng.normal(size=n)
    t = pa.table({"x": x, "label": np.where(rng.random(n) < 0.5, "a", "b")})
    enc = fit_encoding(t, label="label")
    assert enc.tie_halfwidths() is None
    draws = tf.random.stateless_normal([4000, 1], seed=[0, 1], dtype=tf.float32)
    values = enc._numeric_tf({"num": draws}, absent=False)[0].numpy()[:, 0]
    assert np.isin(values, x).mean() < 0.01
    assert values.min() >= x.min() and values.max() <= x.max()
    # a value the table holds twice or more is still a tie, and decodes to itself
    x[:40] = 1.5
    enc = fit_encoding(pa.table({"x": x, "label": t["label"]}), label="label")
    assert (enc.tie_halfwidths() > 0).sum() == 1
    values = enc._numeric_tf({"num": draws}, absent=False)[0].numpy()[:, 0]
    assert 0.08 < np.mean(values == 1.5) < 0.2  # 40 of 300 rows: 13 %


def test_dequantized_values_decode_to_the_same_values(encoding, table):
    x = encoding.encode(table)
    out = D.dequantize_numeric(encoding.layout(), x, encoding.tie_halfwidths(),
                               tf.constant([3, 4])).numpy()
    moved = out != x["num"]
    null = x["nulls"][:, 0] > 0
    assert not moved[null, 0].any()  # nulls' placeholders untouched
    assert moved[~null, 0].mean() > 0.6 and moved[:, 1].mean() > 0.95
    assert not moved[:, 2].any()  # the untied column untouched
    dec = encoding.decode_tf({"num": tf.constant(out), "cat": tf.constant(x["cat"]),
                              "nulls": tf.constant(x["nulls"])})
    for name in ("zeros", "count", "cont"):
        real = column_values(table, name)
        ok = ~np.isnan(real)
        np.testing.assert_allclose(dec[name][0].numpy()[ok], real[ok], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_dequantized_marginals_are_standard_normal(encoding, table):
    """The midpoints leave a spike (the zeros: sd far under 1); spread, each column is
    N(0, 1) on the quantile-normal scale, as the map intends."""
    x = encoding.encode(table)
    out = D.dequantize_numeric(encoding.layout(), x, encoding.tie_halfwidths(),
                               tf.constant([5, 6])).numpy()
    present = x["nulls"][:, 0] == 0
    assert x["num"][present, 0].std() < 0.85
    for j, rows in ((0, present), (1, slice(None))):
        assert out[rows, j].std() == pytest.approx(1.0, abs=0.05)
        assert out[rows, j].mean() == pytest.approx(0.0, abs=0.05)
    # within the zeros' interval the probability is uniform: its mean is the midpoint
    from scipy.special import ndtr

    zero = present & (column_values(table, "zeros") == 0)
    p = ndtr(out[zero, 0])
    assert p.min() < 0.05 and p.max() > 0.6
    assert p.mean() == pytest.approx(0.5 * (p.min() + p.max()), abs=0.02)


def test_dequantization_compiles_with_xla(encoding, table):
    x = encoding.encode(table)
    table_ = encoding.tie_halfwidths()
    fn = tf.function(lambda num, nulls: D.dequantize_numeric(
        encoding.layout(), {"num": num, "nulls": nulls}, table_, tf.constant([1, 2])),
        jit_compile=True)
    out = fn(tf.constant(x["num"]), tf.constant(x["nulls"])).numpy()
    dec = encoding.decode_tf({"num": tf.constant(out), "cat": tf.constant(x["cat"]),
                              "nulls": tf.constant(x["nulls"])})
    real = column_values(table, "count")
    np.testing.assert_array_equal(dec["count"][0].numpy(), real)


def _model(encoding):
    from vae_augment.model import ConditionalVAE

    return ConditionalVAE(encoding.layout(), latent_dim=4, hidden=(16,), seed=0)


def test_only_training_steps_see_spread_targets(encoding, table):
    x = {k: tf.constant(v[:64]) for k, v in encoding.encode(table).items()}
    model = _model(encoding)
    assert "x_num" not in model(x, training=True)  # no table: as before
    with pytest.raises(ValueError, match="3 rows"):
        model.set_dequantization(np.zeros((2, 5)))
    model.set_dequantization(encoding.tie_halfwidths())
    params = model(x, training=True)
    moved = params["x_num"].numpy() != x["num"].numpy()
    assert moved[:, 1].mean() > 0.9 and not moved[:, 2].any()
    assert "x_num" not in model(x, training=False)  # validation, scoring, encoding
    # the loss scores the spread targets, not the midpoints
    spread = {**x, "num": params["x_num"]}
    plain = {k: v for k, v in params.items() if k != "x_num"}
    loss = model.compute_loss(x, y_pred=params, training=False)
    assert float(loss) == pytest.approx(float(model.compute_loss(spread, y_pred=plain,
                                                                 training=False)))
    assert float(loss) != pytest.approx(float(model.compute_loss(x, y_pred=plain,
                                                                 training=False)))


def test_validation_batches_get_the_same_noise_every_pass(encoding, table):
    """In memory the spread rows are computed once; streamed, a map spreads each pass's
    batches. Both give the same rows, the same on every pass."""
    from vae_augment.streaming import InMemorySource
    from vae_augment.training import _dequantized_validation

    source = InMemorySource(encoding.encode(table), validation_split=0.3, seed=0)

    class Streamed:  # a streamed source's validation pass over the same rows
        streaming = True
        n_val = source.n_val

        @staticmethod
        def validation_dataset(batch_size):
            return tf.data.Dataset.from_tensor_slices(source.val).batch(batch_size)

    tab, layout = encoding.tie_halfwidths(), encoding.layout()
    passes = [np.concatenate([b["num"].numpy() for b in ds])
              for ds in (_dequantized_validation(layout, source, 256, tab, 0),
                         _dequantized_validation(layout, Streamed, 256, tab, 0))
              for _ in range(2)]
    for other in passes[1:]:
        np.testing.assert_array_equal(passes[0], other)
    assert (passes[0][:, 1] != source.val["num"][:, 1]).mean() > 0.95
    other_seed = _dequantized_validation(layout, source, 256, tab, 1)
    assert not np.array_equal(np.concatenate([b["num"].numpy() for b in other_seed]), passes[0])
    plain = _dequantized_validation(layout, source, 256, None, 0)
    np.testing.assert_array_equal(np.concatenate([b["num"].numpy() for b in plain]),
                                  source.val["num"])


def test_fit_dequantizes_when_asked(table, tmp_path):
    from vae_augment.api import fit, sample
    from vae_augment.training import TrainConfig

    art = fit(table, label="label", model_dir=str(tmp_path / "on"), seed=0, dequantize=True,
              **FAST)
    assert art.config["train_config"]["dequantize"] is True
    off = fit(table, label="label", model_dir=str(tmp_path / "off"), seed=0,
              dequantize=False, **FAST)
    assert off.config["train_config"]["dequantize"] is False
    assert TrainConfig().dequantize is True  # the default (the guided setting)
    assert art.model.tie_table is not None and off.model.tie_table is None
    a = sample(art, {"b": 500}, seed=1)
    b = sample(off, {"b": 500}, seed=1)
    assert not a.equals(b)  # trained on other targets
    # either way every generated count is one of the column's values
    seen = set(table["count"].to_pylist())
    assert set(a["count"].to_pylist()) <= seen | {None}
    assert set(b["count"].to_pylist()) <= seen | {None}
    again = fit(table, label="label", model_dir=str(tmp_path / "again"), seed=0,
                dequantize=True, **FAST)
    assert sample(again, {"b": 500}, seed=1).equals(a)  # seeded: reproducible


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_dequantize_is_validated(bad):
    with pytest.raises(VAEAugmentError, match="`dequantize` must be True or False"):
        TrainConfig(dequantize=bad)


def test_cli_flag_turns_it_on(mixed_parquet, tmp_path, capsys):
    config = cli_train_config(mixed_parquet, tmp_path / "m", capsys, "--dequantize")
    assert config["dequantize"] is True


def test_oversampler_takes_dequantize():
    from vae_augment import GUIDED, UNGUIDED
    from vae_augment.imblearn import VAEOverSampler

    assert VAEOverSampler().get_params()["dequantize"] is True
    assert VAEOverSampler(**GUIDED).get_params()["dequantize"] is True
    assert VAEOverSampler(**UNGUIDED).get_params()["dequantize"] is False
    check_oversampler_option(
        "dequantize", True,
        np.random.default_rng(0).integers(0, 30, size=(40, 2)).astype(float))
