"""The class guide: oblivious boosted trees fitted on real rows, run in TF, choosing draws."""

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from vae_augment.training import (  # the guided setting, the defaults
    DEFAULT_BETA,
    DEFAULT_BETA_ROWS,
    GUIDED,
    SMALL_TABLE_ROWS,
    UNGUIDED,
)

from .conftest import FAST, FAST_ARGS, run_cli


def _numpy_logits(trees, x):
    """The guide's logits walked tree by tree in NumPy (the reference for `guide_logits`)."""
    logits = np.tile(trees["baseline"], (len(x), 1)).astype(np.float64)
    depth = trees["feature"].shape[1]
    for t in range(trees["feature"].shape[0]):
        leaf = np.zeros(len(x), np.int64)
        for level in range(depth):
            f, thr = trees["feature"][t, level], trees["threshold"][t, level]
            leaf = 2 * leaf + (x[:, f] > thr)
        logits[:, trees["tree_class"][t]] += trees["value"][t, leaf]
    return logits


def _tf(trees):
    return {k: tf.constant(v) for k, v in trees.items()}


def test_guide_logits_walk_each_tree_level_by_level():
    from vae_augment.guide import guide_logits

    trees = {
        "feature": np.array([[0, 1]], np.int32),
        "threshold": np.array([[0.0, 5.0]], np.float32),
        "value": np.array([[1.0, 2.0, 3.0, 4.0]], np.float32),
        "tree_class": np.array([1], np.int32),
        "baseline": np.array([0.0, 0.5], np.float32),
    }
    x = np.array([[-1, 0], [-1, 6], [1, 0], [1, 6], [0, 5]], np.float32)
    got = guide_logits(_tf(trees), tf.constant(x)).numpy()
    # leaf = 2 * (x0 > 0) + (x1 > 5); a value equal to the threshold goes left
    np.testing.assert_allclose(got[:, 1], 0.5 + np.array([1.0, 2.0, 3.0, 4.0, 1.0]))
    np.testing.assert_allclose(got[:, 0], 0.0)


def test_fit_guide_learns_a_rule_and_tf_matches_a_numpy_walk():
    from vae_augment.guide import fit_guide, guide_logits

    rng = np.random.default_rng(0)

    def rows(n):
        x = rng.standard_normal((n, 5)).astype(np.float32)
        y = np.where(x[:, 0] > 0.5, 2, np.where(x[:, 1] < -0.3, 1, 0))
        return x, y

    x, y = rows(3000)
    trees = fit_guide(x, y, 3, iterations=30, depth=4, seed=0)
    assert trees["feature"].shape == (90, 4) and trees["value"].shape == (90, 16)
    x_new, y_new = rows(2000)
    got = guide_logits(_tf(trees), tf.constant(x_new)).numpy()
    np.testing.assert_allclose(got, _numpy_logits(trees, x_new), rtol=1e-5, atol=1e-4)
    assert (got.argmax(1) == y_new).mean() > 0.95
    # the features it splits on are the two that decide the class
    used = set(trees["feature"][np.isfinite(trees["threshold"])].tolist())
    assert {0, 1} <= used


def test_two_classes_take_one_tree_per_round():
    from vae_augment.guide import fit_guide, guide_logits

    rng = np.random.default_rng(2)

    def rows(n):
        x = rng.standard_normal((n, 4)).astype(np.float32)
        return x, ((x[:, 0] > 0.3) | (x[:, 2] < -1.0)).astype(int)

    x, y = rows(3000)
    one = fit_guide(x, y, 2, iterations=25, depth=3, seed=0)
    assert one["feature"].shape == (25, 3) and np.all(one["tree_class"] == 1)
    per_class = fit_guide(x, y, 2, iterations=25, depth=3, seed=0, binary_one_tree=False)
    assert per_class["feature"].shape == (50, 3)
    np.testing.assert_array_equal(per_class["tree_class"][:4], [0, 1, 0, 1])
    x_new, y_new = rows(2000)
    for trees in (one, per_class):
        got = guide_logits(_tf(trees), tf.constant(x_new)).numpy()
        np.testing.assert_allclose(got, _numpy_logits(trees, x_new), rtol=1e-5, atol=1e-4)
        assert (got.argmax(1) == y_new).mean() > 0.95
    # class 0's logit stays at its baseline: the trees move class 1's alone
    got = guide_logits(_tf(one), tf.constant(x_new)).numpy()
    np.testing.assert_allclose(got[:, 0], one["baseline"][0])


