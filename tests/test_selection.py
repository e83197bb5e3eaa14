"""Class-consistency selection at generation: `candidates` and `ConditionalVAE.class_margin`."""

import numpy as np
import pytest
import tensorflow as tf

from .conftest import FAST, FAST_ARGS, run_cli


@pytest.fixture(scope="module")
def fitted(mixed_table):
    """A tiny fit over every column kind (numerics with nulls, categories, an image), with
    no class guide, so `candidates` selects by the class margin; every other setting (bank
    pruning among them, the default without a guide) the default."""
    from vae_augment.api import fit

    return fit(mixed_table, label="label", seed=0,
               **{**FAST, "guide_iterations": 0, "candidates": 1})


@pytest.fixture(scope="module")
def unpruned(mixed_table):
    """`fitted`'s run (the same seed and training settings) with `candidates=2` and
    `bank_keep=1.0`, two settings read only after training (`training._AFTER_TRAINING`), so
    the same weights and a full bank: one fit for the two tests that set them."""
    from vae_augment.api import fit

    return fit(mixed_table, label="label", seed=0, bank_keep=1.0,
               **{**FAST, "guide_iterations": 0, "candidates": 2})


@pytest.fixture(scope="module")
def model(fitted):
    """`fitted`'s model (the tests take copies of it, `_with`, to change settings)."""
    return fitted.model


def _with(model, **changes):
    from vae_augment.model import ConditionalVAE

    config = model.get_config()
    config.update(changes)
    other = ConditionalVAE.from_config(config)
    other.set_weights(model.get_weights())
    return other


def _neg_joint_as(model, encoded, z, cls, n):
    """-log p(x, z | cls) for every row, written out with tfd directly."""
    from vae_augment import distributions as D

    y = tf.fill([n], cls)
    x = model._complete(encoded, n)
    x["y"] = y
    params = model.decode_params(z, y)
    recon = sum(v.numpy() for v in D.feature_log_prob(model.layout, params, x).values())
    p_mu, p_sd = model.prior_params(y)
    return -recon - D.gaussian(p_mu, p_sd).log_prob(z).numpy().sum(1)


def test_class_margin_is_own_minus_best_other_joint(model):
    y = tf.constant([0, 1, 2] * 20, tf.int32)
    drawn, z, params = model._draw(y, tf.constant([3, 4], tf.int32), with_latent=True)
    n = int(y.shape[0])
    per_class = np.stack([_neg_joint_as(model, drawn, z, c, n) for c in range(model.n_classes)], 1)
    own = per_class[np.arange(n), y.numpy()]
    others = np.where(np.eye(model.n_classes, dtype=bool)[y.numpy()], np.inf, per_class)
    expected = own - others.min(1)
    np.testing.assert_allclose(model.class_margin(drawn, z, y, params).numpy(), expected,
                               rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(model.class_margin(drawn, z, y).numpy(), expected,
                               rtol=1e-4, atol=1e-3)
    assert np.all(np.isfinite(expected)) and expected.std() > 0


def test_candidates_keep_the_best_of_k_draws(model):
    k = 4
    picky = _with(model, candidates=k)
    y = tf.constant([0] * 30 + [1] * 30 + [2] * 30, tf.int32)
    seed = tf.constant([7, 8], tf.int32)
    got = picky.generate(y, seed)
    # the same k draws, recomputed: candidate j of row i is row j * n + i
    n = int(y.shape[0])
    draws, z, params = picky._draw(tf.tile(y, [k]), seed, with_latent=True)
    margins = picky.class_margin(draws, z, tf.tile(y, [k]), params).numpy().reshape(k, n)
    best = margins.argmin(0)
    pick = best * n + np.arange(n)
    for key, value in draws.items():
        np.testing.assert_array_equal(got[key].numpy(), value.numpy()[pick], err_msg=key)
        assert got[key].shape[0] == n
    chosen = margins[best, np.arange(n)]
    assert np.all(chosen <= margins.min(0) + 1e-6)
    assert chosen.mean() < margins[0].mean()  # selection moves rows towards their class
    assert len(set(best.tolist())) > 1  # not always the first draw


def test_one_candidate_is_the_unselected_draw(model):
    model = _with(model, candidates=1)
    y = tf.constant([2] * 16, tf.int32)
    seed = tf.constant([1, 1], tf.int32)
    plain, drawn = model.generate(y, seed), model._draw(y, seed)
    for key in plain:
        np.testing.assert_array_equal(plain[key].numpy(), drawn[key].numpy())


def test_candidates_config_round_trip_legacy_and_validation(model, tmp_path, mixed_table):
    from vae_augment.artifact import load_artifact, save_artifact
    from vae_augment.model import ConditionalVAE
    from vae_augment.training import fit_encoding

    picky = _with(model, candidates=3)
    save_artifact(str(tmp_path / "m"), picky, fit_encoding(mixed_table, "label"))
    loaded = load_artifact(str(tmp_path / "m")).model
    assert loaded.candidates == 3
    y, s = tf.constant([0, 1] * 8, tf.int32), tf.constant([2, 3], tf.int32)
    np.testing.assert_array_equal(loaded.generate(y, s)["num"].numpy(),
                                  picky.generate(y, s)["num"].numpy())
    legacy = {k: v for k, v in model.get_config().items() if k != "candidates"}
    assert ConditionalVAE.from_config(legacy).candidates == 1
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="candidates"):
            _with(model, candidates=bad)


