"""Where a training step's time goes on churn, and which math-preserving changes make an
epoch cheaper. Default settings throughout (`vae_augment.fit(churn, label="churn")`:
batch 256, 18 steps an epoch, 2 validation batches).

    .venv/bin/python benchmarks/explore/step_profile.py [--data PATH] [--rounds 300]
        [--parts fit,steps,check]

The machine is shared and noisy, so every comparison is made inside one process, alternated,
and quoted as medians and as the median of paired ratios:

1. ``fit``: one default fit, instrumented. Its epochs alternate between Keras' own train
   function (``multi_step_on_iterator`` -> nested ``one_step_on_data`` -> ``strategy.run``,
   wrapped in a ``tf.experimental.Optional``) and two one-level train functions that run the
   same ``train_step`` (A: ``tf.function(train_step)`` fed by ``next(iterator)``, B:
   ``train_step(iterator.get_next())`` inside one ``tf.function``); an epoch's training time
   is compared with the Keras-function epochs of the same cycle (epochs 0-2 trace and are left
   out). Each epoch, Keras' validation pass (``evaluate`` on the tf.data validation set) is
   timed, and then the same metrics are computed a second way: ``test_step`` on each
   validation batch, held as tensors, inside one cached ``tf.function`` (checked equal to
   Keras' ``val_*`` values, bit for bit, every epoch). The fixed costs around the epochs are
   reported too.
2. ``steps``: a fixed batch of 256 training rows; the pieces of a step, each its own
   ``tf.function``, timed call by call in interleaved rounds: Keras' train function, the
   train step alone, forward, forward + loss, forward + loss + gradients, the Adam update,
   the likelihood heads, the KL, the posterior-bank update, the metric trackers, the input
   pipeline's ``next()``; ablations (step without the bank update / without the trackers:
   these change what is computed, for attribution only); and math-preserving variants of
   the step (Adam with its per-step scalars computed once, the fused ``ResourceApplyAdam``
   kernel, the likelihood/KL as the same TF ops without the ``tfd`` wrappers).
3. ``check``: default fits alternating with default fits that have the patch's two changes
   monkey-patched in (what /tmp/speed/speedup.patch does in the library: the one-level train
   function B, and the validation metrics from the held batches in a first callback); epochs
   run, every epoch's logs and the final weights are compared bit for bit, with the fit
   and epoch times.

Nothing here changes the library: the variants are monkey-patches inside this process.
The library took the two changes of part 3 in commit 61a359c (`ConditionalVAE.
make_train_function`, `callbacks.Validation`): parts 1 and 3 compare against Keras' own
functions, so run them on a checkout before that commit (``git worktree add /tmp/before
61a359c~1``, then ``PYTHONPATH=/tmp/before``) to reproduce the figures in
benchmarks/results/core.md (session 29).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import statistics as st
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import vae_augment  # noqa: E402
from vae_augment import distributions as D  # noqa: E402
from vae_augment.model import ConditionalVAE  # noqa: E402
from vae_augment.streaming import InMemorySource  # noqa: E402
from vae_augment.training import TrainConfig, prepare_training  # noqa: E402

DEFAULT_DATA = os.path.join(HERE, "..", "..", "..", "shared", "data", "churn.parquet")
if not os.path.exists(DEFAULT_DATA):
    DEFAULT_DATA = os.path.join(HERE, "..", "..", "examples", "data", "churn.parquet")


def ms(seconds: float) -> str:
    return f"{1000 * seconds:7.3f} ms"


# ----------------------------------------------------------------- the train-function variants

def one_level_train_function(model):
    """A: the same `train_step` in one `tf.function`, its batch read eagerly by `next`."""
    step = tf.function(model.train_step, reduce_retracing=True, jit_compile=model.jit_compile)

    def function(iterator):
        return step(next(iterator))

    return function


def in_graph_train_function(model):
    """B: `train_step(iterator.get_next())` in one `tf.function`."""
    @tf.function(reduce_retracing=True)
    def function(iterator):
        return model.train_step(iterator.get_next())

    return function


def one_level_ok(model) -> bool:
    """The patch's `ConditionalVAE.one_level_functions`: no strategy, one step per call, no
    XLA, not eager."""
    return (getattr(model, "_distribute_strategy", "unknown") is None
            and model.steps_per_execution == 1 and not model.jit_compile
            and not model.run_eagerly)


def patched_make_train_function(self, force=False):
    """What the patch's `ConditionalVAE.make_train_function` does (variant B)."""
    if self.train_function is not None and not force:
        return self.train_function
    keras.Model.make_train_function(self, force=force)
    if not one_level_ok(self):
        return self.train_function
    keras_function, one_step = self.train_function, in_graph_train_function(self)

    def function(iterator):
        if isinstance(iterator, (tf.data.Iterator, tf.distribute.DistributedIterator)):
            return one_step(iterator)
        return keras_function(iterator)

    self.train_function = function
    return function


