"""Quality knobs: observed decimal precision, prior/sampling options, config round trips."""

import json

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from vae_augment.encoding import Encoding
from vae_augment.schema import FeatureSpec, observed_decimals
from vae_augment.training import default_beta, fit_encoding


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.0, 2.0, -3.0], 0),
        ([45.07, 27.47, 0.5], 2),
        ([0.1, 0.25, 1e6 + 0.5], 2),
        (np.float32([0.1, 0.7, 12.3]).astype(np.float64), 1),  # float32 noise still 1 place
        ([1.0 / 3.0], None),
        ([], 0),
    ],
)
def test_observed_decimals(values, expected):
    assert observed_decimals(np.asarray(values, np.float64)) == expected


def test_full_precision_float64_columns_are_not_rounded():
    """float32's tolerance on float64 data made every full-precision value of 5 or more
    count as having 6 places, and of 5e6 or more as a whole number: synthetic prices of
    5e6-9e6 were all whole, and rounding after the clip to the range put 0.07 % of them
    under the least real value (a small-table audit)."""
    rng = np.random.default_rng(0)
    for low, high in ((5.0, 15.0), (5e6, 9e6)):
        values = rng.uniform(low, high, 200)
        assert observed_decimals(values) is not None  # float32's tolerance: rounded
        assert observed_decimals(values, float64=True) is None
    # values that float64 arithmetic left an ulp or a few off their places still have them
    assert observed_decimals(np.array([0.1 + 0.2, 19.99, 1e6 + 0.5, 3 * 1.1]), True) == 2
    t = pa.table({"price": rng.uniform(5e6, 9e6, 200), "x32": np.float32(rng.uniform(5, 15, 200)),
                  "cents": np.round(rng.uniform(0, 100, 200), 2), "y": ["a", "b"] * 100})
    dec = {s.name: s.decimals for s in fit_encoding(t, "y").numeric}
    assert dec == {"price": None, "x32": 6, "cents": 2}  # float32 data keeps its tolerance


def _table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return pa.table({
        "money": pa.array(rng.normal(50, 10, n).round(2)),
        "ratio": pa.array(rng.random(n)),  # full precision: no rounding
        "whole": pa.array(rng.normal(5, 2, n).round(0)),
        "y": pa.array(rng.choice(["a", "b"], n, p=[0.8, 0.2])),
    })


def test_decimals_fitted_streaming_and_serialised():
    table = _table()
    enc = fit_encoding(table, "y")
    by = {s.name: s for s in enc.specs}
    assert (by["money"].decimals, by["ratio"].decimals, by["whole"].decimals) == (2, None, 0)
    # batches seen one at a time give the same answer as the whole table
    batched = fit_encoding(pa.Table.from_batches(table.to_batches(max_chunksize=7)), "y")
    assert [s.decimals for s in batched.specs] == [s.decimals for s in enc.specs]
    back = Encoding.from_json(json.loads(json.dumps(enc.to_json())))
    assert [s.decimals for s in back.specs] == [2, None, 0]
    # an encoding written before the field existed still loads (no rounding)
    old = enc.to_json()
    for f in old["features"]:
        f.pop("decimals")
    assert all(s.decimals is None for s in Encoding.from_json(old).specs)


def test_decode_rounds_to_observed_decimals():
    enc = fit_encoding(_table(), "y")
    rng = np.random.default_rng(1)
    gen = {"num": tf.constant(rng.normal(size=(500, 3)), tf.float32),
           "nulls": tf.zeros((500, 0)), "cat": tf.zeros((500, 0), tf.int32)}
    out = {k: v.numpy() for k, (v, _) in enc.decode_tf(gen).items()}
    money, ratio, whole = out["money"], out["ratio"], out["whole"]
    np.testing.assert_allclose(money * 100, np.rint(money * 100), atol=1e-6)
    np.testing.assert_array_equal(whole, np.rint(whole))
    assert np.mean(np.abs(ratio * 100 - np.rint(ratio * 100)) > 1e-3) > 0.5  # not rounded
    assert len(np.unique(money)) > 100  # rounding keeps the spread
    # the real values survive the round trip exactly
    table = _table()
    x = enc.encode(table, float_dtype=np.float64)
    dec = enc.decode_tf({k: tf.constant(v) for k, v in x.items() if k != "y"})
    np.testing.assert_array_equal(dec["money"][0].numpy(), table.column("money").to_numpy())


def test_featurespec_default_has_no_rounding():
    assert FeatureSpec(name="x", kind="numeric").decimals is None


# ---------------------------------------------------------------------- model options
@pytest.fixture(scope="module")
def tiny_model(mixed_table):
    from vae_augment.api import fit

    from .conftest import FAST

    return fit(mixed_table.drop_columns(["img"]), label="label", seed=0, **FAST)


