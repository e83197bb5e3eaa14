"""The conditional VAE: a serialisable Keras 3 model whose loss is the negative ELBO.

Encoder q(z | x, y) and prior p(z | y) are diagonal Gaussians (`tfd.Normal`), the KL term is
`tfd.kl_divergence`, and p(x | z, y) factorises over features with the heads in
`vae_augment.distributions`. 2-D tensor columns (images) get a small conv encoder/decoder.
Generation-time selection (candidates, the class guide, bank pruning) is the mixin
`vae_augment.selection.RowSelection`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from vae_augment import distributions as D
from vae_augment import guide as G
from vae_augment._keras import keras
from vae_augment.selection import RowSelection

__all__ = ["ConditionalVAE", "dummy_inputs", "LATENT_SOURCES"]


def _conv_plan(shape: Sequence[int]) -> int | None:
    """Number of stride-2 stages for an image shape, or None when it is not an image."""
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] > 4):
        return None
    h, w = shape[0], shape[1]
    if h < 4 or w < 4:
        return None
    stages = 0
    while stages < 3 and h % 2 == 0 and w % 2 == 0 and h >= 4 and w >= 4:
        h, w, stages = h // 2, w // 2, stages + 1
    return stages


def dummy_inputs(layout: Mapping[str, Any], batch: int = 1) -> dict[str, np.ndarray]:
    """Zero inputs of the right shapes (used to build the model)."""
    x = {
        "num": np.zeros((batch, layout["n_num"]), np.float32),
        "nulls": np.zeros((batch, layout["n_null"]), np.float32),
        "cat": np.zeros((batch, len(layout["cat_sizes"])), np.int32),
        "y": np.zeros((batch,), np.int32),
    }
    for i, t in enumerate(layout["tensors"]):
        shape = list(t["shape"])
        if len(shape) == 2:
            shape = shape + [1]
        x[f"tensor_{i}"] = np.zeros((batch, *shape), np.float32)
    return x


#: a logit offset that makes a draw certain (float32; the heads' logits stay far below it)
_CERTAIN = 1e4


def _class_null_offsets(layout: Mapping[str, Any]):
    """(float32 [n_classes, n_null] or None, float32 [n_classes, sum(cat_sizes)] or None):
    the logit offsets of `layout`'s class null rules: +/-`_CERTAIN` on a null indicator
    always / never on in a class; for a categorical column with a null code (its last),
    -`_CERTAIN` on the null code where it never is, on every other code where it always is."""
    nulls = cats = None
    if layout.get("class_null_rule"):
        nulls = np.asarray(layout["class_null_rule"], np.float32) * _CERTAIN
    if layout.get("class_cat_null_rule"):
        rule = np.asarray(layout["class_cat_null_rule"], np.int8)
        sizes = list(layout["cat_sizes"])
        cats = np.zeros((rule.shape[0], sum(sizes)), np.float32)
        start = 0
        for j, size in enumerate(sizes):
            end = start + size
            cats[rule[:, j] < 0, end - 1] = -_CERTAIN
            cats[np.ix_(rule[:, j] > 0, np.arange(start, end - 1))] = -_CERTAIN
            start = end
    return nulls, cats


@keras.saving.register_keras_serializable(package="vae_augment")
class ConditionalVAE(RowSelection, keras.Model):
    """Conditional VAE over the encoded feature space of one table.

    Args:
        layout: `Encoding.layout()`: sizes of the numeric, null, categorical, tensor and class
            parts.
        latent_dim: size of z.
        hidden: widths of the encoder's and decoder's hidden layers.
        class_prior: learn p(z | y) per class (otherwise a standard normal prior).
        dropout: dropout rate in the hidden layers.
        seed: seed for the reparameterisation noise during training.
        beta: weight of the KL term in the training loss (1.0, the default: the ELBO; the
            reported `neg_elbo` metric always uses 1.0). Below 1 the latent code keeps more of
            each row; early stopping then watches that weighted bound (`beta_neg_elbo`,
            `callbacks.WeightedBound`): on the true ELBO it stopped early and the decoder
            missed class-conditional marginals (churn's `international_plan`: 14% "yes" in
            synthetic churners at 0.3, 30% real and at 1.0; benchmarks/results/quality.md).
            The guided setting uses 0.5.
        latent_source: where `generate` draws z from: ``"posterior"`` (default) picks a
            stored posterior q(z | x, y) of a training row of the class and samples from it
            (the aggregate posterior: no prior holes, rows stay on the data manifold), or
            ``"prior"`` samples the class prior p(z | y). Falls back to the prior for a class
            with no stored posterior.
        bank_size: posteriors kept per class for ``"posterior"`` sampling, refreshed during
            training (the most recent training rows of each class). They are posterior
            means and scales of training rows: the artifact holds up to this many encoded
            training rows per class (use `privacy.filter_near_copies` to drop near copies).
            0 keeps none (prior sampling only).
        temperature: scale of the latent noise at generation (1.0: the fitted distribution;
            lower draws closer to the stored posteriors or the prior mean).
        candidates: class-consistency selection at generation: the most draws a synthetic
            row gets. With a guide (`guide_iterations`), a row is redrawn only while the guide
            puts it under its class's floor. Without one, each row is the best of this many
            candidate rows drawn for its class: the one whose joint density
            p(x, z | class) most exceeds that under any other class (`class_margin`). Rows
            that the model itself finds as likely under another class (the blurred rows
            in class overlaps that make a tree model predict the minority where the
            majority lives) are rarely chosen. 1 turns it off; generation costs about
            ``candidates * n_classes`` decoder passes per row instead of one
            (benchmarks/results/quality.md).
        num_components: Gaussians per numeric column in the likelihood; above 1 each column
            is a `tfd.MixtureSameFamily` of that many Gaussians on the quantile-normal scale
            (see `distributions.numeric_distribution`).
        guide_iterations: rounds of the class guide, a boosted-tree classifier of the real
            rows (`vae_augment.guide`; one oblivious tree per class per round). 0: no guide.
            With a guide, `candidates` is the most draws a synthetic row gets: it is the first
            draw that the guide places in its class at least as firmly as the `guide_quantile`
            quantile of the real rows of that class (the class's floor, `guide_floor`), else
            the most firmly placed of the draws. Only the rows that miss are redrawn. The trees
            are fitted after training (`fit_guide`), so a model's guide is empty (every draw
            passes) until then.
        guide_depth: levels of each guide tree.
        guide_quantile: which quantile of the real rows' guide probabilities is the floor.
        guide_tree_per_class: grow one guide tree per class per round even for two classes
            (models saved before one tree per round served two classes).
        class_weights: one weight per class for each row's term of the training loss and of
            the tracked `neg_elbo` (which early stopping watches), e.g. from
            `training.class_weights`; None weighs every row alike. Only training uses them.
        condition_every_layer: feed the class one-hot to every decoder layer and to the
            likelihood heads (and image decoders), not only to the decoder's first layer, so
            that depth cannot wash the class out (default). On digits_longtail (guided, 8
            splits) it cut the synthetic images' C2ST from 0.789 to 0.695, and logistic
            regression's macro F1 rose from 0.862 to 0.869; on the tables every figure stayed
            within 0.007 (benchmarks/results/quality.md, session 12). Models saved before the
            option load with False, the architecture they were trained with.

    Example:
        >>> model = ConditionalVAE(layout=encoding.layout(), latent_dim=16)  # doctest: +SKIP
        >>> model.compile(optimizer="adam")                                 # doctest: +SKIP
        >>> model.fit(dataset_of_encoded_dicts, epochs=10)                  # doctest: +SKIP
    """

    def __init__(
        self,
        layout: Mapping[str, Any],
        *,
        latent_dim: int = 16,
        hidden: Sequence[int] = (256, 256),
        class_prior: bool = True,
        dropout: float = 0.0,
        seed: int | None = None,
        beta: float = 1.0,
        latent_source: str = "posterior",
        bank_size: int = 1024,
        temperature: float = 1.0,
        candidates: int = 1,
        num_components: int = 1,
        guide_iterations: int = 0,
        guide_depth: int = 6,
        guide_quantile: float = 0.25,
        guide_tree_per_class: bool = False,
        class_weights: Sequence[float] | None = None,
        condition_every_layer: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if latent_source not in LATENT_SOURCES:
            raise ValueError(
                f"`latent_source` must be one of {LATENT_SOURCES}, got {latent_source!r}"
            )
        if not beta > 0:
            raise ValueError(f"`beta` must be > 0, got {beta!r}")
        if int(bank_size) < 0:
            raise ValueError(f"`bank_size` must be >= 0, got {bank_size!r}")
        if not temperature >= 0:
            raise ValueError(f"`temperature` must be >= 0, got {temperature!r}")
        self.beta = float(beta)
        self.latent_source = latent_source
        self.bank_size = int(bank_size)
        for name, value, low in (("candidates", candidates, 1),
                                 ("num_components", num_components, 1),
                                 ("guide_iterations", guide_iterations, 0),
                                 ("guide_depth", guide_depth, 1)):
            if isinstance(value, bool) or int(value) != value or value < low:
                raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}")
        if not 0.0 <= guide_quantile < 1.0:
            raise ValueError(f"`guide_quantile` must be in [0, 1), got {guide_quantile!r}")
        self.guide_iterations = int(guide_iterations)
        self.guide_depth = int(guide_depth)
        self.guide_quantile = float(guide_quantile)
        self.guide_tree_per_class = bool(guide_tree_per_class)
        self.temperature = float(temperature)
        self.candidates = int(candidates)
        self.num_components = int(num_components)
        self.layout = dict(layout)
        self.latent_dim = int(latent_dim)
        self.hidden = [int(h) for h in hidden]
        self.class_prior = bool(class_prior)
        self.dropout = float(dropout)
        self.seed = seed
        self.n_classes = int(layout["n_classes"])
        if class_weights is not None:
            class_weights = [float(w) for w in class_weights]
            if len(class_weights) != self.n_classes or not all(
                    math.isfinite(w) and w > 0 for w in class_weights):
                raise ValueError(f"`class_weights` must be {self.n_classes} positive numbers, "
                                 f"got {class_weights!r}")
        self.class_weights = class_weights
        self.condition_every_layer = bool(condition_every_layer)
        # logit offsets per class for the null indicators and the categorical codes from the
        # encoding's class null rules (`Encoding.class_null_rules`; None: no rule)
        self._null_offsets, self._cat_offsets = _class_null_offsets(self.layout)
        # training-time uniform dequantization of tied numerics (`set_dequantization`)
        self.tie_table = None
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.kl_weight = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="kl_weight", dtype="float32"
        )
        if self.bank_size:
            # posteriors of recent training rows per class (written by compute_loss)
            bank_shape = (self.n_classes, self.bank_size, self.latent_dim)
            self.bank_loc = self.add_weight(
                shape=bank_shape, initializer="zeros", trainable=False, name="bank_loc",
                dtype="float32", aggregation="only_first_replica")
            self.bank_scale = self.add_weight(
                shape=bank_shape, initializer="zeros", trainable=False, name="bank_scale",
                dtype="float32", aggregation="only_first_replica")
            self.bank_pos = self.add_weight(
                shape=(self.n_classes,), initializer="zeros", trainable=False, name="bank_pos",
                dtype="int32", aggregation="only_first_replica")
            self.bank_filled = self.add_weight(
                shape=(self.n_classes,), initializer="zeros", trainable=False,
                name="bank_filled", dtype="int32", aggregation="only_first_replica")

        if self.guide_iterations:
            # the class guide's trees (written by fit_guide after training)
            n_trees = self.guide_iterations * G.trees_per_round(
                self.n_classes, binary_one_tree=not self.guide_tree_per_class)

            def guide_weight(name, shape, dtype="float32", init="zeros"):
                return self.add_weight(shape=shape, initializer=init, trainable=False,
                                       name=f"guide_{name}", dtype=dtype,
                                       aggregation="only_first_replica")

            self.guide_feature = guide_weight("feature", (n_trees, self.guide_depth), "int32")
            self.guide_threshold = guide_weight("threshold", (n_trees, self.guide_depth))
            self.guide_value = guide_weight("value", (n_trees, 2 ** self.guide_depth))
            self.guide_tree_class = guide_weight("tree_class", (n_trees,), "int32")
            self.guide_baseline = guide_weight("baseline", (self.n_classes,))
            self.guide_floor = guide_weight("floor", (self.n_classes,))

        # Tensor (image) encoders and decoders
        self.tensor_enc, self.tensor_dec = [], []
        for i, t in enumerate(layout["tensors"]):
            shape = list(t["shape"])
            stages = _conv_plan(shape)
            mshape = shape + [1] if len(shape) == 2 else shape
            out_ch = 2 if t["likelihood"] in ("normal", "beta_binomial") else 1
            if stages:
                ch = shape[2] if len(shape) == 3 else 1
                enc = [
                    keras.layers.Conv2D(32 * 2**s, 3, strides=2, padding="same", activation="relu",
                                        name=f"t{i}_conv{s}")
                    for s in range(stages)
                ] + [keras.layers.Flatten(name=f"t{i}_flat")]
                h, w = shape[0] // 2**stages, shape[1] // 2**stages
                top = 32 * 2 ** (stages - 1)
                dec = [
                    keras.layers.Dense(h * w * top, activation="relu", name=f"t{i}_dense"),
                    keras.layers.Reshape((h, w, top), name=f"t{i}_reshape"),
                ] + [
                    keras.layers.Conv2DTranspose(
                        32 * 2 ** (stages - 2 - s) if s < stages - 1 else 32, 3, strides=2,
                        padding="same", activation="relu", name=f"t{i}_deconv{s}")
                    for s in range(stages)
                ] + [
                    keras.layers.Conv2D(ch * out_ch, 3, padding="same", dtype="float32",
                                        name=f"t{i}_out")
                ]
            else:
                size = int(np.prod(shape))
                enc = [keras.layers.Flatten(name=f"t{i}_flat")]
                dec = [
                    keras.layers.Dense(size * out_ch, dtype="float32", name=f"t{i}_out"),
                    keras.layers.Reshape(tuple(mshape[:-1]) + (mshape[-1] * out_ch,),
                                         name=f"t{i}_reshape"),
                ]
            self.tensor_enc.append(enc)
            self.tensor_dec.append(dec)

        self.enc_hidden = [
            keras.layers.Dense(h, activation="relu", name=f"enc_{j}") for j, h in enumerate(self.hidden)
        ]
        self.dec_hidden = [
            keras.layers.Dense(h, activation="relu", name=f"dec_{j}") for j, h in enumerate(self.hidden)
        ]
        self.enc_drop = keras.layers.Dropout(self.dropout, seed=seed)
        self.dec_drop = keras.layers.Dropout(self.dropout, seed=None if seed is None else seed + 1)
        self.posterior = keras.layers.Dense(2 * self.latent_dim, dtype="float32", name="posterior")
        self.prior = keras.layers.Embedding(
            self.n_classes, 2 * self.latent_dim, embeddings_initializer="zeros", dtype="float32",
            name="prior")
        n_num, n_null, cat = layout["n_num"], layout["n_null"], sum(layout["cat_sizes"])
        width = 2 * n_num if self.num_components == 1 else 3 * self.num_components * n_num
        self.num_head = keras.layers.Dense(width, dtype="float32", name="num_head") if n_num else None
        self.null_head = keras.layers.Dense(n_null, dtype="float32", name="null_head") if n_null else None
        self.cat_head = keras.layers.Dense(cat, dtype="float32", name="cat_head") if cat else None

        self.recon_tracker = keras.metrics.Mean(name="recon")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.elbo_tracker = keras.metrics.Mean(name="neg_elbo")
        # Build every weight now so that a loaded model has them before load_weights.
        self(dummy_inputs(self.layout, 2))
        self._forget_build_batch()

    def _forget_build_batch(self) -> None:
        """The layers were built on a batch of 2 rows, and Keras records the shapes they were
        built with: `summary()` showed every layer's output as ``(2, 256)`` and a saved
        model's build config carried the 2. Any batch is right: the batch dimension is
        None, as in a functional model."""
        for layer in self._flatten_layers(include_self=False):
            shapes = getattr(layer, "_build_shapes_dict", None)
            if isinstance(shapes, dict):
                layer._build_shapes_dict = {
                    k: (None, *v[1:]) if isinstance(v, (tuple, list)) and len(v) else v
                    for k, v in shapes.items()}

    # ------------------------------------------------------------------ pieces
    def _onehot_y(self, y):
        return tf.one_hot(tf.cast(y, tf.int32), self.n_classes, dtype=self.compute_dtype)

    def encode_params(self, x, training=False):
        """Posterior mean and unconstrained log-scale, each [B, latent_dim] float32."""
        parts = [
            tf.cast(x["num"], self.compute_dtype),
            tf.cast(x["nulls"], self.compute_dtype),
        ]
        if self.layout["cat_sizes"]:
            parts.append(self._cat_one_hot(tf.cast(x["cat"], tf.int32)))
        for i, enc in enumerate(self.tensor_enc):
            h = tf.cast(x[f"tensor_{i}"], self.compute_dtype)
            for layer in enc:
                h = layer(h)
            parts.append(h)
        parts.append(self._onehot_y(x["y"]))
        h = tf.concat(parts, axis=1)
        for layer in self.enc_hidden:
            h = self.enc_drop(layer(h), training=training)
        out = self.posterior(h)
        return out[:, : self.latent_dim], out[:, self.latent_dim:]

    def _cat_one_hot(self, cat):
        """[B, sum(cat_sizes)]: each categorical column one-hot, column by column: built per
        size of category (one op for 300 flags, not 300) and put back in column order."""
        groups = D._cat_groups(tuple(self.layout["cat_sizes"]))
        blocks = [tf.reshape(tf.one_hot(tf.gather(cat, columns, axis=1), size,
                                        dtype=self.compute_dtype), [-1, len(columns) * size])
                  for size, columns, _ in groups]
        if len(groups) == 1:
            return blocks[0]
        order = np.argsort(np.concatenate([slots for _, _, slots in groups]))
        return tf.gather(tf.concat(blocks, axis=1), order, axis=1)

    def prior_params(self, y):
        if not self.class_prior:
            zeros = tf.zeros([tf.shape(y)[0], self.latent_dim], tf.float32)
            return zeros, tf.fill(tf.shape(zeros), _inv_softplus(1.0 - D.MIN_SCALE))
        p = self.prior(tf.cast(y, tf.int32))
        # zero embedding -> standard normal prior at initialisation
        return p[:, : self.latent_dim], p[:, self.latent_dim:] + _inv_softplus(1.0 - D.MIN_SCALE)

    def decode_params(self, z, y, training=False) -> dict[str, tf.Tensor]:
        """Raw likelihood parameters (float32) for latent `z` and class `y`."""
        y_hot = self._onehot_y(y)
        h = tf.concat([tf.cast(z, self.compute_dtype), y_hot], axis=1)
        for layer in self.dec_hidden:
            h = self.dec_drop(layer(h), training=training)
            if self.condition_every_layer:
                h = tf.concat([h, y_hot], axis=1)
        params: dict[str, tf.Tensor] = {}
        if self.num_head is not None:
            p = self.num_head(h)
            n, k = self.layout["n_num"], self.num_components
            if k == 1:
                params["num_loc"], params["num_scale"] = p[:, :n], p[:, n:]
            else:  # per column: K locations, K scales, K mixture logits
                p = tf.reshape(p, [-1, n, 3 * k])
                params["num_loc"], params["num_scale"] = p[..., :k], p[..., k:2 * k]
                params["num_logits"] = p[..., 2 * k:]
        if self.null_head is not None:
            params["null_logits"] = self.null_head(h)
        if self.cat_head is not None:
            params["cat_logits"] = self.cat_head(h)
        for i, dec in enumerate(self.tensor_dec):
            t = h
            for layer in dec:
                t = layer(t)
            params[f"tensor_{i}"] = tf.cast(t, tf.float32)
        return params

    def set_dequantization(self, table: np.ndarray | None) -> None:
        """Trains on tied numerics spread over their quantile intervals (`table`:
        `Encoding.tie_halfwidths()`; None: on the encoded midpoints). `train_model` sets it
        from TrainConfig ``dequantize`` (off by default, on in ``GUIDED``) and spreads the
        validation batches itself; ``call`` spreads only in training steps, so encoding and
        scoring stay deterministic. Not part of the saved model."""
        if table is not None:
            table = np.asarray(table, np.float32)
            if table.ndim != 2 or table.shape[0] != self.layout["n_num"]:
                raise ValueError(f"`table` must have {self.layout['n_num']} rows (one per "
                                 f"numeric column), got shape {table.shape}")
        self.tie_table = table

    # ------------------------------------------------------------------ Keras API
    def call(self, x, training=False):
        seed = self._noise_seed() if training else None
        dequantized = training and self.tie_table is not None
        if dequantized:
            x = dict(x)
            x["num"] = D.dequantize_numeric(
                self.layout, x, self.tie_table,
                tf.random.experimental.stateless_fold_in(seed, 1))
        mu, raw_sd = self.encode_params(x, training=training)
        q = D.gaussian(mu, raw_sd)
        if training:
            eps = tf.random.stateless_normal(tf.shape(mu), seed=seed)
            z = q.loc + q.scale * eps
        else:
            z = q.loc
        params = self.decode_params(z, x["y"], training=training)
        p_mu, p_sd = self.prior_params(x["y"])
        params.update(q_loc=mu, q_scale=raw_sd, p_loc=p_mu, p_scale=p_sd)
        if dequantized:  # the targets the likelihood scores in compute_loss
            params["x_num"] = x["num"]
        return params

    def _noise_seed(self):
        """The reparameterisation seed; each replica of a multi-device strategy offsets it by
        its replica id (the mirrored seed state alone gives every replica the same noise)."""
        seed = self.seed_generator.next()
        if seed.dtype != tf.int32:  # as keras.random.normal does (same draws on one device)
            seed = tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            rid = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
            seed = seed + tf.stack([tf.zeros_like(rid), rid])
        return seed

    def _elbo_terms(self, x, params):
        q = D.gaussian(params["q_loc"], params["q_scale"])
        p = D.gaussian(params["p_loc"], params["p_scale"])
        kl = tf.reduce_sum(D.kl_gaussian(q, p), axis=1)
        parts = D.feature_log_prob(self.layout, params, x)
        recon = tf.add_n(list(parts.values()))
        return recon, kl

    def _update_bank(self, y, q_loc, q_scale):
        """Writes this batch's posteriors into each class's ring buffer."""
        y = tf.cast(y, tf.int32)
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            # the bank keeps the first replica's value (its variables aggregate so): every
            # replica writes the whole step's rows, in batch order, as one device would; its
            # own share alone was kept before (half the rows on 2 replicas)
            y = ctx.all_gather(y, axis=0)
            q_loc = ctx.all_gather(tf.cast(q_loc, tf.float32), axis=0)
            q_scale = ctx.all_gather(tf.cast(q_scale, tf.float32), axis=0)
        onehot = tf.one_hot(y, self.n_classes, dtype=tf.int32)
        rank = tf.gather(tf.cumsum(onehot, axis=0, exclusive=True), y, axis=1, batch_dims=1)
        slot = (tf.gather(self.bank_pos, y) + rank) % self.bank_size
        idx = tf.stack([y, slot], axis=1)
        self.bank_loc.assign(tf.tensor_scatter_nd_update(
            self.bank_loc, idx, tf.cast(q_loc, tf.float32)))
        self.bank_scale.assign(tf.tensor_scatter_nd_update(
            self.bank_scale, idx, tf.cast(q_scale, tf.float32)))
        n = tf.reduce_sum(onehot, axis=0)
        self.bank_pos.assign((self.bank_pos + n) % self.bank_size)
        self.bank_filled.assign(tf.minimum(self.bank_filled + n, self.bank_size))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if "x_num" in y_pred:
            x = {**x, "num": y_pred["x_num"]}
        recon, kl = self._elbo_terms(x, y_pred)
        if training and self.bank_size:
            self._update_bank(x["y"], y_pred["q_loc"], y_pred["q_scale"])
        terms = -recon + self.beta * self.kl_weight * kl
        w = None  # else a row's term weighted by its class's weight
        if self.class_weights is not None:
            w = tf.gather(tf.constant(self.class_weights, tf.float32), tf.cast(x["y"], tf.int32))
            terms = w * terms
        self.recon_tracker.update_state(-recon, sample_weight=w)
        self.kl_tracker.update_state(kl, sample_weight=w)
        self.elbo_tracker.update_state(-recon + kl, sample_weight=w)
        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1:
            return tf.reduce_mean(terms)
        # each replica's sum over the whole step's rows, whose gradients the strategy sums:
        # every row weighs alike however a batch splits, and a replica with no rows (a last
        # batch shorter than the replica count) adds 0, where its mean was NaN
        rows = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.size(terms), tf.float32))
        return tf.reduce_sum(terms) / tf.maximum(rows, 1.0)

    @property
    def metrics(self):
        return [self.recon_tracker, self.kl_tracker, self.elbo_tracker] + super().metrics

    def one_level_functions(self) -> bool:
        """Whether `make_train_function` and `callbacks.Validation` may run `train_step` /
        `test_step` in one plain `tf.function`: no tf.distribute strategy (Keras' TF trainer
        holds None), one step per call, no XLA, not eager."""
        return (getattr(self, "_distribute_strategy", "unknown") is None
                and self.steps_per_execution == 1 and not self.jit_compile
                and not self.run_eagerly)

    def make_train_function(self, force=False):
        """Keras' train function; on one device without a strategy or XLA (the CPU
        default), `train_step` on ``iterator.get_next()`` in one `tf.function` in its place.

        The same step, bit for bit (same losses and weights over a whole churn fit), without
        Keras' wrapping of it for strategies and ``steps_per_execution`` (an outer function
        calling a nested one through ``strategy.run``, its result in a
        ``tf.experimental.Optional`` read back by two eager ops): about 0.9x the training
        time of a churn epoch on a 2-core CPU (benchmarks/explore/step_profile.py)."""
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force=force)
        if not self.one_level_functions():
            return self.train_function
        keras_function = self.train_function

        @tf.function(reduce_retracing=True)
        def one_step(iterator):
            return self.train_step(iterator.get_next())

        def function(iterator):
            if isinstance(iterator, (tf.data.Iterator, tf.distribute.DistributedIterator)):
                return one_step(iterator)  # at the end of the data: OutOfRangeError, as Keras'
            return keras_function(iterator)

        self.train_function = function
        return function

    def get_config(self):
        return {
            "layout": self.layout,
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
            "class_prior": self.class_prior,
            "dropout": self.dropout,
            "seed": self.seed,
            "beta": self.beta,
            "latent_source": self.latent_source,
            "bank_size": self.bank_size,
            "temperature": self.temperature,
            "candidates": self.candidates,
            "num_components": self.num_components,
            "guide_iterations": self.guide_iterations,
            "guide_depth": self.guide_depth,
            "guide_quantile": self.guide_quantile,
            "guide_tree_per_class": self.guide_tree_per_class,
            "class_weights": self.class_weights,
            "condition_every_layer": self.condition_every_layer,
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
        }

    @classmethod
    def from_config(cls, config):
        """The model `get_config` describes, its layers built under its own dtype policy (a
        model saved before the policy was saved: float32, what every artifact holds), not
        the caller's global one: `keras.saving.load_model` under a caller's mixed_float16
        built float16 layers, whose rows differ from the CLI's."""
        config = dict(config)
        for key, value in _LEGACY_DEFAULTS.items():  # models saved before these options
            config.setdefault(key, value)
        dtype = config.pop("dtype", None) or "float32"
        if isinstance(dtype, dict):  # a serialised DTypePolicy
            dtype = keras.dtype_policies.deserialize(dtype).name
        trainable = config.pop("trainable", True)
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(dtype)  # the layers made in __init__ take it
        try:
            model = cls(**config, dtype=dtype)
        finally:
            keras.config.set_dtype_policy(previous)
        if not trainable:
            model.trainable = False
        return model

    # ------------------------------------------------------------------ inference

    def _draw(self, y, seed, *, tensor_mean: bool | None = None, with_latent: bool = False):
        """One unselected draw per row of `y` (what `generate` returns with candidates=1)."""
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=2)
        p_mu, p_sd = self.prior_params(y)
        eps = tf.random.stateless_normal(tf.shape(p_mu), seed=seeds[0], dtype=tf.float32)
        z = p_mu + self.temperature * D.normal_scale(p_sd) * eps
        if self.latent_source == "posterior" and self.bank_size:
            y32 = tf.cast(y, tf.int32)
            filled = tf.gather(self.bank_filled, y32)
            idx = tf.stack([y32, self._bank_slots(y32, filled, seeds[0])], axis=1)
            b_loc = tf.gather_nd(self.bank_loc, idx)
            b_sd = D.normal_scale(tf.gather_nd(self.bank_scale, idx))
            z_post = b_loc + self.temperature * b_sd * eps
            z = tf.where((filled > 0)[:, None], z_post, z)
        params = self.decode_params(z, y)
        out = D.sample_features(self.layout, self._class_rules(params, y), seeds[1],
                                tensor_mean=tensor_mean)
        return (out, z, params) if with_latent else out

    def _class_rules(self, params, y):
        """`params` with the class null rules applied to the logits generation draws from:
        a column null in every training row of a class (or in none) is then null in every
        generated row of it (or in none), where the heads alone left a few per cent."""
        if self._null_offsets is None and self._cat_offsets is None:
            return params
        params = dict(params)
        y = tf.cast(y, tf.int32)
        if self._null_offsets is not None and "null_logits" in params:
            params["null_logits"] = tf.cast(params["null_logits"], tf.float32) + tf.gather(
                tf.constant(self._null_offsets), y)
        if self._cat_offsets is not None and "cat_logits" in params:
            params["cat_logits"] = tf.cast(params["cat_logits"], tf.float32) + tf.gather(
                tf.constant(self._cat_offsets), y)
        return params

    @staticmethod
    def _bank_slots(y, filled, seed) -> tf.Tensor:
        """[B] stored posterior of its class that each row of `y` is drawn around: row i takes
        slot (offset + i) mod filled, with one seeded offset per call. A one-class batch (the
        sampler's, Beam's and tf.data's blocks) so gives every stored posterior the same
        number of rows, within one, where uniform slots gave each a multinomial share: on
        digits_longtail's 5-10-row classes that halved the spread of logistic regression's
        F1 over generation seeds (benchmarks/results/quality.md, session 11)."""
        offset = tf.random.stateless_uniform(
            [], seed=tf.random.experimental.stateless_fold_in(seed, 1), maxval=2**30,
            dtype=tf.int32)
        rows = tf.range(tf.shape(y)[0], dtype=tf.int32)
        return tf.math.floormod(offset + rows, tf.maximum(filled, 1))

    def encode_mean(self, x) -> tf.Tensor:
        """Posterior means E[z | x, y], [B, latent_dim]."""
        return self.encode_params(x)[0]

    def neg_elbo(self, x) -> tf.Tensor:
        """Per-row negative ELBO terms with z at the posterior mean, -log p(x | E[z], y) +
        KL(q(z | x, y) || p(z | y)): an anomaly score (higher = rarer). A deterministic
        point estimate, not a bound: it is usually below the true negative ELBO (churn:
        10.9 against 13.6 nats on average), and so often below the IWAE bound too."""
        params = self(x, training=False)
        recon, kl = self._elbo_terms(x, params)
        return -recon + kl

    #: `iw_bound` stacks importance samples into one decoder pass up to this many values a
    #: pass (rows x samples x the widest of a row's inputs and the hidden layers: 16 MB of
    #: float32 a tensor). A pass per sample cost an eager dispatch of every op per sample;
    #: stacked, churn's IWAE scores (k=16) took 0.7 s instead of 1.6 s (session 51)
    IW_MAX_VALUES = 1 << 22

    def iw_bound(self, x, k: int, seed=None, *, noise=None) -> tf.Tensor:
        """Per-row importance-weighted log-likelihood bound with `k` samples (IWAE).

        The standard normal noise of sample s is drawn with the stateless `seed`, or is
        ``noise(s)`` (an [n, latent_dim] array) when `noise` is given. The samples go through
        the decoder stacked, up to `IW_MAX_VALUES` values a pass."""
        mu, raw_sd = self.encode_params(x)
        q = D.gaussian(mu, raw_sd)
        p_mu, p_sd = self.prior_params(x["y"])
        prior = D.gaussian(p_mu, p_sd)
        if noise is None:
            seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=k)
        x = {key: tf.convert_to_tensor(v) for key, v in x.items()}
        n = mu.shape[0] if mu.shape[0] is not None else tf.shape(mu)[0]  # in a graph: unknown
        width = max([int(np.prod(v.shape[1:])) for v in x.values()] + list(self.hidden))
        per_pass = (max(1, min(k, self.IW_MAX_VALUES // max(n * width, 1)))
                    if isinstance(n, int) else 1)
        terms = []
        for start in range(0, k, per_pass):
            c = min(per_pass, k - start)
            eps = tf.concat([
                tf.random.stateless_normal(tf.shape(mu), seed=seeds[s]) if noise is None
                else tf.convert_to_tensor(noise(s), mu.dtype)
                for s in range(start, start + c)], axis=0)  # [c * n, d], sample-major
            z = tf.tile(q.loc, [c, 1]) + tf.tile(q.scale, [c, 1]) * eps
            xs = {key: tf.tile(v, [c] + [1] * (len(v.shape) - 1)) for key, v in x.items()}
            params = self.decode_params(z, xs["y"])
            recon = tf.add_n(list(D.feature_log_prob(self.layout, params, xs).values()))
            zs = tf.reshape(z, [c, n, -1])
            log_w = (tf.reshape(recon, [c, n]) + tf.reduce_sum(prior.log_prob(zs), 2)
                     - tf.reduce_sum(q.log_prob(zs), 2))
            terms.append(log_w)
        stacked = tf.concat(terms, axis=0)
        return tf.reduce_logsumexp(stacked, axis=0) - math.log(k)


LATENT_SOURCES = ("posterior", "prior")
# what a model saved before an option existed was trained/sampled with
_LEGACY_DEFAULTS = {"beta": 1.0, "latent_source": "prior", "bank_size": 0, "temperature": 1.0,
                    "candidates": 1, "num_components": 1, "guide_iterations": 0,
                    "guide_tree_per_class": True,
                    "condition_every_layer": False}


def _inv_softplus(y: float) -> float:
    return float(np.log(np.expm1(y)))