def validation_function(model):
    """Keras' per-epoch `evaluate` (metrics reset, `test_step` per batch in order, the
    metrics' results) as one `tf.function` over batches held as tensors."""
    def run(batches):
        out = None
        for b in batches:
            out = model.test_step(b)
        return out

    fn = tf.function(run)

    def evaluate(batches):
        model.reset_metrics()
        return {"val_" + k: float(v) for k, v in fn(batches).items()}

    return evaluate


class DirectValidation(keras.callbacks.Callback):
    """The patch's validation: first callback, writes ``val_*`` into the epoch logs."""

    def __init__(self, dataset):
        super().__init__()
        self.batches = [dict(b) for b in dataset]
        self.fn = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if self.fn is None:
            self.fn = validation_function(self.model)
        logs.update(self.fn(self.batches))


_keras_fit = ConditionalVAE.fit


def fit_direct_validation(self, x=None, *args, validation_data=None, callbacks=None, **kw):
    """The patch's `train_model` change: in-memory validation batches go to a first callback
    (`callbacks.Validation` there) instead of Keras' per-epoch `evaluate`."""
    cbs = list(callbacks or [])
    if validation_data is not None and one_level_ok(self):
        cbs = [DirectValidation(validation_data)] + cbs
        validation_data = None
    return _keras_fit(self, x, *args, validation_data=validation_data, callbacks=cbs, **kw)


@contextlib.contextmanager
def patched():
    ConditionalVAE.make_train_function = patched_make_train_function
    ConditionalVAE.fit = fit_direct_validation
    try:
        yield
    finally:
        del ConditionalVAE.make_train_function
        ConditionalVAE.fit = _keras_fit


# ----------------------------------------------------------------- 1. the instrumented fit

class Instrument(keras.callbacks.Callback):
    """Alternates the train function by epoch, times the parts of every epoch, and computes
    the validation metrics a second way (checked equal to Keras')."""

    NAMES = ("keras", "A: one-level, next()", "B: one-level, get_next in graph")

    def __init__(self):
        super().__init__()
        self.t_call = time.perf_counter()
        self.rows = []
        self.val_match = []

    def on_train_begin(self, logs=None):
        m = self.model
        self.t_begin = time.perf_counter()
        self.fns = [m.train_function, one_level_train_function(m), in_graph_train_function(m)]
        self.val_fn = validation_function(m)
        keras_evaluate = m.evaluate
        self.batches = None

        def evaluate(*args, **kw):  # Keras' fit calls self.evaluate(x=val_x, ...) per epoch
            if self.batches is None:
                self.batches = [dict(b) for b in kw.get("x", args[0] if args else None)]
            t = time.perf_counter()
            out = keras_evaluate(*args, **kw)
            self.t_eval = time.perf_counter() - t
            return out

        m.evaluate = evaluate

    def on_epoch_begin(self, epoch, logs=None):
        self.which = epoch % 3
        self.model.train_function = self.fns[self.which]
        self.t0 = time.perf_counter()
        self.t_eval = float("nan")

    def on_train_batch_end(self, batch, logs=None):
        self.t_last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        t_end = time.perf_counter()
        t = time.perf_counter()
        direct = self.val_fn(self.batches) if self.batches is not None else {}
        t_direct = time.perf_counter() - t
        self.val_match.append(all(direct[k] == logs[k] for k in direct))
        self.rows.append({"epoch": epoch, "fn": self.which, "train": self.t_last - self.t0,
                          "eval": self.t_eval, "direct_val": t_direct,
                          "epoch_to_here": t_end - self.t0})
        self.t_end_last = time.perf_counter()

    def on_train_end(self, logs=None):
        self.t_train_end = time.perf_counter()