def test_candidates_reach_the_model_from_fit_and_cli(unpruned, mixed_parquet, tmp_path, capsys):
    from vae_augment.artifact import load_artifact
    from vae_augment.errors import VAEAugmentError
    from vae_augment.training import TrainConfig

    # fit(mixed_table, label="label", seed=0, candidates=2, bank_keep=1.0, **FAST)
    assert unpruned.model.candidates == 2
    assert unpruned.config["train_config"]["candidates"] == 2
    with pytest.raises(VAEAugmentError, match="`candidates` must be a positive integer"):
        TrainConfig(candidates=0)
    code, _, err = run_cli(["fit", mixed_parquet, "--label", "label", "--model-dir",
                            tmp_path / "m", *FAST_ARGS, "--candidates", "3"], capsys)
    assert code == 0, err
    assert load_artifact(str(tmp_path / "m")).model.candidates == 3


def test_prune_bank_keeps_the_most_class_consistent_posteriors(model):
    full = _with(model, candidates=1)
    full.bank_loc.assign(model.bank_loc)  # set_weights already copied; be explicit
    before = full.bank_filled.numpy().copy()
    scores = [full.bank_scores(c, seed=5) for c in range(full.n_classes)]
    locs = full.bank_loc.numpy().copy()
    kept = full.prune_bank(0.25, [1000] * full.n_classes, seed=5, min_rows=1)
    assert kept == [int(np.ceil(0.25 * f)) for f in before]
    np.testing.assert_array_equal(full.bank_filled.numpy(), kept)
    for c in range(full.n_classes):
        order = np.argsort(scores[c], kind="stable")[: kept[c]]
        np.testing.assert_array_equal(full.bank_loc.numpy()[c, : kept[c]], locs[c, order])
        assert np.all(full.bank_loc.numpy()[c, kept[c]:] == 0)
        assert scores[c][order].max() <= np.sort(scores[c])[kept[c] - 1] + 1e-6
    # generation now draws only around the kept posteriors
    z = _latents_at_zero_temperature(full, c=1)
    stored = full.bank_loc.numpy()[1, : kept[1]]
    assert all(np.min(np.abs(stored - row).max(axis=1)) < 1e-6 for row in z)


def test_bank_scores_batched_over_classes_equal_one_class_at_a_time(model):
    """Pruning scores every class's rows in one batch (`_bank_scores`): the same numbers as
    each class alone, however the classes are grouped (`max_rows`). Bit for bit in sessions
    24-48; in session 49's machine a score in 30 differed in its 6th digit, on the code
    before that session too (CPU matrix kernels may depend on a batch's rows), so within
    float32's rounding."""
    m = _with(model)
    classes = list(range(m.n_classes))
    one = {c: m.bank_scores(c, seed=5) for c in classes}
    done = []
    together = m._bank_scores(classes, seed=5, on_class=done.append)
    apart = m._bank_scores(classes, seed=5, max_rows=1)  # each class its own batch
    assert done == [len(classes)]  # one batch of every class
    for c in classes:
        assert len(one[c]) == int(m.bank_filled.numpy()[c]) > 0
        np.testing.assert_allclose(together[c], one[c], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(apart[c], one[c], rtol=1e-5, atol=1e-5)
    assert not np.array_equal(m._bank_scores([1], seed=6)[1], one[1])  # the seed matters


def _latents_at_zero_temperature(model, c):
    cold = _with(model, temperature=0.0)
    cold.set_weights(model.get_weights())
    y = tf.fill([40], c)
    _, z, _ = cold._draw(y, tf.constant([1, 2], tf.int32), with_latent=True)
    return z.numpy()


def test_prune_bank_is_deterministic_for_a_seed(model):
    def pruned(seed):
        m = _with(model)
        kept = m.prune_bank(0.25, [1000] * m.n_classes, seed=seed, min_rows=1)
        return kept, m.bank_loc.numpy(), m.bank_scale.numpy()

    first, again, other = pruned(5), pruned(5), pruned(6)
    assert first[0] == again[0] == other[0]
    for a, b in zip(first[1:], again[1:]):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[1], other[1])  # the seed draws the scoring rows
    m = _with(model)
    np.testing.assert_array_equal(m.bank_scores(1, seed=5), m.bank_scores(1, seed=5))


