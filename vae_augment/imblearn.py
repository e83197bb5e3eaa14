"""`VAEOverSampler`: the conditional VAE as a drop-in imbalanced-learn over-sampler.

The sampler is a thin adapter over the product path, with no encoding or sampling of its own:
``X`` (+ ``y`` as a label column under a reserved name) becomes one `pyarrow.Table`, which
`vae_augment.api.fit` encodes (`training.fit_encoding`) and trains on exactly as the CLI does;
`vae_augment.api.sample` (the block `Sampler`) generates the rows imbalanced-learn's
``sampling_strategy_`` asks for, and the synthetic table is converted back to the container
``fit_resample`` was given (DataFrame/Series with their dtypes, ndarray, list, sparse matrix).

An integer ``random_state`` is used as the product's seed unchanged, so
``VAEOverSampler(random_state=7)`` generates the same rows as ``vae_augment.fit(..., seed=7)``
followed by ``vae_augment.sample(..., seed=7, guided=True)`` on the same table (balancing
generates with the model's class guide, as the CLI's ``balance`` does).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_sampling_strategy, check_target_type
from scipy import sparse
from sklearn.preprocessing import label_binarize
from sklearn.utils import check_consistent_length, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn_compat.base import _fit_context
from sklearn_compat.utils.validation import validate_data

from vae_augment.imblearn_convert import (
    _array_to_arrow,
    _arrow_to_array,
    _arrow_to_frame,
    _as_list,
    _frame_numbers,
    _frame_to_arrow,
    _holds_missing,
    _is_dataframe,
    _label_array,
    _restore_y,
    collapse_onehot,
    expand_onehot,
    onehot_groups,
)
from vae_augment.schema import COUNT_LIKELIHOODS, FLOAT_TENSORS
from vae_augment.strategy import PRECISIONS
from vae_augment.training import TrainConfig, global_rng_preserved

__all__ = ["VAEOverSampler", "LABEL_COLUMN", "SPARSE_SPIKE_SHARE"]

#: Name of the label column in the table handed to the product (made unique if X has it).
LABEL_COLUMN = "__vae_augment_label__"

# The product's defaults, read from `TrainConfig` so the two can never drift apart.
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
#: `spike_share` for sparse X (a SciPy sparse matrix, or a DataFrame whose every column is
#: sparse) when the parameter is None (its default)
SPARSE_SPIKE_SHARE = 0.25
# TrainConfig fields exposed as hyperparameters (`seed` comes from `random_state`).
_TRAIN_PARAMS = (
    "epochs", "batch_size", "latent_dim", "hidden", "learning_rate", "kl_warmup_epochs",
    "patience", "validation_split", "class_prior", "dropout", "jit_compile", "precision",
    "shuffle_buffer", "beta", "latent_source", "bank_size", "temperature",
    "candidates", "bank_keep", "num_components", "guide_iterations", "guide_depth",
    "guide_quantile", "image_likelihood", "float_tensors", "class_balance",
    "condition_every_layer", "dequantize", "spike_share",
)


def _sparse_input(X, pd) -> bool:
    """A SciPy sparse matrix, or a DataFrame whose every column is sparse
    (``pd.DataFrame.sparse.from_spmatrix``, ``pd.get_dummies(sparse=True)`` alone)."""
    if sparse.issparse(X):
        return True
    return (_is_dataframe(X) and X.shape[1] > 0
            and all(isinstance(t, pd.SparseDtype) for t in X.dtypes))


def _refuse_polars(X, y) -> None:
    """A TypeError for a Polars DataFrame or Series: it passed scikit-learn's checks, trained
    the whole model, and then failed (y) or came back as a NumPy object array (X)."""
    for what, obj in (("X", X), ("y", y)):
        if type(obj).__module__.split(".")[0] == "polars":
            raise TypeError(
                f"`{what}` is a Polars {type(obj).__name__}; VAEOverSampler takes pandas and "
                f"NumPy containers, as imbalanced-learn's samplers do: pass "
                f"`{what}.to_pandas()` (and `polars.from_pandas` the results)")


def _check_labels_present(y) -> None:
    """A ValueError naming y's missing labels (None, NaN, pd.NA) and their rows: NumPy's
    sort of the classes failed on them with a TypeError ("'<' not supported between ...")."""
    import pandas as pd

    arr = np.asarray(y, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:  # one-hot targets: scikit-learn's checks
        return
    rows = np.flatnonzero(pd.isna(arr))
    if len(rows):
        shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
        raise ValueError(
            f"`y` has {len(rows)} missing label{'s' if len(rows) != 1 else ''} "
            f"(row{'s' if len(rows) != 1 else ''} {shown}); drop those rows from X and y, or "
            "give them a class")


class VAEOverSampler(BaseOverSampler):
    """Over-samples minority classes with rows generated by a conditional VAE.

    A drop-in replacement for ``SMOTE`` in an imbalanced-learn ``Pipeline``. Unlike SMOTE it
    takes mixed tables as they are: pandas DataFrames with numeric, integer, boolean, string
    and categorical columns and missing values (synthetic rows come back with the same column
    names and dtypes; categorical dtypes keep their categories), as well as NumPy arrays
    (numeric, object/string, NaN as missing), lists and SciPy sparse matrices (densified for
    training, returned sparse). A column whose cells are lists or numpy arrays of numbers is a
    tensor (an image, for 2-d arrays of pixels), its synthetic cells of the same kind. ``fit_resample`` returns the real rows first and unchanged,
    then the synthetic rows, grouped by class.

    Each call trains a new model (one `vae_augment.api.fit`) and samples from it (one
    `vae_augment.api.sample`): the same encoding, model, artifact and sampler as the CLI.

    Args:
        sampling_strategy: as every imbalanced-learn over-sampler: ``"auto"``, ``"minority"``,
            ``"not minority"``, ``"not majority"``, ``"all"``, a float (binary only), a dict
            ``{class: target rows}`` or a callable. Validated by imbalanced-learn.
        random_state: ``None`` (a seed drawn from NumPy's global RNG), an int (used as the
            product's ``seed`` unchanged) or a ``numpy.random.RandomState`` (a seed drawn
            from it). Seeds training and sampling.
        epochs, batch_size, latent_dim, hidden, learning_rate, kl_warmup_epochs, patience,
            validation_split, class_prior, dropout, jit_compile, precision, shuffle_buffer,
            beta, latent_source, bank_size, temperature, candidates, bank_keep,
            num_components, guide_iterations, guide_depth, guide_quantile, image_likelihood,
            float_tensors, class_balance, condition_every_layer, dequantize, spike_share:
            the `TrainConfig` fields of the same names, with the same defaults, except
            ``spike_share=None``: `SPARSE_SPIKE_SHARE` (0.25) when X is a SciPy sparse matrix
            or a DataFrame whose every column is sparse (``pd.SparseDtype``), whose columns are mostly zeros (without an indicator for its zeros, a column's
            few non-zeros are mostly lost: 0.15 non-zeros a synthetic row against 1.05 a real
            one, on a 5 % dense matrix), else `TrainConfig`'s 0.
        exclude: columns not to model (null in synthetic rows). Column labels of a
            DataFrame, or integer positions.
        categorical / numeric: integer columns to force to one kind (labels or positions).
        max_categories: cardinality limit for string/categorical columns.
        constraints: inequalities between numeric columns that synthetic rows keep:
            ``"auto"`` (default) for every one that holds in all training rows and that the
            two columns' marginals alone would not keep, plus, kept in every generated row,
            derived columns (a numeric column a linear function of another), linked columns
            (a category value held exactly where a numeric column holds its most frequent
            value, or is null), dependent categories (a categorical column that is a
            function of another) and class null rules (a column null in every training row
            of a class, or in none, is so in its generated rows); ``"A <= B"`` strings over
            the table's column names (a DataFrame's labels, or ``x0``, ``x1``, ... for
            arrays); or None / ``"none"`` (see `vae_augment.api.fit`).
        verbose: Keras training progress (0 silent, 1 progress bar, 2 one line per epoch).

    Attributes:
        sampling_strategy_: dict ``{class: rows to generate}`` (from imbalanced-learn).
        artifact_: the trained `vae_augment.artifact.Artifact` (model and encoding); `save`
            writes it as a model directory, to sample from the CLI, Beam or tf.data.
        encoding_: the fitted `vae_augment.encoding.Encoding`.
        seed_: the product seed used for training and sampling.
        label_column_: the label column's name in the training table (and a saved
            model): y's name when y is a named Series or a one-column DataFrame and X has no
            column of that name, else ``__vae_augment_label__``.
        train_metrics_: the training metrics (epochs run, final losses, seconds; under
            ``"history"`` every epoch's losses).
        history_: every epoch's losses, as Keras' ``History.history`` (``loss``,
            ``val_loss``, ``recon``, ``kl``, ...; `vae_augment.Artifact.history`).
        onehot_groups_: lists of column positions each modelled as one category: one-hot
            blocks (adjacent 0/1 columns with exactly one 1 in every row, or at most one
            after ``OneHotEncoder(drop="first")``); synthetic rows keep that.
        n_features_in_: number of features seen in ``fit_resample``.
        feature_names_in_: column names of ``X`` when it is a DataFrame with string names.

    Example:
        Where ``SMOTE`` was (``preprocess`` is e.g. a ``ColumnTransformer``)::

            from imblearn.pipeline import make_pipeline
            from sklearn.linear_model import LogisticRegression
            from vae_augment import VAEOverSampler

            pipe = make_pipeline(preprocess, VAEOverSampler(random_state=0),
                                 LogisticRegression(max_iter=1000))
            pipe.fit(X_train, y_train).score(X_test, y_test)

        Or on a mixed DataFrame as it is::

            X_res, y_res = VAEOverSampler(random_state=0, epochs=50).fit_resample(df, y)

        The defaults are the guided setting (the class guide redraws rows that sit in
        another class's region). The former defaults, no guide (a faster fit and generation;
        the balanced rows met 4 of the 9 quality targets of benchmarks/RESULTS.md against 8)::

            from vae_augment import UNGUIDED

            VAEOverSampler(random_state=0, **UNGUIDED)
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "latent_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "hidden": ["array-like"],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "kl_warmup_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "patience": [Interval(numbers.Integral, 0, None, closed="left")],
        "validation_split": [Interval(numbers.Real, 0, 1, closed="left")],
        "class_prior": ["boolean"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "jit_compile": ["boolean", None],
        "precision": [StrOptions(set(PRECISIONS))],
        "shuffle_buffer": [Interval(numbers.Integral, 1, None, closed="left")],
        "beta": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "latent_source": [StrOptions({"posterior", "prior"})],
        "bank_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "candidates": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "bank_keep": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "num_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "guide_iterations": [Interval(numbers.Integral, 0, None, closed="left")],
        "guide_depth": [Interval(numbers.Integral, 1, None, closed="left")],
        "guide_quantile": [Interval(numbers.Real, 0, 1, closed="left")],
        "image_likelihood": [StrOptions(set(COUNT_LIKELIHOODS))],
        "float_tensors": [StrOptions(set(FLOAT_TENSORS))],
        "class_balance": [Interval(numbers.Real, 0, 1, closed="both")],
        "condition_every_layer": ["boolean"],
        "dequantize": ["boolean"],
        "spike_share": [None, Interval(numbers.Real, 0, 1, closed="both")],
        "exclude": ["array-like"],
        "categorical": ["array-like"],
        "numeric": ["array-like"],
        "max_categories": [Interval(numbers.Integral, 1, None, closed="left")],
        "constraints": [None, str, "array-like"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        epochs: int = _DEFAULTS["epochs"],
        batch_size: int = _DEFAULTS["batch_size"],
        latent_dim: int = _DEFAULTS["latent_dim"],
        hidden: Sequence[int] = _DEFAULTS["hidden"],
        learning_rate: float = _DEFAULTS["learning_rate"],
        kl_warmup_epochs: int = _DEFAULTS["kl_warmup_epochs"],
        patience: int = _DEFAULTS["patience"],
        validation_split: float = _DEFAULTS["validation_split"],
        class_prior: bool = _DEFAULTS["class_prior"],
        dropout: float = _DEFAULTS["dropout"],
        jit_compile: bool | None = _DEFAULTS["jit_compile"],
        precision: str = _DEFAULTS.get("precision", "float32"),
        shuffle_buffer: int = _DEFAULTS.get("shuffle_buffer", 65536),
        beta: float | None = _DEFAULTS["beta"],
        latent_source: str = _DEFAULTS["latent_source"],
        bank_size: int = _DEFAULTS["bank_size"],
        temperature: float = _DEFAULTS["temperature"],
        candidates: int | None = _DEFAULTS["candidates"],
        bank_keep: float | None = _DEFAULTS["bank_keep"],
        num_components: int = _DEFAULTS["num_components"],
        guide_iterations: int = _DEFAULTS["guide_iterations"],
        guide_depth: int = _DEFAULTS["guide_depth"],
        guide_quantile: float = _DEFAULTS["guide_quantile"],
        image_likelihood: str = _DEFAULTS["image_likelihood"],
        float_tensors: str = _DEFAULTS["float_tensors"],
        class_balance: float = _DEFAULTS["class_balance"],
        condition_every_layer: bool = _DEFAULTS["condition_every_layer"],
        dequantize: bool = _DEFAULTS["dequantize"],
        spike_share: float | None = None,
        exclude: Sequence[Any] = (),
        categorical: Sequence[Any] = (),
        numeric: Sequence[Any] = (),
        max_categories: int = 200,
        constraints: str | Sequence[str] | None = "auto",
        verbose: int = 0,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.epochs = epochs
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.kl_warmup_epochs = kl_warmup_epochs
        self.patience = patience
        self.validation_split = validation_split
        self.class_prior = class_prior
        self.dropout = dropout
        self.jit_compile = jit_compile
        self.precision = precision
        self.shuffle_buffer = shuffle_buffer
        self.beta = beta
        self.latent_source = latent_source
        self.bank_size = bank_size
        self.temperature = temperature
        self.candidates = candidates
        self.bank_keep = bank_keep
        self.num_components = num_components
        self.guide_iterations = guide_iterations
        self.guide_depth = guide_depth
        self.guide_quantile = guide_quantile
        self.image_likelihood = image_likelihood
        self.float_tensors = float_tensors
        self.class_balance = class_balance
        self.condition_every_layer = condition_every_layer
        self.dequantize = dequantize
        self.spike_share = spike_share
        self.exclude = exclude
        self.categorical = categorical
        self.numeric = numeric
        self.max_categories = max_categories
        self.constraints = constraints
        self.verbose = verbose

    def __setstate__(self, state):
        """A sampler pickled by an earlier vae-augment lacks the parameters added since:
        they take this release's defaults, as ``VAEOverSampler(**its parameters)`` would
        give them, with one warning naming them (get_params, clone, repr and fit_resample
        failed on them with AttributeError, fitted or not, inside a Pipeline too)."""
        super().__setstate__(state)
        missing = [n for n in self._get_param_names() if n not in self.__dict__]
        if not missing:
            return
        import inspect

        from vae_augment.errors import warn

        defaults = inspect.signature(type(self).__init__).parameters
        for name in missing:
            setattr(self, name, defaults[name].default)
        warn(f"this VAEOverSampler was pickled by an earlier vae-augment, without the "
             f"parameter(s) {', '.join(missing)}: they take this release's defaults "
             f"({', '.join(f'{n}={defaults[n].default!r}' for n in missing)}) for "
             f"fit_resample, get_params and clone")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN / None / pd.NA are missing values
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags

    # ------------------------------------------------------------------ validation
    def _check_X_y(self, X, y, accept_sparse=None):
        """Validates without casting: DataFrames keep their dtypes, arrays keep theirs."""
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if _is_dataframe(X):
            # before scikit-learn's validation, which raises narwhals' DuplicateError first
            names = [str(c) for c in X.columns]
            if len(set(names)) != len(names):
                dup = sorted({n for n in names if names.count(n) > 1})
                raise ValueError(f"`X` has duplicate column names {dup}; expected unique names")
            validate_data(self, X=X, y=y, reset=True, skip_check_array=True)
            check_consistent_length(X, y)
            if len(X) == 0:
                raise ValueError("`X` has 0 rows; expected at least 1")
            if X.shape[1] == 0:  # scikit-learn's wording for arrays
                raise ValueError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is "
                                 "required by VAEOverSampler.")
        else:
            X, y = validate_data(
                self,
                X=X,
                y=y,
                reset=True,
                accept_sparse=["csr", "csc", "coo", "lil", "dok", "bsr", "dia"],
                dtype=None,
                ensure_all_finite="allow-nan",
            )
        return X, y, binarize_y

    # ------------------------------------------------------------------ resampling
    def fit(self, X, y, **params):
        """imbalanced-learn's `fit` (the sampling strategy only; use `fit_resample`), with
        y's missing labels one ValueError as in `fit_resample` (its sort of the classes
        failed on them)."""
        _refuse_polars(X, y)
        _check_labels_present(y)
        return super().fit(X, y, **params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y, **params):
        """Trains the VAE on (X, y) and returns the real rows followed by synthetic rows.

        Args:
            X: a pandas DataFrame (any supported column dtypes, missing values allowed), a 2-D
                NumPy array or list (numeric or object/strings; NaN is missing) or a SciPy
                sparse matrix, of shape (n_samples, n_features).
            y: class labels of shape (n_samples,) (array, list, Series or one-column
                DataFrame; one-hot encoded targets are accepted as in imbalanced-learn).

        Returns:
            ``(X_resampled, y_resampled)`` in the container types of ``X`` and ``y``, with
            the original column names and dtypes; real rows first, unchanged (DataFrame and
            Series get a fresh ``RangeIndex``), then the synthetic rows class by class.

        Raises:
            ValueError: invalid parameters, a single class, or data the model cannot learn
                (the message names the column).
        """
        if params:
            raise TypeError(
                f"`fit_resample` takes no extra parameters; got {sorted(params)}"
            )
        _refuse_polars(X, y)
        _check_labels_present(y)
        check_classification_targets(y)
        X_checked, y_checked, binarize_y = self._check_X_y(X, y)
        self.sampling_strategy_ = check_sampling_strategy(
            self.sampling_strategy, y_checked, self._sampling_type
        )
        # the training table's label column takes y's name (a Series' or a one-column
        # frame's), so a saved model reads like the user's data
        name = getattr(y, "name", None) if not _is_dataframe(y) else (
            y.columns[0] if y.shape[1] == 1 else None)
        self._y_name = name if isinstance(name, str) and name else None
        X_res, y_res = self._fit_resample(X_checked, y_checked)
        if binarize_y:
            y_res = label_binarize(y_res, classes=np.unique(y_checked))
        if isinstance(X, list):
            X_res = X_res.tolist()
        return X_res, _restore_y(y, y_res)

    def _fit_resample(self, X, y):
        """Validated X (DataFrame, ndarray or sparse) and 1-D y -> same containers, resampled."""
        import pandas as pd

        from vae_augment import api

        is_frame = _is_dataframe(X)
        columns = list(X.columns) if is_frame else list(range(X.shape[1]))
        names = [str(c) for c in columns] if is_frame else [f"x{i}" for i in columns]
        label_name = getattr(self, "_y_name", None) or LABEL_COLUMN
        if label_name in names:
            label_name = LABEL_COLUMN
        while label_name in names:
            label_name = "_" + label_name
        exclude = self._columns("exclude", columns, names)
        for name in exclude:  # excluded columns are null in synthetic rows
            dtype = X.dtypes.iloc[names.index(name)] if is_frame else X.dtype
            if not _holds_missing(dtype):
                raise ValueError(
                    f"`exclude` names column '{name}' of dtype {dtype}, which cannot hold the "
                    "missing values synthetic rows get for excluded columns; convert it to a "
                    "nullable dtype (e.g. 'Int64', 'boolean', float or object) first"
                )
        dense = X.toarray() if sparse.issparse(X) else X
        to_arrow = _frame_to_arrow if is_frame else _array_to_arrow
        features = to_arrow(dense, names, skip=set(exclude))
        classes = np.unique(y)
        label, keys = _label_array(y, classes)
        table = features.append_column(label_name, label)
        # a OneHotEncoder's blocks (SMOTE's place in a pipeline) as one category each
        named = {*exclude, *self._columns("categorical", columns, names),
                 *self._columns("numeric", columns, names)}
        # a DataFrame's blocks (pd.get_dummies, a ColumnTransformer with pandas output) are
        # searched among its numeric and bool columns
        values = _frame_numbers(X, pd) if is_frame else dense
        self.onehot_groups_ = onehot_groups(values, names, named, self.max_categories)
        table = collapse_onehot(table, values, names, self.onehot_groups_)

        self.seed_ = self._seed()
        train_kwargs = {name: getattr(self, name) for name in _TRAIN_PARAMS if name in _DEFAULTS}
        train_kwargs["hidden"] = tuple(self.hidden)  # TrainConfig checks the widths
        if self.spike_share is None:
            train_kwargs["spike_share"] = (SPARSE_SPIKE_SHARE if _sparse_input(X, pd)
                                           else _DEFAULTS["spike_share"])
        with global_rng_preserved():  # process-wide seeding: threads train one at a time
            artifact = api.fit(
                table,
                label=label_name,
                exclude=exclude,
                categorical=self._columns("categorical", columns, names),
                numeric=self._columns("numeric", columns, names),
                max_categories=self.max_categories,
                constraints=(self.constraints if self.constraints is None
                             or isinstance(self.constraints, str)
                             else [str(c) for c in self.constraints]),
                verbose=self.verbose,
                seed=self.seed_,
                **train_kwargs,
            )
            self.artifact_ = artifact
            self.encoding_ = artifact.encoding
            self.label_column_ = label_name
            self.train_metrics_ = dict(artifact.config.get("metrics", {}))
            self.history_ = artifact.history

            key_of = dict(zip(classes.tolist(), keys))
            counts = {key_of[c]: int(n) for c, n in self.sampling_strategy_.items()
                      if int(n) > 0}
            synthetic = (api.sample(artifact, counts, seed=self.seed_, guided=True)
                         if counts else None)
        if synthetic is not None:  # a column of lists (trained as fixed-size) as it came
            enc = artifact.encoding
            synthetic = enc.as_list_types(synthetic, enc.list_tensors(table.schema))
        n_new = 0 if synthetic is None else synthetic.num_rows
        expected = sum(counts.values())
        if n_new != expected:  # a broken sampler must not pass silently
            raise RuntimeError(f"the sampler returned {n_new} rows; expected {expected}")

        if synthetic is None:
            y_new = y[:0]
        else:
            position = {k: i for i, k in enumerate(keys)}
            got = synthetic.column(label_name).to_pylist()
            y_new = classes[np.asarray([position[v] for v in got], dtype=np.intp)]
        y_res = np.concatenate([y, y_new.astype(y.dtype, copy=False)])

        if is_frame:
            synth_frame = (_arrow_to_frame(expand_onehot(synthetic, names, self.onehot_groups_),
                                           X, names, pd) if n_new else X.iloc[:0])
            X_res = pd.concat(
                [X.reset_index(drop=True), synth_frame.reset_index(drop=True)],
                ignore_index=True,
            )
            return X_res, y_res
        synth_array = (
            _arrow_to_array(expand_onehot(synthetic, names, self.onehot_groups_), names, dense)
            if n_new
            else np.empty((0, dense.shape[1]), dense.dtype)
        )
        if sparse.issparse(X):
            stacked = sparse.vstack([X, sparse.csr_matrix(synth_array)], dtype=X.dtype)
            return stacked.asformat(X.format), y_res
        return np.concatenate([dense, synth_array]), y_res

    def save(self, model_dir: str, *, overwrite: bool = False) -> str:
        """Saves the model of the last `fit_resample` as a model directory, with its training
        settings and metrics, for the CLI, Beam and tf.data (its label column is
        `label_column_`; `vae-augment info` shows it). Returns `model_dir`.

        Example:
            >>> s = VAEOverSampler(random_state=0)
            >>> X_res, y_res = s.fit_resample(X, y)               # doctest: +SKIP
            >>> s.save("runs/from_sklearn")                       # doctest: +SKIP
        """
        from sklearn.utils.validation import check_is_fitted

        from vae_augment.artifact import SAMPLER_VERSION, save_artifact

        check_is_fitted(self, "artifact_")
        art = self.artifact_
        # the sampler version it was fitted under (0 for one unpickled from before
        # 2026-12-02): saved as today's, its warning of other rows for a seed was lost
        return save_artifact(model_dir, art.model, art.encoding,
                             train_config=art.config.get("train_config"),
                             metrics=art.config.get("metrics"), overwrite=overwrite,
                             sampler_version=art.config.get("sampler_version", SAMPLER_VERSION))

    # ------------------------------------------------------------------ helpers
    def _seed(self) -> int:
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def _columns(self, arg: str, columns: list, names: list[str]) -> list[str]:
        """Maps `exclude`/`categorical`/`numeric` (labels or positions) to table names."""
        values = getattr(self, arg)
        by_label = {c: n for c, n in zip(columns, names)}
        out = []
        for v in _as_list(values):
            if not isinstance(v, (list, tuple, np.ndarray)) and v in by_label:
                out.append(by_label[v])
            elif isinstance(v, str) and v in names:  # the name used in messages, e.g. 'x3'
                out.append(v)
            elif isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 <= v < len(names):
                out.append(names[int(v)])
            else:
                raise ValueError(
                    f"`{arg}` names column {v!r}, which is neither a column of X nor a "
                    f"position in [0, {len(names)}). Columns: {columns}"
                )
        return out