def part_fit(data: str):
    print("== 1. default fit, instrumented ==", flush=True)
    inst = Instrument()
    t0 = time.perf_counter()
    art = vae_augment.fit(data, label="churn", callbacks=[inst])
    total = time.perf_counter() - t0
    rows = inst.rows
    m = art.config["metrics"]
    print(f"fit+artifact {total:.2f} s, epochs {len(rows)} (best {m['best_epoch']}), "
          f"train_seconds {m['train_seconds']}, steps/epoch {m['steps_per_epoch']}")
    print(f"  before training (encoding, constraints, model build): "
          f"{inst.t_begin - inst.t_call:.2f} s; first epoch (traces) "
          f"{rows[0]['epoch_to_here']:.2f} s; after training (best weights, bank "
          f"pruning, artifact): {t0 + total - inst.t_train_end:.2f} s")
    keras_rows = [r for r in rows[3:] if r["fn"] == 0]
    ep = st.median(r["epoch_to_here"] for r in keras_rows)
    tr = st.median(r["train"] for r in keras_rows)
    ev = st.median(r["eval"] for r in rows[3:])
    dv = st.median(r["direct_val"] for r in rows[3:])
    steps = m["steps_per_epoch"]
    print(f"  Keras-function epochs (median of {len(keras_rows)}): epoch {ms(ep)}, training part "
          f"{ms(tr)} = {ms(tr / steps)} a step, rest of the epoch {ms(ep - tr)}")
    print(f"  validation: Keras evaluate {ms(ev)}  vs  test_step on the held batches in one "
          f"tf.function {ms(dv)}  (ratio {dv / ev:.3f}); equal to Keras' val_* every epoch: "
          f"{all(inst.val_match)}")
    cycles = collections.defaultdict(dict)
    for r in rows[3:]:
        cycles[r["epoch"] // 3][r["fn"]] = r["train"]
    for j in (1, 2):
        ratios = [c[j] / c[0] for c in cycles.values() if 0 in c and j in c]
        med = st.median(r["train"] for r in rows[3:] if r["fn"] == j)
        print(f"  train function {Instrument.NAMES[j]:34s}: training part {ms(med)}  paired "
              f"ratio vs keras {st.median(ratios):.3f} (n={len(ratios)}, "
              f"IQR {np.percentile(ratios, 25):.3f}-{np.percentile(ratios, 75):.3f})")
    return art


# ----------------------------------------------------------------- 2. the step's pieces

HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


def normal_log_prob(x, loc, scale):
    """`tfd.Normal(loc, scale).log_prob(x)`: the ops TFP 0.25 emits, without the wrapper."""
    log_unnormalized = -0.5 * tf.math.squared_difference(x / scale, loc / scale)
    return log_unnormalized - (tf.constant(HALF_LOG_2PI, tf.float32) + tf.math.log(scale))


def lean_kl_gaussian(q, p):
    """`tfd.kl_divergence` of two Normals: TFP's `_kl_normal_normal` ops."""
    diff_log_scale = tf.math.log(q.scale) - tf.math.log(p.scale)
    return (0.5 * tf.math.squared_difference(q.loc / p.scale, p.loc / p.scale)
            + 0.5 * tf.math.expm1(2.0 * diff_log_scale) - diff_log_scale)


_feature_log_prob, _kl_gaussian = D.feature_log_prob, D.kl_gaussian


def lean_feature_log_prob(layout, params, x):
    """`feature_log_prob` for single-Gaussian numerics and categories (churn's layout)."""
    if "num_logits" in params or layout["n_null"] or layout["tensors"]:
        return _feature_log_prob(layout, params, x)
    out = {}
    if layout["n_num"]:
        lp = normal_log_prob(tf.cast(x["num"], tf.float32),
                             tf.cast(params["num_loc"], tf.float32),
                             D.normal_scale(params["num_scale"]))
        out["num"] = tf.reduce_sum(lp, axis=1)  # no column can be absent: the mask is all 1
    if layout["cat_sizes"]:
        cat = tf.cast(x["cat"], tf.int32)
        total = 0.0
        for j, logits in enumerate(D._split_cat(params["cat_logits"], layout["cat_sizes"])):
            total += -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=cat[:, j],
                                                                     logits=logits)
        out["cat"] = total
    return out


@contextlib.contextmanager
def lean_loss():
    D.feature_log_prob, D.kl_gaussian = lean_feature_log_prob, lean_kl_gaussian
    try:
        yield
    finally:
        D.feature_log_prob, D.kl_gaussian = _feature_log_prob, _kl_gaussian