def test_guide_logits_compile_with_xla():
    """Static shapes only: the guide runs inside XLA-compiled and TPU generation."""
    from vae_augment.guide import fit_guide, guide_logits

    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 6)).astype(np.float32)
    trees = _tf(fit_guide(x, (x[:, 1] > 0).astype(int) + (x[:, 2] > 1), 3, iterations=5,
                          depth=3))
    eager = guide_logits(trees, tf.constant(x)).numpy()
    compiled = tf.function(guide_logits, jit_compile=True)(trees, tf.constant(x)).numpy()
    np.testing.assert_allclose(compiled, eager, rtol=1e-6, atol=1e-6)


def test_fit_guide_without_signal_keeps_the_class_shares():
    from vae_augment.guide import fit_guide, guide_logits

    y = np.array([0] * 30 + [1] * 10)
    flat = fit_guide(np.ones((40, 3), np.float32), y, 2, iterations=5, depth=3)
    assert np.all(np.isinf(flat["threshold"]))  # a constant feature never splits
    p = tf.nn.softmax(guide_logits(_tf(flat), tf.ones([4, 3]))).numpy()
    np.testing.assert_allclose(p[:, 1], 0.25, atol=0.02)
    one_class = fit_guide(np.random.default_rng(0).standard_normal((20, 2)), np.zeros(20, int),
                          2, iterations=3, depth=2)
    assert np.all(one_class["value"] == 0) and one_class["baseline"][0] > one_class["baseline"][1]


def test_fit_guide_samples_at_most_its_row_cap(monkeypatch):
    from vae_augment import guide as G

    monkeypatch.setattr(G, "GUIDE_MAX_ROWS", 50)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    a = G.fit_guide(x, y, 2, iterations=2, depth=2, seed=3)
    b = G.fit_guide(x, y, 2, iterations=2, depth=2, seed=3)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])  # the sample is seeded