def test_posterior_bank_filled_by_training(tiny_model):
    model, enc = tiny_model.model, tiny_model.encoding
    assert model.latent_source == "posterior" and model.bank_size > 0
    counts = np.array([enc.class_counts[c] for c in enc.classes])
    epochs = tiny_model.config["metrics"]["epochs_run"]
    filled = model.bank_filled.numpy()
    # every class seen in training has posteriors stored: one per training row and epoch (a
    # ring buffer of the most recent ones), never more than bank_size
    assert np.all(filled > 0) and np.all(filled <= np.minimum(epochs * counts, model.bank_size))
    assert filled[0] > filled[2]  # the majority class wrote more
    loc = model.bank_loc.numpy()
    for c in range(len(enc.classes)):
        assert np.abs(loc[c, : filled[c]]).sum() > 0
        assert np.all(loc[c, filled[c]:] == 0)


def test_generate_from_posterior_bank_is_seeded_and_near_stored_posteriors(tiny_model):
    model = tiny_model.model
    y = tf.constant([0] * 64 + [2] * 64, tf.int32)
    a = model.generate(y, tf.constant([1, 2], tf.int32))
    b = model.generate(y, tf.constant([1, 2], tf.int32))
    c = model.generate(y, tf.constant([3, 4], tf.int32))
    np.testing.assert_array_equal(a["num"].numpy(), b["num"].numpy())
    assert not np.array_equal(a["num"].numpy(), c["num"].numpy())
    assert a["num"].shape == (128, model.layout["n_num"])
    # temperature 0: z is exactly a stored posterior mean of the class
    cold = ConditionalVAEWith(model, temperature=0.0, candidates=1)  # no selection
    cold.set_weights(model.get_weights())
    z_drawn = _z_of(cold, y, tf.constant([5, 6], tf.int32))
    bank = model.bank_loc.numpy()
    for row, cls in zip(z_drawn, y.numpy()):
        stored = bank[cls, : model.bank_filled.numpy()[cls]]
        assert np.min(np.abs(stored - row).max(axis=1)) < 1e-6
    # ... and generate decodes exactly those codes
    from vae_augment import distributions as D

    seeds = tf.random.experimental.stateless_split(tf.constant([5, 6], tf.int32), num=2)
    expected = D.sample_features(cold.layout, cold.decode_params(z_drawn, y), seeds[1])
    got = cold.generate(y, tf.constant([5, 6], tf.int32))
    np.testing.assert_allclose(got["num"].numpy(), expected["num"].numpy(), atol=1e-5)
    np.testing.assert_array_equal(got["cat"].numpy(), expected["cat"].numpy())


def ConditionalVAEWith(model, **changes):
    from vae_augment.model import ConditionalVAE

    config = model.get_config()
    config.update(changes)
    return ConditionalVAE.from_config(config)


def _z_of(model, y, seed):
    """The latent codes `generate` decodes at temperature 0 (recomputed from its seeds)."""
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    y32 = tf.cast(y, tf.int32)
    filled = tf.gather(model.bank_filled, y32)
    offset = tf.random.stateless_uniform(
        [], seed=tf.random.experimental.stateless_fold_in(seeds[0], 1), maxval=2**30,
        dtype=tf.int32)
    j = tf.math.floormod(offset + tf.range(tf.shape(y32)[0]), filled)  # stratified slots
    z = tf.gather_nd(model.bank_loc, tf.stack([y32, j], 1))
    return z.numpy()


def _slots_drawn(model, cls: int, rows: int, seed) -> np.ndarray:
    """Which stored posterior of class `cls` each of `rows` generated rows was drawn around
    (temperature 0: z is exactly a stored mean)."""
    cold = ConditionalVAEWith(model, temperature=0.0, candidates=1)
    cold.set_weights(model.get_weights())
    y = tf.fill([rows], cls)
    _, z, _ = cold._draw(y, tf.constant(seed, tf.int32), with_latent=True)
    stored = model.bank_loc.numpy()[cls, : model.bank_filled.numpy()[cls]]
    dist = np.abs(z.numpy()[:, None, :] - stored[None]).max(axis=2)
    assert np.all(dist.min(axis=1) < 1e-6)
    return dist.argmin(axis=1)