def adam_shared(opt, grads, variables):
    """Keras 3 Adam's arithmetic element for element, the step's scalars computed once."""
    lr = tf.cast(opt.learning_rate, tf.float32)
    local_step = tf.cast(opt.iterations + 1, tf.float32)
    b1p = tf.pow(tf.cast(opt.beta_1, tf.float32), local_step)
    b2p = tf.pow(tf.cast(opt.beta_2, tf.float32), local_step)
    alpha = lr * tf.sqrt(1 - b2p) / (1 - b1p)
    for g, var in zip(grads, variables):
        i = opt._get_variable_index(var)
        m, v = opt._momentums[i].value, opt._velocities[i].value
        m.assign_add((g - m) * (1 - opt.beta_1))
        v.assign_add((tf.square(g) - v) * (1 - opt.beta_2))
        var.value.assign_sub((m * alpha) / (tf.sqrt(v) + opt.epsilon))
    opt.iterations.assign_add(1)


def adam_fused(opt, grads, variables):
    """`ResourceApplyAdam` per variable (same update, other rounding: m*b1 + g*(1-b1))."""
    lr = tf.cast(opt.learning_rate, tf.float32)
    local_step = tf.cast(opt.iterations + 1, tf.float32)
    b1p = tf.pow(tf.cast(opt.beta_1, tf.float32), local_step)
    b2p = tf.pow(tf.cast(opt.beta_2, tf.float32), local_step)
    for g, var in zip(grads, variables):
        i = opt._get_variable_index(var)
        tf.raw_ops.ResourceApplyAdam(
            var=var.value.handle, m=opt._momentums[i].value.handle,
            v=opt._velocities[i].value.handle, beta1_power=b1p, beta2_power=b2p, lr=lr,
            beta1=tf.constant(opt.beta_1, tf.float32), beta2=tf.constant(opt.beta_2, tf.float32),
            epsilon=tf.constant(opt.epsilon, tf.float32), grad=g, use_locking=False)
    opt.iterations.assign_add(1)


def keras_adam(opt, grads, variables):
    opt.apply_gradients(zip(grads, variables))


def make_step(model, adam=keras_adam):
    """Keras' `train_step` spelled out, with the optimizer update replaceable."""
    def step(x):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(x=x, y_pred=y_pred, training=True)
            model._loss_tracker.update_state(loss, sample_weight=tf.shape(x["y"])[0])
        grads = tape.gradient(loss, model.trainable_weights)
        adam(model.optimizer, grads, model.trainable_weights)
        return model.get_metrics_result()
    return tf.function(step)


def traced(fn, *args):
    fn(*args)
    return fn


def interleaved(pieces, rounds: int, warm: int = 5):
    """One call of every piece per round (order reversed every other round); per piece the
    median wall time, the median CPU time of this process, and the median of its paired
    ratio to the first piece's call of the same round."""
    for fn in pieces.values():
        for _ in range(warm):
            fn()
    names = list(pieces)
    wall = {k: [] for k in names}
    cpu = {k: [] for k in names}
    for r in range(rounds):
        for k in (names if r % 2 == 0 else names[::-1]):
            c0, t0 = time.process_time(), time.perf_counter()
            pieces[k]()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    base = names[0]
    return {k: (st.median(wall[k]), st.median(cpu[k]),
                st.median(a / b for a, b in zip(wall[k], wall[base]))) for k in names}