def test_prune_bank_shows_a_progress_bar_of_the_classes_it_scores(model, capsys):
    """Scoring the bank is long work on many classes with an image decoder (10 s of a digits
    fit): a tqdm bar counts the classes scored, not those that keep their whole bank, and
    progress=False keeps it quiet."""
    m = _with(model)
    filled = m.bank_filled.numpy()
    rows = [10_000, 10_000, 1]  # the last class has one training row: it keeps its bank
    kept = m.prune_bank(0.25, rows, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "bank pruning" in err and "2/2" in err, err
    assert kept[2] == filled[2] and kept[0] < filled[0]
    _with(model).prune_bank(0.25, rows, seed=0, progress=False)
    assert "bank pruning" not in capsys.readouterr().err


def test_prune_bank_small_classes_keep_min_rows_and_keep_one_is_a_no_op(model):
    m = _with(model)
    before = m.bank_filled.numpy().copy()
    assert m.prune_bank(1.0) == before.tolist()
    # a class of 10 training rows keeps every entry when min_rows >= 10
    kept = m.prune_bank(0.1, [10] * m.n_classes, min_rows=10)
    assert kept == before.tolist()
    with pytest.raises(ValueError, match="keep"):
        m.prune_bank(0.0)


def test_fit_prunes_the_bank_by_default_without_a_guide(fitted, unpruned):
    from vae_augment.errors import VAEAugmentError
    from vae_augment.training import TrainConfig

    # with the class guide (the defaults) the whole bank is kept and a row gets up to 8
    # draws; without it, pruning is the default selection and a row gets one draw
    assert (TrainConfig().bank_keep, TrainConfig().candidates) == (1.0, 8)
    unguided = TrainConfig(guide_iterations=0)
    assert (unguided.bank_keep, unguided.candidates) == (0.25, 1)
    assert TrainConfig(guide_iterations=0, candidates=3, bank_keep=0.5).candidates == 3
    a = fitted  # fit(mixed_table, label="label", seed=0, guide_iterations=0, **FAST)
    assert a.config["train_config"]["bank_keep"] == 0.25
    b = unpruned  # the same run with bank_keep=1.0 (and candidates=2, read only in generation)
    assert b.config["train_config"]["bank_keep"] == 1.0
    kept, full = a.config["metrics"]["bank_kept"], b.model.bank_filled.numpy()
    assert "bank_kept" not in b.config["metrics"]
    assert list(a.model.bank_filled.numpy()) == kept
    assert all(k <= f for k, f in zip(kept, full)) and sum(kept) < sum(full)
    with pytest.raises(VAEAugmentError, match="bank_keep"):
        TrainConfig(bank_keep=0)


@pytest.mark.parametrize("name", ["epochs", "batch_size", "latent_dim", "candidates",
                                  "bank_size", "shuffle_buffer"])
@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3"])
def test_train_config_counts_are_positive_integers(name, value):
    from vae_augment.errors import VAEAugmentError
    from vae_augment.training import TrainConfig

    with pytest.raises(VAEAugmentError, match=f"`{name}` must be a positive integer"):
        TrainConfig(**{name: value})
    assert getattr(TrainConfig(**{name: 3}), name) == 3


def test_bank_scoring_of_large_images_holds_a_bounded_batch(model, monkeypatch):
    """Pruning scored 8,192 rows of 64x64x3 images at once (a class's rows were never
    split): 20 GB and 12 minutes of paging (session 32's image audit). A batch now holds
    at most `BANK_TENSOR_ELEMENTS` tensor elements, a large class in pieces of whole
    posteriors; classes that fit are scored as before, to the bit."""
    import vae_augment.selection as sel

    m = _with(model)
    classes = list(range(m.n_classes))
    before = m._bank_scores(classes, seed=5)
    per_row = sum(int(np.prod(t["shape"])) for t in m.layout["tensors"])
    assert per_row == 64  # the mixed table's 8x8 image
    sizes = []
    real = m.decode_params

    def counting(z, y, training=False):
        sizes.append(int(z.shape[0]))
        return real(z, y, training=training)

    monkeypatch.setattr(m, "decode_params", counting)
    monkeypatch.setattr(sel, "BANK_TENSOR_ELEMENTS", 64 * 8 * 3)  # 3 posteriors' draws
    done = []
    pieces = m._bank_scores(classes, seed=5, on_class=done.append)
    assert max(sizes) <= 8 * 3 and sum(done) == len(classes)
    filled = m.bank_filled.numpy()
    for c in classes:
        assert len(pieces[c]) == int(filled[c]) and np.isfinite(pieces[c]).all()
        if filled[c] <= 3:
            np.testing.assert_array_equal(pieces[c], before[c])
    # each score stays with its posterior: posteriors moved far out score apart from the
    # rest, in the pieces as in the whole class
    big = max(classes, key=lambda c: filled[c])
    locs = m.bank_loc.numpy()
    far = np.arange(int(filled[big])) % 3 == 1
    locs[big, np.flatnonzero(far)] += 30.0
    m.bank_loc.assign(locs)
    split = m._bank_scores([big], seed=5)[big]
    monkeypatch.setattr(sel, "BANK_TENSOR_ELEMENTS", 2**23)
    whole = m._bank_scores([big], seed=5)[big]
    for scores in (split, whole):
        assert scores[far].min() > scores[~far].max() or scores[far].max() < scores[~far].min()