def _separable_table(n=400, seed=0):
    """Two numerics and a category; the rare class lives where x > 0.8."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    other = rng.standard_normal(n)
    label = np.where(x > 0.8, "rare", "common")
    cat = np.where(rng.random(n) < 0.5, "u", "v")
    return pa.table({"x": x, "other": other, "cat": cat, "label": label})


@pytest.fixture(scope="module")
def guided():
    from vae_augment.api import fit

    return fit(_separable_table(), label="label", seed=0, **{**FAST, "epochs": 5, **GUIDED})


def test_fit_trains_a_guide_and_sets_held_out_floors(guided):
    from vae_augment.training import TrainConfig

    m, metrics = guided.model, guided.config["metrics"]
    assert m.guide_iterations == GUIDED["guide_iterations"] and m.candidates == 8
    assert TrainConfig().guide_iterations == 50  # a guide by default (since session 39)
    floors = m.guide_floor.numpy()
    assert metrics["guide_floor"] == pytest.approx(floors.tolist(), abs=1e-4)
    assert np.all((floors > 0) & (floors <= 1)) and metrics["guide_rows"] > 0
    enc = guided.encoding
    arrays = enc.encode(_separable_table(300, seed=5))
    p = m.guide_proba({k: v for k, v in arrays.items() if k != "y"}, arrays["y"]).numpy()
    assert p.mean() > 0.9  # it separates the classes on fresh real rows


def test_guide_fits_run_at_once_to_the_same_trees(guided, monkeypatch):
    """The final guide and the 5 cross-fitting guides are fitted on threads at once; the trees
    and floors are those of one fit after another, bit for bit."""
    import threading

    from vae_augment import guide as G

    m = guided.model
    names = ("feature", "threshold", "value", "tree_class", "baseline", "floor")
    saved = {n: getattr(m, f"guide_{n}").numpy().copy() for n in names}
    arrays = guided.encoding.encode(_separable_table(600, seed=7))
    plain_fit, workers_of, threads, out = G.fit_guide, G.guide_workers, set(), {}

    def recording(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return plain_fit(*args, **kwargs)

    monkeypatch.setattr(G, "fit_guide", recording)
    try:
        for workers in (1, 3):
            monkeypatch.setattr(G, "guide_workers", lambda *a, w=workers: w)
            summary = m.fit_guide(arrays, seed=3, progress=False)
            out[workers] = (summary, {n: getattr(m, f"guide_{n}").numpy().copy()
                                      for n in names})
    finally:
        for n in names:
            getattr(m, f"guide_{n}").assign(saved[n])
    assert out[1][0] == out[3][0]
    for n in names:
        np.testing.assert_array_equal(out[1][1][n], out[3][1][n])
    assert {t for t in threads if t.startswith("class-guide")} and threading.current_thread(
        ).name in threads  # both ways ran
    # the threads' histogram inputs stay within GUIDE_FIT_MEMORY: 20,000 rows of 1,024
    # features (a 32 x 32 image) take one fit at a time
    assert workers_of(20_000, 1024, 6) == 1
    assert 1 <= workers_of(1000, 10, 6) <= 6


def test_guided_generation_redraws_rows_under_the_floor(guided):
    m = guided.model
    rare = guided.encoding.class_index("rare")
    y = tf.fill([2000], rare)
    seed = tf.constant([7, 1], tf.int32)
    first = m.plain_draw(y, seed)
    chosen = m.generate(y, seed)
    p_first, p_chosen = (m.guide_proba(o, y).numpy() for o in (first, chosen))
    floor = m.guide_floor.numpy()[rare]
    assert (p_first < floor).any()  # some first draws miss the floor ...
    assert (p_chosen >= floor).mean() > (p_first >= floor).mean()  # ... and are redrawn
    assert np.all(p_chosen >= p_first - 1e-6)  # a row is only ever replaced by a better one
    kept = p_first >= floor
    for key in first:  # rows that passed at once are the first draw, unchanged
        np.testing.assert_array_equal(chosen[key].numpy()[kept], first[key].numpy()[kept])
    again = m.generate(y, seed)
    for key in chosen:  # stateless: the same seed gives the same rows
        np.testing.assert_array_equal(again[key].numpy(), chosen[key].numpy())


def test_a_zero_floor_or_one_candidate_is_the_plain_draw(guided):
    from vae_augment.model import ConditionalVAE

    config = guided.model.get_config()
    y = tf.constant([0, 1] * 50, tf.int32)
    seed = tf.constant([2, 3], tf.int32)
    for change in ({"candidates": 1}, {}):
        m = ConditionalVAE.from_config({**config, **change})
        m.set_weights(guided.model.get_weights())
        if not change:
            m.guide_floor.assign(tf.zeros_like(m.guide_floor))  # every draw passes
        got, plain = m.generate(y, seed), m.plain_draw(y, seed)
        for key in got:
            np.testing.assert_array_equal(got[key].numpy(), plain[key].numpy())


def test_guide_survives_save_and_load_and_legacy_configs_have_none(guided, tmp_path):
    from vae_augment.artifact import load_artifact, save_artifact
    from vae_augment.model import ConditionalVAE

    save_artifact(str(tmp_path / "m"), guided.model, guided.encoding)
    loaded = load_artifact(str(tmp_path / "m")).model
    for name in ("feature", "threshold", "value", "tree_class", "baseline", "floor"):
        np.testing.assert_array_equal(getattr(loaded, f"guide_{name}").numpy(),
                                      getattr(guided.model, f"guide_{name}").numpy())
    y, seed = tf.constant([1] * 64, tf.int32), tf.constant([4, 4], tf.int32)
    a, b = loaded.generate(y, seed), guided.model.generate(y, seed)
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    # a two-class model of session 4 (no guide_tree_per_class key) has one tree per class
    config = guided.model.get_config()
    rounds = config["guide_iterations"]
    assert not config["guide_tree_per_class"] and loaded.guide_feature.shape[0] == rounds
    session4 = {k: v for k, v in config.items() if k != "guide_tree_per_class"}
    assert ConditionalVAE.from_config(session4).guide_feature.shape[0] == 2 * rounds
    legacy = {k: v for k, v in guided.model.get_config().items() if not k.startswith("guide")}
    old = ConditionalVAE.from_config(legacy)
    assert old.guide_iterations == 0 and not hasattr(old, "guide_floor")
    with pytest.raises(ValueError, match="no guide"):
        old.fit_guide({"y": np.zeros(3, np.int32)})


def test_guide_fit_shows_a_progress_bar_of_its_rounds(guided, capsys):
    """Fitting the guide (6 fits with the cross-fitting) is long work on many classes: a tqdm
    bar counts its boosting rounds on stderr, and progress=False keeps it quiet."""
    from vae_augment.model import ConditionalVAE

    fresh = ConditionalVAE.from_config(guided.model.get_config())
    arrays = guided.encoding.encode(_separable_table())
    rounds = 6 * GUIDED["guide_iterations"]
    fresh.fit_guide(arrays, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "class guide" in err and f"{rounds}/{rounds}" in err, err
    fresh.fit_guide(arrays, seed=0, progress=False)
    assert "class guide" not in capsys.readouterr().err
    assert np.any(fresh.guide_floor.numpy() > 0)


def test_guide_settings_are_validated_and_reach_the_model(mixed_parquet, tmp_path, capsys):
    from vae_augment.artifact import load_artifact
    from vae_augment.errors import VAEAugmentError
    from vae_augment.model import ConditionalVAE
    from vae_augment.training import TrainConfig

    for bad in ({"guide_iterations": -1}, {"guide_iterations": True}, {"guide_depth": 0},
                {"guide_quantile": 1.0}, {"guide_quantile": -0.1}):
        with pytest.raises(VAEAugmentError, match=next(iter(bad))):
            TrainConfig(**bad)
    layout = {"n_num": 1, "n_null": 0, "cat_sizes": [], "tensors": [], "n_classes": 2,
              "num_null_idx": [-1]}
    with pytest.raises(ValueError, match="guide_quantile"):
        ConditionalVAE(layout, guide_quantile=1.5)
    assert run_cli(["fit", str(mixed_parquet), "--label", "label", "--model-dir",
                    str(tmp_path / "m"), *FAST_ARGS, "--guide-iterations", "7",
                    "--guide-quantile", "0.1", "--candidates", "2"], capsys)[0] == 0
    m = load_artifact(str(tmp_path / "m")).model
    assert (m.guide_iterations, m.guide_quantile, m.candidates) == (7, 0.1, 2)
    assert m.guide_feature.shape[0] == 7 * m.n_classes
    assert run_cli(["fit", str(mixed_parquet), "--label", "label", "--model-dir",
                    str(tmp_path / "n"), *FAST_ARGS, "--guide-iterations", "0"], capsys)[0] == 0
    assert load_artifact(str(tmp_path / "n")).model.guide_iterations == 0


def test_streamed_training_fits_the_guide_on_a_bounded_sample(mixed_parquet, monkeypatch):
    from vae_augment import guide as G
    from vae_augment.api import fit
    from vae_augment.training import TrainConfig, _guide_rows, prepare_training

    monkeypatch.setattr(G, "GUIDE_MAX_ROWS", 100)
    config = TrainConfig(**FAST)
    _, source = prepare_training(str(mixed_parquet), "label", config, streaming=True)
    rows, held = _guide_rows(source)
    assert len(rows["y"]) == 100 and 0 < len(held["y"]) <= 100
    art = fit(str(mixed_parquet), label="label", seed=0, streaming=True, **{**FAST, **GUIDED})
    assert art.config["metrics"]["streaming"] and art.config["metrics"]["guide_rows"] == 100


def test_guided_generation_of_images_when_every_row_passes(guided_artifact):
    """Rounds with no row left to redraw (here: all) work for every likelihood head."""
    from vae_augment.artifact import load_artifact

    # the mixed table (an image, numerics, categories) fitted with GUIDED and FAST, seed 0
    m = load_artifact(str(guided_artifact)).model  # a fresh copy: its floors are changed below
    m.guide_floor.assign(tf.zeros_like(m.guide_floor))
    y, seed = tf.constant([0, 1, 2] * 30, tf.int32), tf.constant([5, 5], tf.int32)
    got, plain = m.generate(y, seed), m.plain_draw(y, seed)
    assert "tensor_0" in got
    for key in got:
        np.testing.assert_array_equal(got[key].numpy(), plain[key].numpy())
    m.guide_floor.assign(tf.ones_like(m.guide_floor))  # none passes: every row redrawn
    redrawn = m.generate(y, seed)
    assert redrawn["tensor_0"].shape == plain["tensor_0"].shape


def test_guided_preset_from_the_cli_and_python():
    """The defaults are the guided setting; --unguided gives back the former defaults; a
    flag beside a preset wins; `candidates` and `bank_keep` left unset follow the guide."""
    import vae_augment
    from vae_augment.cli import _fit_kwargs, build_parser
    from vae_augment.training import TrainConfig

    def kwargs(*extra):
        args = build_parser().parse_args(["fit", "in.parquet", "--label", "y", "--model-dir",
                                          "m", *extra])
        got = _fit_kwargs(args)
        config = TrainConfig(**{k: got[k] for k in names})
        return tuple(getattr(config, k) for k in names)

    names = ("guide_iterations", "candidates", "bank_keep", "dequantize", "beta",
             "guide_quantile", "class_balance")
    plain = TrainConfig()
    # beta None: by the table's rows (`default_beta`), set when training
    assert kwargs() == tuple(getattr(plain, k) for k in names) == (
        50, 8, 1.0, True, None, 0.4, 0.0) == kwargs("--guided")
    assert vae_augment.GUIDED == dict(zip(names[:6], kwargs("--guided")))
    assert kwargs("--unguided") == (0, 1, 0.25, False, 1.0, 0.25, 0.0)
    assert vae_augment.UNGUIDED == dict(zip(names[:6], kwargs("--unguided")))
    # a flag given beside a preset wins; alone it changes only itself
    assert kwargs("--unguided", "--candidates", "4", "--bank-keep", "0.5", "--beta", "0.5",
                  "--class-balance", "0.5", "--dequantize", "--guide-quantile", "0.3") == (
        0, 4, 0.5, True, 0.5, 0.3, 0.5)
    assert kwargs("--guided", "--no-dequantize", "--beta", "1") == (
        50, 8, 1.0, False, 1.0, 0.4, 0.0)
    assert kwargs("--candidates", "4") == (50, 4, 1.0, True, None, 0.4, 0.0)
    # no guide: one draw a row and the pruned bank, unless given
    assert kwargs("--guide-iterations", "0") == (0, 1, 0.25, True, None, 0.4, 0.0)
    assert kwargs("--guide-iterations", "0", "--candidates", "3") == (
        0, 3, 0.25, True, None, 0.4, 0.0)
    TrainConfig(**vae_augment.GUIDED)  # valid configurations
    TrainConfig(**vae_augment.UNGUIDED)


def test_evaluation_report_shows_how_the_guide_judges_rows(guided, tmp_path):
    from vae_augment.api import sample
    from vae_augment.evaluation import evaluate

    real = _separable_table(n=300, seed=5)
    synthetic = sample(guided, {"rare": 200, "common": 200}, seed=0)
    report = evaluate(real, synthetic, label="label", model=guided, seed=0,
                      report_dir=str(tmp_path / "r"), iw_samples=2)
    guide = report["diagnostics"]["guide"]
    assert guide["candidates"] == 8 and guide["quantile"] == GUIDED["guide_quantile"] == 0.4
    by_class = {c["class"]: c for c in guide["classes"]}
    assert set(by_class) == {"common", "rare"}
    for c in by_class.values():
        assert c["floor"] == pytest.approx(
            float(guided.model.guide_floor.numpy()[guided.encoding.class_index(c["class"])]))
        assert c["generated_pass"] >= c["first_draw_pass"]  # redraws only ever help
        assert 0.0 < c["real_test_pass"] <= 1.0
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Class guide" in html and "generated rows passing" in html
    # SYNTHETIC here is plain draws (`sample` without guided=True): the report says so, by
    # SYNTHETIC's share of rows at the floor, and so do the rows drawn as balancing draws them
    # (plain draws pass at 34 %, guided rows at 93 %, on this table; SYNTHETIC 36 % and 95 %)
    assert guide["plain_pass"] <= guide["guided_pass"] - 0.05
    assert guide["synthetic_like"] == "plain", guide
    assert abs(guide["synthetic_pass"] - guide["plain_pass"]) < abs(
        guide["synthetic_pass"] - guide["guided_pass"])
    assert sum(c["synthetic_rows"] for c in guide["classes"]) == 400
    assert "they look like plain draws" in html
    drawn = sample(guided, {"rare": 200, "common": 200}, seed=0, guided=True)
    again = evaluate(real, drawn, label="label", model=guided, seed=0, iw_samples=2,
                     sections=["model"])["diagnostics"]["guide"]
    assert again["synthetic_like"] == "guided", again
    assert again["synthetic_pass"] > guide["synthetic_pass"]


def test_findings_advise_sample_guided_for_plain_draws_of_a_guided_model():
    """A guided model's plain draws (`sample` without --guided) that lower utility get the
    advice to draw them as balance does; guided rows get "balance less", and an unguided
    model's rows the advice to fit with the guide. Detection's advice for a guided model is
    never the redraws (plain draws are the harder to detect)."""
    from vae_augment.findings import findings

    def report(guide_iterations, like):
        res = {"none": {"minority_f1": 0.60}, "random_oversampling": {"minority_f1": 0.55},
               "smote": {"minority_f1": 0.60}, "vae_augment": {"minority_f1": 0.50}}
        return {"model_settings": {"guide_iterations": guide_iterations},
                "diagnostics": {"guide": {"synthetic_like": like}},
                "detection": {"c2st_auc": 0.9},
                "utility": {"classes": ["a", "b"], "minority_class": "b",
                            "results": {"logistic_regression": res}}}

    def advice(r, section):
        return [f["advice"] for f in findings(r) if f["section"] == section]

    plain = report(50, "plain")
    assert all("sample --guided" in a for a in advice(plain, "utility")), findings(plain)
    assert advice(plain, "utility") and "sample --guided" not in advice(plain, "detection")[0]
    for like in ("guided", None):
        assert all("balance less" in a for a in advice(report(50, like), "utility"))
    unguided = report(0, None)
    assert all(a.startswith("fit with --guided") for a in advice(unguided, "utility"))
    assert advice(unguided, "detection")[0].startswith("fit with --guided")


def test_guided_generation_compiles_with_xla(guided, monkeypatch):
    """The redraw loop's data-dependent shapes (rows still under their floor) compile under
    XLA as bounded dynamic shapes, so a guided model samples with ``jit_compile=True``.

    Blocks of 1024 rows, not this encoding's 8192: XLA's CPU compile of the guided function
    grows with the block (~18 s at 8192, ~9 s at 1024) while the graph is the same one; 1024
    is still over twice `_REDRAW_MIN_ROWS`, and the 300 rows asked for are one block either
    way."""
    from vae_augment import sampler
    from vae_augment.constraints import _REDRAW_MIN_ROWS
    from vae_augment.sampler import Sampler

    monkeypatch.setattr(sampler, "BLOCK_ROWS", 1024)
    assert sampler.block_rows(guided.encoding) == 1024 >= 2 * _REDRAW_MIN_ROWS
    table = pa.Table.from_batches(
        list(Sampler(guided, jit_compile=True).iter_counts({"rare": 300}, seed=0)))
    assert table.num_rows == 300 and set(table.column("label").to_pylist()) == {"rare"}
    plain = next(Sampler(guided).iter_counts({"rare": 10}, seed=0))
    assert table.schema == plain.schema


def test_cli_help_quotes_the_guided_preset():
    """The CLI's help spells out GUIDED and UNGUIDED by hand (importing them there would slow
    `--help` by ~0.9 s); this keeps them the same."""
    from vae_augment.cli import build_parser

    fit = next(a for a in build_parser()._subparsers._group_actions[0].choices.values()
               if any(o.dest == "guided" for o in a._actions))
    text = " ".join(o.help or "" for o in fit._actions)
    assert (f"--guide-iterations {GUIDED['guide_iterations']} --candidates "
            f"{GUIDED['candidates']} --bank-keep {GUIDED['bank_keep']:g}") in text
    assert GUIDED["beta"] is None  # by the table's rows
    assert (f"--dequantize --beta by the rows --guide-quantile "
            f"{GUIDED['guide_quantile']:g} (flags") in text
    assert (f"--guide-iterations {UNGUIDED['guide_iterations']} --candidates "
            f"{UNGUIDED['candidates']} --bank-keep {UNGUIDED['bank_keep']:g} --no-dequantize "
            f"--beta {UNGUIDED['beta']:g} --guide-quantile {UNGUIDED['guide_quantile']:g} "
            f"(flags") in text
    assert f"[{GUIDED['guide_iterations']}; --unguided: 0]" in text
    assert f"[{GUIDED['candidates']} with the class guide, else 1]" in text
    assert (f"[by the table's rows: 1 up to {SMALL_TABLE_ROWS}, {DEFAULT_BETA:g} from "
            f"{DEFAULT_BETA_ROWS:,} or with a tensor column, in between falling with "
            f"log(rows); --unguided: {UNGUIDED['beta']:.1f}]") in text
    assert (f"[{GUIDED['guide_quantile']:g}; --unguided: "
            f"{UNGUIDED['guide_quantile']:g}]") in text