def part_steps(art, data: str, rounds: int):
    print("== 2. the pieces of a step (fixed batch of 256 training rows) ==", flush=True)
    model = art.model
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    model.kl_weight.assign(1.0)
    _, arrays = prepare_training(data, "churn", TrainConfig(), constraints="auto")
    source = InMemorySource(arrays, validation_split=0.1, seed=0)
    x = {k: tf.constant(v[:256]) for k, v in source.train.items()}
    layout = model.layout

    model.make_train_function(force=True)
    it = iter(tf.data.Dataset.from_tensors(x).repeat())
    pipeline = iter(source.train_dataset(256, 0, 100000))

    f_step = traced(tf.function(model.train_step), x)

    @tf.function
    def f_fwd(x):
        return model(x, training=True)["q_loc"]

    @tf.function
    def f_fwd_loss(x):
        return model.compute_loss(x=x, y_pred=model(x, training=True), training=True)

    @tf.function
    def f_grads(x):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y_pred=model(x, training=True), training=True)
        return loss, tape.gradient(loss, model.trainable_weights)

    grads = [tf.identity(g) for g in f_grads(x)[1]]
    params = {k: tf.identity(v) for k, v in model(x, training=True).items()}

    @tf.function
    def f_adam(gs):
        model.optimizer.apply_gradients(zip(gs, model.trainable_weights))
        return model.optimizer.iterations

    @tf.function
    def f_heads(p):
        with tf.GradientTape() as tape:
            tape.watch(p)
            s = tf.reduce_sum(tf.add_n(list(D.feature_log_prob(layout, p, x).values())))
        return s, tape.gradient(s, p)

    @tf.function
    def f_kl(p):
        with tf.GradientTape() as tape:
            tape.watch(p)
            s = tf.reduce_sum(D.kl_gaussian(D.gaussian(p["q_loc"], p["q_scale"]),
                                            D.gaussian(p["p_loc"], p["p_scale"])))
        return s, tape.gradient(s, p)

    @tf.function
    def f_bank(p):
        model._update_bank(x["y"], p["q_loc"], p["q_scale"])
        return model.bank_pos

    @tf.function
    def f_trackers(p):
        r, k = tf.reduce_sum(p["num_loc"], 1), tf.reduce_sum(p["q_loc"], 1)
        model.recon_tracker.update_state(-r)
        model.kl_tracker.update_state(k)
        model.elbo_tracker.update_state(-r + k)
        return model.recon_tracker.count

    @tf.function
    def f_empty(x):
        return x["y"][0]

    # ablations (change what is computed; attribution only), traced while patched
    model._update_bank = lambda *a, **k: None
    f_no_bank = traced(make_step(model), x)
    del model._update_bank
    trackers = (model.recon_tracker, model.kl_tracker, model.elbo_tracker)
    for t in trackers:
        t.update_state = lambda *a, **k: None
    f_no_trackers = traced(make_step(model), x)
    for t in trackers:
        del t.update_state
    # math-preserving variants
    f_own = traced(make_step(model), x)
    f_shared = traced(make_step(model, adam_shared), x)
    f_fused = traced(make_step(model, adam_fused), x)
    with lean_loss():
        f_lean = traced(make_step(model), x)
    f_one_level = one_level_train_function(model)
    f_in_graph = in_graph_train_function(model)

    pieces = {
        "Keras train_function(iterator) [baseline]": lambda: model.train_function(it),
        "one-level A: tf.function(train_step)(next(it))": lambda: f_one_level(it),
        "one-level B: train_step(it.get_next()) in graph": lambda: f_in_graph(it),
        "tf.function(train_step)(x)": lambda: f_step(x),
        "step spelled out, Keras Adam": lambda: f_own(x),
        "  Adam scalars once (bit-identical)": lambda: f_shared(x),
        "  fused ResourceApplyAdam (rounding differs)": lambda: f_fused(x),
        "  likelihood + KL without tfd wrappers": lambda: f_lean(x),
        "  ablation: no bank update": lambda: f_no_bank(x),
        "  ablation: no metric trackers": lambda: f_no_trackers(x),
        "forward (encode, z, decode, prior)": lambda: f_fwd(x),
        "forward + loss (incl. bank, trackers)": lambda: f_fwd_loss(x),
        "forward + loss + gradients": lambda: f_grads(x),
        "Adam apply_gradients alone": lambda: f_adam(grads),
        "likelihood heads log_prob, fwd+bwd alone": lambda: f_heads(params),
        "KL, fwd+bwd alone": lambda: f_kl(params),
        "bank update alone": lambda: f_bank(params),
        "3 metric trackers alone": lambda: f_trackers(params),
        "input pipeline next() alone": lambda: next(pipeline),
        "empty tf.function call": lambda: f_empty(x),
    }
    res = interleaved(pieces, rounds)
    for k, (w, c, r) in res.items():
        print(f"  {k:50s} wall {ms(w)}  cpu {ms(c)}  paired ratio {r:5.3f}")

    def ops(f, *a):
        return len(f.get_concrete_function(*a).graph.get_operations())

    print(f"  graph ops: step {ops(f_own, x)}, Adam-scalars-once step {ops(f_shared, x)}, "
          f"fused-Adam step {ops(f_fused, x)}, lean-loss step {ops(f_lean, x)}; forward "
          f"{ops(f_fwd, x)}, forward+loss {ops(f_fwd_loss, x)}, +gradients {ops(f_grads, x)}, "
          f"Adam {ops(f_adam, grads)}, heads {ops(f_heads, params)}, KL {ops(f_kl, params)}, "
          f"bank {ops(f_bank, params)}")

    # same inputs, same state: do the variants compute the same step?
    names = ("own", "one-level A", "one-level B", "Adam scalars once", "fused Adam", "lean loss")
    fns = (lambda: f_own(x), lambda: f_one_level(it), lambda: f_in_graph(it),
           lambda: f_shared(x), lambda: f_fused(x), lambda: f_lean(x))
    state = model.variables + model.optimizer.variables + list(model.metrics_variables)
    snap = [v.numpy().copy() for v in state]
    seed_state = model.seed_generator.state.numpy().copy()
    results = {}
    for name, fn in zip(names, fns):
        for v, a in zip(state, snap):
            v.assign(a)
        model.seed_generator.state.assign(seed_state)
        losses = [float(fn()["loss"]) for _ in range(20)]
        model.reset_metrics()
        results[name] = (losses, [v.numpy().copy() for v in model.trainable_weights])
    ref_l, ref_w = results["own"]
    for name in names[1:]:
        ls, ws = results[name]
        same = ls == ref_l and all(np.array_equal(a, b) for a, b in zip(ws, ref_w))
        dw = max(float(np.max(np.abs(a - b))) for a, b in zip(ws, ref_w))
        dl = max(abs(a - b) for a, b in zip(ls, ref_l))
        print(f"  20 steps from the same state, {name:18s} vs Keras' step: bit-identical "
              f"{same}, max |d loss| {dl:.3g}, max |d weight| {dw:.3g}")