@pytest.mark.parametrize("rows", [7, 100, 1000])
def test_bank_slots_are_stratified_within_a_batch(tiny_model, rows):
    """Every stored posterior of a class gets the same number of rows of a one-class batch
    (within one), not a multinomial share; the seed rotates which ones get the extra row."""
    model = tiny_model.model
    cls = 2  # the smallest class: its slots are few, so uniform draws would pile up
    filled = int(model.bank_filled.numpy()[cls])
    assert 1 < filled < 1000
    slots = _slots_drawn(model, cls, rows, [3, 4])
    counts = np.bincount(slots, minlength=filled)
    assert counts.max() - counts.min() <= 1, counts
    # consecutive rows take consecutive slots from a seeded offset
    np.testing.assert_array_equal(np.diff(slots) % filled, np.ones(rows - 1, int))
    others = {int(_slots_drawn(model, cls, 1, [s, 4])[0]) for s in range(8)}
    assert len(others) > 1  # the offset moves with the seed


def test_options_config_round_trip_and_legacy(tiny_model, tmp_path):
    from vae_augment.artifact import load_artifact, save_artifact
    from vae_augment.model import ConditionalVAE

    model = tiny_model.model
    config = model.get_config()
    # a small table: the KL weight by its rows (`default_beta`), recorded in the config
    rows = sum(tiny_model.encoding.class_counts.values())
    assert tiny_model.config["train_config"]["beta"] == default_beta(rows) == 1.0
    assert {k: config[k] for k in ("beta", "latent_source", "bank_size", "temperature")} == {
        "beta": 1.0, "latent_source": "posterior", "bank_size": 1024, "temperature": 1.0}
    other = ConditionalVAEWith(model, beta=0.25, latent_source="prior", temperature=0.7)
    assert (other.beta, other.latent_source, other.temperature) == (0.25, "prior", 0.7)
    # a config written before the options existed means: prior sampling, no bank
    legacy = {k: v for k, v in config.items()
              if k not in ("beta", "latent_source", "bank_size", "temperature")}
    old = ConditionalVAE.from_config(legacy)
    assert (old.latent_source, old.bank_size, old.beta) == ("prior", 0, 1.0)
    assert not any("bank" in w.path for w in old.weights)
    # the bank survives save/load, and sampling from the loaded artifact is identical
    save_artifact(str(tmp_path / "m"), model, tiny_model.encoding)
    loaded = load_artifact(str(tmp_path / "m")).model
    np.testing.assert_array_equal(loaded.bank_loc.numpy(), model.bank_loc.numpy())
    y = tf.constant([1] * 16, tf.int32)
    s = tf.constant([9, 9], tf.int32)
    np.testing.assert_array_equal(loaded.generate(y, s)["num"].numpy(),
                                  model.generate(y, s)["num"].numpy())


