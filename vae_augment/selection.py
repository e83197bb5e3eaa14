"""Row selection at generation time, as a mixin of `ConditionalVAE` (`vae_augment.model`):
`generate` with candidates, the class guide (`vae_augment.guide`: fitting its trees and
floors, scoring rows, redrawing the rows under their class's floor), and bank pruning by the
class margin. The weights these methods read (the guide's arrays, the latent bank) are
created by `ConditionalVAE.__init__` and saved with the model.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import tensorflow as tf

from vae_augment import distributions as D
from vae_augment import guide as G
from vae_augment.progress import progress_bar

#: the most tensor elements (images' pixels) one batch of bank scoring holds, as a sampling
#: block does (`sampler.block_rows`)
BANK_TENSOR_ELEMENTS = 2**23

__all__ = ["RowSelection", "draw_pending"]


def draw_pending(draw, y, pending_mask, seed):
    """(positions [P, 1], candidates): one new draw, ``draw(y_p, seed)``, for the rows of
    `y` where `pending_mask` is true. Never an empty draw (some likelihood heads cannot take
    one): an empty request draws one row, which is dropped."""
    pending = tf.where(pending_mask)  # [P, 1]
    n_p = tf.shape(pending)[0]
    y_p = tf.concat([tf.gather_nd(y, pending), y[:tf.maximum(1 - n_p, 0)]], axis=0)
    cand = draw(y_p, seed)
    return pending, {key: value[:n_p] for key, value in cand.items()}


class RowSelection:
    """`ConditionalVAE`'s generation-time selection: candidates, the class guide, bank pruning."""

    def generate(self, y, seed, *, tensor_mean: bool | None = None,
                 candidates: int | None = None) -> dict[str, tf.Tensor]:
        """Encoded samples for classes `y` ([B] int) with a stateless `seed` ([2] int).

        With a guide and ``candidates > 1``, row i is its first draw that passes its class's
        guide floor, else the draw the guide scored highest (`guide_iterations`); only the
        rows that have not passed are redrawn. Without a guide and ``candidates > 1``, row i
        is the candidate with the lowest `class_margin` among `candidates` draws for class
        ``y[i]`` (the first such draw on ties). `tensor_mean`: see
        `distributions.sample_features` (None: draw integer images, mean otherwise).
        `candidates`: in place of the model's `candidates` (1: one plain draw per row, as
        `sample` takes without ``guided=True``).
        """
        k = self.candidates if candidates is None else int(candidates)
        if k < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates!r}")
        if k == 1:
            return self._draw(y, seed, tensor_mean=tensor_mean)
        if self.guide_iterations:
            return self._guided(y, seed, tensor_mean=tensor_mean, candidates=k)
        y = tf.cast(y, tf.int32)
        n = tf.shape(y)[0]
        y_all = tf.tile(y, [k])  # candidate j of row i is row j * n + i
        out, z, params = self._draw(y_all, seed, tensor_mean=tensor_mean, with_latent=True)
        margin = tf.reshape(self.class_margin(out, z, y_all, params), [k, n])
        best = tf.argmin(margin, axis=0, output_type=tf.int32)
        pick = best * n + tf.range(n, dtype=tf.int32)
        return {key: tf.gather(value, pick) for key, value in out.items()}

    def plain_draw(self, y, seed, *, tensor_mean: bool | None = None) -> dict[str, tf.Tensor]:
        """One draw per row for classes `y` with a stateless `seed`, with no selection: what
        `generate` returns with ``candidates=1``, and the first draw of the guided setting."""
        return self._draw(y, seed, tensor_mean=tensor_mean)

    def guide_trees(self) -> dict[str, tf.Tensor]:
        """The guide's arrays, as `guide.guide_logits` takes them."""
        return {"feature": self.guide_feature, "threshold": self.guide_threshold,
                "value": self.guide_value, "tree_class": self.guide_tree_class,
                "baseline": self.guide_baseline}

    def guide_proba(self, encoded, y) -> tf.Tensor:
        """[B] probability that the guide gives rows `encoded` (model input or `generate`
        output) of being in classes `y`."""
        x = dict(encoded, y=y)
        logits = G.guide_logits(self.guide_trees(), G.guide_features(self.layout, x))
        return tf.gather(tf.nn.softmax(logits), tf.cast(y, tf.int32), axis=1, batch_dims=1)

    def _guided(self, y, seed, *, tensor_mean, candidates):
        """Draw, keep the rows that pass their class's guide floor, redraw the others (up to
        `candidates` draws; a row that never passes keeps its best-scored draw).

        The redraws are one `tf.while_loop`, not a Python loop, which would put `candidates`
        copies of the decoder and the trees in every traced graph. With 8 candidates that cost
        about 1.2 s more per new sampler on churn and 40 s more to compile under XLA
        (benchmarks/results/guided_cost.md). The loop stops once every row has passed. Round
        r draws with seed ``fold_in(seed, r)``."""
        y = tf.cast(y, tf.int32)
        seed = tf.cast(seed, tf.int32)
        out = self._draw(y, seed, tensor_mean=tensor_mean)
        score = self.guide_proba(out, y)
        floor = tf.gather(self.guide_floor, y)

        def redraw(r, out, score):
            pending, cand = draw_pending(
                lambda y_p, s: self._draw(y_p, s, tensor_mean=tensor_mean), y, score < floor,
                tf.random.experimental.stateless_fold_in(seed, r))
            s_p = self.guide_proba(cand, tf.gather_nd(y, pending))
            better = s_p > tf.gather_nd(score, pending)
            take = tf.boolean_mask(pending, better)
            out = {key: tf.tensor_scatter_nd_update(value, take,
                                                    tf.boolean_mask(cand[key], better))
                   for key, value in out.items()}
            score = tf.tensor_scatter_nd_update(score, take, tf.boolean_mask(s_p, better))
            return r + 1, out, score

        def more(r, out, score):
            return tf.logical_and(r < candidates, tf.reduce_any(score < floor))

        _, out, _ = tf.while_loop(more, redraw, (tf.constant(1, tf.int32), out, score))
        return out

    def fit_guide(self, arrays: Mapping[str, np.ndarray], *, seed: int = 0,
                  floor_arrays: Mapping[str, np.ndarray] | None = None,
                  folds: int = 5, progress: bool | None = None) -> dict[str, Any]:
        """Fits the class guide on encoded real rows `arrays` (`Encoding.encode` output with
        ``y``; a seeded sample of `guide.GUIDE_MAX_ROWS` when larger) and sets each class's
        floor: the `guide_quantile` quantile of the probability of the class that a guide
        which did not see the row gives each real row of the class. Those are `folds`-fold
        out-of-fold probabilities for the fitting rows, and the final guide's for the
        held-out `floor_arrays`. `progress`: a tqdm bar of the boosting rounds on stderr
        (None: when stderr is a terminal). Returns a summary for the training metrics."""
        if not self.guide_iterations:
            raise ValueError("this model has no guide (guide_iterations=0)")
        y = np.asarray(arrays["y"], np.int64)
        rng = np.random.default_rng(seed)
        take = (np.sort(rng.choice(len(y), G.GUIDE_MAX_ROWS, replace=False))
                if len(y) > G.GUIDE_MAX_ROWS else slice(None))
        y = y[take]
        feats = self._guide_features_np({k: np.asarray(v)[take] for k, v in arrays.items()})

        cross_fit = folds > 1 and len(y) >= 10 * folds
        bar = progress_bar(self.guide_iterations * (1 + folds * cross_fit),
                           desc="class guide", unit="round", enabled=progress)
        lock = threading.Lock()

        def on_round():
            with lock:
                bar.update()

        def fit(rows):
            return G.fit_guide(feats[rows], y[rows], self.n_classes, seed=seed,
                               iterations=self.guide_iterations, depth=self.guide_depth,
                               binary_one_tree=not self.guide_tree_per_class,
                               on_round=on_round)

        # the final guide and the `folds` cross-fitting guides are independent fits: they run
        # at once on up to `guide_workers` threads (NumPy's histograms release the GIL), to
        # the same trees as one after another (each fit is deterministic)
        fold = rng.permutation(len(y)) % folds if cross_fit else None
        parts = [slice(None)] + ([fold != k for k in range(folds)] if cross_fit else [])
        workers = G.guide_workers(len(y), feats.shape[1], len(parts))
        with bar:
            if workers > 1:
                with ThreadPoolExecutor(workers, thread_name_prefix="class-guide") as pool:
                    fitted = list(pool.map(fit, parts))
            else:
                fitted = [fit(rows) for rows in parts]
            trees = fitted[0]
            scores, labels = [], []
            for k, fold_trees in enumerate(fitted[1:]):
                scores.append(G.class_proba(fold_trees, feats[fold == k], y[fold == k]))
                labels.append(y[fold == k])
        if floor_arrays is not None and len(floor_arrays["y"]):
            held_y = np.asarray(floor_arrays["y"], np.int64)
            scores.append(G.class_proba(trees, self._guide_features_np(floor_arrays), held_y))
            labels.append(held_y)
        if not scores:  # too few rows to hold any out: the fitted guide's own scores
            scores, labels = [G.class_proba(trees, feats, y)], [y]
        score, label = np.concatenate(scores), np.concatenate(labels)
        floors = np.array([np.quantile(score[label == c], self.guide_quantile)
                           if np.any(label == c) else 0.0 for c in range(self.n_classes)],
                          np.float32)
        for name in ("feature", "threshold", "value", "tree_class", "baseline"):
            getattr(self, f"guide_{name}").assign(trees[name])
        self.guide_floor.assign(floors)
        return {"guide_floor": [round(float(f), 4) for f in floors], "guide_rows": int(len(y))}

    def _guide_features_np(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        rows = {k: v for k, v in arrays.items() if k != "y"}
        n = len(next(iter(arrays.values())))
        return np.concatenate([
            G.guide_features(self.layout, {k: v[i:i + 8192] for k, v in rows.items()}).numpy()
            for i in range(0, n, 8192)]) if n else np.zeros((0, G.guide_width(self.layout)))

    def class_margin(self, encoded, z, y, params=None) -> tf.Tensor:
        """How much more likely each row is under its own class than under any other.

        For rows `encoded` (as `_draw` returns them) decoded from latent codes `z` for classes
        `y`: ``-log p(x, z | y)`` minus the lowest ``-log p(x, z | c)`` over the other classes
        c, where ``p(x, z | c) = p(z | c) p(x | z, c)`` (the class prior and the likelihood
        heads). Negative: the row is that many nats more likely under its own class. `params`
        are the decoder's outputs for (z, y) when already computed. Costs one decoder pass
        per other class: pass j scores every row as class ``(y + j) mod n_classes``.
        """
        y = tf.cast(y, tf.int32)
        n = tf.shape(y)[0]
        if self.n_classes < 2:
            return tf.zeros([n], tf.float32)
        x = self._complete(encoded, n)
        z = tf.cast(z, tf.float32)

        def neg_joint(cls, p):
            x["y"] = cls
            recon = tf.add_n(list(D.feature_log_prob(self.layout, p, x).values()))
            p_mu, p_sd = self.prior_params(cls)
            return -recon - tf.reduce_sum(D.gaussian(p_mu, p_sd).log_prob(z), 1)

        own = neg_joint(y, self.decode_params(z, y) if params is None else params)
        best = None
        for j in range(1, self.n_classes):
            cls = (y + j) % self.n_classes
            score = neg_joint(cls, self.decode_params(z, cls))
            best = score if best is None else tf.minimum(best, score)
        return own - best

    def bank_scores(self, c: int, *, seed: int = 0, draws: int = 8) -> np.ndarray:
        """Mean `class_margin` of `draws` rows generated around each stored posterior of class
        `c` (z from the posterior, x from the likelihood heads); lower is more class-consistent.
        """
        return self._bank_scores([c], seed=seed, draws=draws)[c]

    def _bank_scores(self, classes, *, seed: int = 0, draws: int = 8, on_class=None,
                     max_rows: int = 16384) -> dict[int, np.ndarray]:
        """`bank_scores` of several classes, the same numbers as one class at a time but with
        their rows scored together in batches of about `max_rows` (a class's rows are never
        split): `class_margin` is one decoder pass per class, and eager dispatch, not
        arithmetic, dominates a small model's cost, so one pass over all the classes' rows
        beats one per class. `on_class(k)` is called as each batch of k classes is done.

        With tensor columns a batch holds at most `BANK_TENSOR_ELEMENTS` of their elements,
        and a class whose rows exceed that is scored in pieces of whole posteriors, each
        drawn with its own seed: 8,192 rows of 64x64x3 images at once took 20 GB (12 min of
        paging on 24 GB), as generation took before its blocks were sized the same way."""
        filled = self.bank_filled.numpy()
        bank_loc, bank_scale = self.bank_loc.numpy(), self.bank_scale.numpy()
        per_row = sum(int(np.prod(t["shape"])) for t in self.layout.get("tensors", []))
        # a piece's rows: a whole class unless its tensors pass the budget; a batch's rows
        split = (None if not per_row else
                 max(draws, BANK_TENSOR_ELEMENTS // per_row // draws * draws))
        cap = max_rows if split is None else min(max_rows, split)
        out: dict[int, list[np.ndarray]] = {}

        def pieces(c):
            """(class, first posterior, end, piece index or None) covering class c."""
            f = int(filled[c])
            if split is None or f * draws <= split:
                return [(c, 0, f, None)]  # one piece: the seeds of a whole class, as before
            step = split // draws
            return [(c, a, min(f, a + step), k) for k, a in enumerate(range(0, f, step))]

        def score(group):
            zs, ys, draws_out = [], [], []
            for c, a, b, k in group:
                base = [seed, c] if k is None else [seed, c, k + 1]
                loc = np.repeat(bank_loc[c, a:b], draws, axis=0)
                raw = np.repeat(bank_scale[c, a:b], draws, axis=0)
                seeds = tf.random.experimental.stateless_split(
                    tf.constant(base[:2], tf.int32) if k is None else
                    tf.random.experimental.stateless_fold_in(
                        tf.constant(base[:2], tf.int32), base[2]), 2)
                zs.append(loc + D.normal_scale(raw)
                          * tf.random.stateless_normal(loc.shape, seed=seeds[0]))
                ys.append(tf.fill([(b - a) * draws], c))
                draws_out.append(seeds[1])
            z, y = tf.concat(zs, 0), tf.concat(ys, 0)
            params = self.decode_params(z, y)
            # each piece's rows drawn with its own seed, as when scored alone
            cuts = np.cumsum([0] + [(b - a) * draws for _, a, b, _ in group])
            sampled = [D.sample_features(self.layout, {k: v[i:j] for k, v in params.items()}, s)
                       for i, j, s in zip(cuts[:-1], cuts[1:], draws_out)]
            x = {k: tf.concat([d[k] for d in sampled], 0) for k in sampled[0]}
            margin = self.class_margin(x, z, y, params).numpy()
            for (c, _, _, _), i, j in zip(group, cuts[:-1], cuts[1:]):
                out.setdefault(c, []).append(margin[i:j].reshape(-1, draws).mean(1))

        def finish(group):
            score(group)
            done = sum(1 for c, _, b, k in group if k is None or b == int(filled[c]))
            if on_class is not None and done:
                on_class(done)

        group: list[tuple] = []
        rows = 0
        for c in classes:
            for piece in pieces(c):
                n = (piece[2] - piece[1]) * draws
                if group and rows + n > cap:
                    finish(group)
                    group, rows = [], 0
                group.append(piece)
                rows += n
        if group:
            finish(group)
        return {c: np.concatenate(v) for c, v in out.items()}

    def prune_bank(self, keep: float, class_rows=None, *, seed: int = 0, draws: int = 8,
                   min_rows: int = 16, progress: bool | None = None) -> list[int]:
        """Keeps each class's most class-consistent stored posteriors; returns the counts kept.

        Every stored posterior is scored by the mean `class_margin` of `draws` rows generated
        around it (z from the posterior, x from the likelihood heads); the best `keep`
        fraction stays, in score order, and the rest is dropped (``bank_filled`` shrinks), so
        `generate` draws only around training rows that the model itself places firmly in
        their class, not around rows of a class overlap. A class keeps at least the share of
        its bank that holds `min_rows` of its `class_rows` training rows (the bank of a small
        class repeats each row over several epochs), so a tiny class keeps some variety.
        Deterministic for a given `seed`. `progress`: a tqdm bar of the classes scored on
        stderr (None: when stderr is a terminal); on digits_longtail's 10 classes the scoring
        takes about 10 s of a 27 s fit (benchmarks/results/bank_scores_cost.txt). The classes'
        rows are scored together (`_bank_scores`): the same scores, 1.0-1.4x faster
        (benchmarks/results/bank_scores_batched.txt).
        """
        if not self.bank_size or keep >= 1.0:
            return [int(f) for f in self.bank_filled.numpy()]
        if not 0.0 < keep <= 1.0:
            raise ValueError(f"`keep` must be in (0, 1], got {keep!r}")
        locs, scales = self.bank_loc.numpy(), self.bank_scale.numpy()
        filled = self.bank_filled.numpy().copy()
        n_keep = {}
        for c in range(self.n_classes):
            f = int(filled[c])
            rows = f if class_rows is None else max(1, min(f, int(class_rows[c])))
            k = int(math.ceil(max(keep, min(1.0, min_rows / rows)) * f))  # at least 1 when f > 0
            if k < f:  # else the class keeps its whole bank
                n_keep[c] = k
        with progress_bar(len(n_keep), desc="bank pruning", unit="class", enabled=progress) as bar:
            scores = self._bank_scores(list(n_keep), seed=seed, draws=draws, on_class=bar.update)
            for c, k in n_keep.items():
                order = np.argsort(scores[c], kind="stable")[:k]
                locs[c, :k], scales[c, :k] = locs[c, order], scales[c, order]
                locs[c, k:], scales[c, k:] = 0.0, 0.0
                filled[c] = k
        self.bank_loc.assign(locs)
        self.bank_scale.assign(scales)
        self.bank_filled.assign(filled)
        self.bank_pos.assign(filled % self.bank_size)
        return [int(f) for f in filled]

    def _complete(self, encoded, n) -> dict[str, tf.Tensor]:
        """`generate`'s output as model input (empty num/nulls/cat parts filled in)."""
        x = dict(encoded)
        x.setdefault("num", tf.zeros([n, self.layout["n_num"]], tf.float32))
        x.setdefault("nulls", tf.zeros([n, self.layout["n_null"]], tf.float32))
        x.setdefault("cat", tf.zeros([n, len(self.layout["cat_sizes"])], tf.int32))
        slots = (self.layout.get("num_null_idx") or []) + self.layout.get("num_spike_idx", [])
        if self.layout["n_null"] and any(i >= 0 for i in slots):
            # the encoding stores a null numeric (or a spike's) as 0, its indicator set
            absent = D.absent_numeric(self.layout, x["nulls"], n) > 0.5
            x["num"] = tf.where(absent, tf.zeros_like(x["num"]), x["num"])
        x.pop("y", None)
        return x