# ----------------------------------------------------------------- 3. whole-fit check

def part_check(data: str, repeats: int):
    print("== 3. default fit vs default fit with the patch's two changes ==", flush=True)

    class Logs(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.logs, self.train, self.rest = [], [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.t_last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.logs.append(dict(logs))
            self.train.append(self.t_last - self.t0)
            self.rest.append(time.perf_counter() - self.t_last)

    out = collections.defaultdict(list)
    ref = None
    for rep in range(repeats):
        for name in (("baseline", "patched") if rep % 2 == 0 else ("patched", "baseline")):
            rec = Logs()
            with patched() if name == "patched" else contextlib.nullcontext():
                t0 = time.perf_counter()
                art = vae_augment.fit(data, label="churn", callbacks=[rec])
                total = time.perf_counter() - t0
            weights = art.model.get_weights()
            if ref is None:
                ref = (rec.logs, weights)
            same = rec.logs == ref[0] and all(np.array_equal(a, b)
                                              for a, b in zip(weights, ref[1]))
            ep = st.median(a + b for a, b in zip(rec.train[2:], rec.rest[2:]))
            out[name].append((total, ep, st.median(rec.train[2:]), st.median(rec.rest[2:])))
            print(f"  {name:9s} fit {total:6.2f} s, epochs {len(rec.logs)}, epoch {ms(ep)} "
                  f"(training {ms(st.median(rec.train[2:]))}, validation and the rest "
                  f"{ms(st.median(rec.rest[2:]))}); logs and weights identical to the first "
                  f"fit: {same}", flush=True)
    b = [st.median(r[i] for r in out["baseline"]) for i in range(4)]
    p = [st.median(r[i] for r in out["patched"]) for i in range(4)]
    print(f"  medians: fit {b[0]:.2f} -> {p[0]:.2f} s ({p[0] / b[0]:.3f}), epoch {ms(b[1])} -> "
          f"{ms(p[1])} ({p[1] / b[1]:.3f}), training part {p[2] / b[2]:.3f}, validation and "
          f"rest {ms(b[3])} -> {ms(p[3])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=2, help="fit pairs in part 3")
    ap.add_argument("--parts", default="fit,steps,check")
    args = ap.parse_args()
    parts = args.parts.split(",")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    art = part_fit(args.data) if "fit" in parts or "steps" in parts else None
    if "steps" in parts:
        part_steps(art, args.data, args.rounds)
    if "check" in parts:
        part_check(args.data, args.repeats)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