@pytest.mark.parametrize("kwargs, match", [
    ({"latent_source": "bank"}, "latent_source"),
    ({"beta": 0.0}, "beta"),
    ({"bank_size": -1}, "bank_size"),
    ({"temperature": -0.1}, "temperature"),
])
def test_bad_options_name_the_argument(tiny_model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConditionalVAEWith(tiny_model.model, **kwargs)


def test_prior_source_ignores_bank(tiny_model):
    prior = ConditionalVAEWith(tiny_model.model, latent_source="prior")
    prior.set_weights(tiny_model.model.get_weights())
    y = tf.constant([0] * 32, tf.int32)
    s = tf.constant([1, 1], tf.int32)
    a = prior.generate(y, s)["num"].numpy()
    b = tiny_model.model.generate(y, s)["num"].numpy()
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_train_config_knobs_reach_the_model(mixed_table):
    """beta / latent_source / bank_size / temperature go from TrainConfig into the model."""
    from vae_augment.api import fit
    from vae_augment.errors import VAEAugmentError
    from vae_augment.training import TrainConfig

    from .conftest import FAST

    # a 300-row table with an image column: KL weight 0.5 (`default_beta`)
    art = fit(mixed_table, label="label", latent_source="prior", bank_size=16,
              temperature=0.5, **FAST)
    cfg = art.model.get_config()
    assert (cfg["beta"], cfg["latent_source"], cfg["bank_size"], cfg["temperature"]) == (
        0.5, "prior", 16, 0.5)
    assert art.config["train_config"]["beta"] == 0.5
    # a given weight wins over the small table's 1
    art = fit(mixed_table.drop_columns(["img"]).slice(0, 100), label="label", beta=0.7,
              **{**FAST, "epochs": 1})
    assert art.model.beta == art.config["train_config"]["beta"] == 0.7
    with pytest.raises(VAEAugmentError, match="`latent_source`"):
        TrainConfig(latent_source="nope")
    with pytest.raises(VAEAugmentError, match="`beta` must be a finite number > 0"):
        TrainConfig(beta=0)
    with pytest.raises(VAEAugmentError, match="`beta` must be a finite number > 0"):
        TrainConfig(beta="1")


def test_a_class_under_20_rows_is_noted_when_the_rows_set_the_kl_weight(mixed_table):
    """A table whose rows set the KL weight above 0.5 (`default_beta`) and that has a class of
    fewer than `SMALL_CLASS_ROWS` rows: `fit` warns that `beta=0.5` keeps more of such a
    class's traits (quality.md, sessions 45-46). Not with a weight given, nor when every class
    has 20 rows or more. A `VAEAugmentWarning`, which filters reach: it was a print to stderr,
    which a `VAEOverSampler(verbose=0)` made at every cross-validation fold."""
    import warnings

    from vae_augment.api import fit
    from vae_augment.errors import VAEAugmentWarning
    from vae_augment.training import SMALL_CLASS_ROWS

    from .conftest import FAST

    plain = mixed_table.drop_columns(["img"])
    kw = {**FAST, "epochs": 1}
    with pytest.warns(VAEAugmentWarning, match=r"KL weight 1, the default for a table of 100 "
                                               r"rows; class\(es\) \{'c': 17\} have fewer "
                                               r"than 20 rows") as caught:
        art = fit(plain.slice(0, 100), label="label", **kw)  # classes of 61 / 22 / 17 rows
    assert art.config["train_config"]["beta"] == 1.0 and SMALL_CLASS_ROWS == 20
    assert any("beta=0.5 keeps more of their own rows' traits" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        fit(plain.slice(0, 100), label="label", beta=1.0, **kw)  # the user's own weight
        fit(plain.slice(0, 200), label="label", **kw)  # weight 1; classes of 122 / 46 / 32 rows
    assert not [str(w.message) for w in later if "KL weight" in str(w.message)]


def test_default_beta_by_rows():
    """KL weight 1 on tables of up to 500 rows, 0.5 from 2,000 or with a tensor column,
    falling linearly in log(rows) between (quality.md, session 45)."""
    assert default_beta(1) == default_beta(120) == default_beta(500) == 1.0
    assert default_beta(2000) == default_beta(10**7) == 0.5
    assert default_beta(1000) == 0.75
    assert default_beta(707) == pytest.approx(0.875, abs=1e-3)
    assert default_beta(300, tensors=True) == default_beta(1000, tensors=True) == 0.5
    values = [default_beta(n) for n in range(450, 2100, 25)]
    assert values == sorted(values, reverse=True) and len(set(values)) > 50


def test_null_and_category_heads_start_at_the_training_rows_marginals():
    """A column null in 1 % of rows and a category level in 1 %: at Keras' zero biases those
    heads start at even odds, and a short fit left its synthetic rows near them (a 120-row
    table that early stopping ended after 53 epochs: 10.8 % null for 0.8 %; a 2-epoch fit
    here: about half). `training.start_at_marginals` starts each at its share's log-odds or
    log-frequency, so even a 2-epoch fit draws them about as often as the data has them."""
    from vae_augment.api import fit, sample
    from vae_augment.training import start_at_marginals

    from .conftest import FAST

    rng = np.random.default_rng(0)
    n = 400
    label = np.where(rng.random(n) < 0.75, "a", "b")
    x_null = np.zeros(n, bool)
    x_null[rng.choice(n, 4, replace=False)] = True
    cat = rng.choice(["p", "q", "r"], n).astype(object)
    cat[rng.choice(n, 4, replace=False)] = "rare"
    t = pa.table({"x": pa.array(rng.normal(size=n), mask=x_null), "c": cat.tolist(),
                  "label": label})
    art = fit(t, label="label", seed=0, **FAST)
    s = sample(art, {"a": 1000, "b": 1000}, seed=0)
    rare = np.asarray(s.column("c").to_pylist(), dtype=object) == "rare"
    assert s.column("x").null_count / s.num_rows < 0.05, s.column("x").null_count
    assert rare.mean() < 0.05, rare.mean()
    # the start itself: log-odds of (count + 0.5) / (rows + 1), centred log-frequencies
    rows = {"y": np.zeros(9, np.int32), "nulls": np.array([[1.0]] + [[0.0]] * 8, np.float32),
            "cat": np.array([[0]] * 6 + [[1]] * 3, np.int32)}

    class Head:
        def __init__(self, size):
            self.bias = tf.Variable(np.zeros(size, np.float32))

    class Model:
        null_head, cat_head, layout = Head(1), Head(3), {"cat_sizes": [3]}

    start_at_marginals(Model, rows)
    np.testing.assert_allclose(Model.null_head.bias.numpy(), [np.log(1.5 / 8.5)], rtol=1e-6)
    log_freq = np.log([6.5, 3.5, 0.5])
    np.testing.assert_allclose(Model.cat_head.bias.numpy(), log_freq - log_freq.mean(), rtol=1e-6)
