"""Evaluation of synthetic rows against real rows: fidelity, detection, utility, privacy, model.

`c2st_auc` is the classifier two-sample test on its own; `evaluate` builds the whole report
(`report.json` and a self-contained `report.html`, drawn by `vae_augment.report`).

How the real rows are used (the held-out split):
    Unless a separate `holdout` table is given, REAL is split once, stratified by class, into
    real-train (1 - `test_size`) and real-test (`test_size`, default 30%) with
    `sklearn.model_selection.train_test_split(random_state=seed)`; classes with a single row
    stay in real-train. Downstream classifiers train on real-train (plus oversampled rows) and
    are scored on real-test; privacy compares synthetic rows and real-test rows by their
    distance to real-train; model diagnostics are computed on real-test. When the generator
    was trained on all of REAL (as `vae-augment balance` does), real-test rows were seen by
    it, so utility and diagnostics are optimistic: pass `holdout` (rows the model never saw)
    for a clean estimate. With `utility_splits` N the utility section is averaged over N
    such splits (seeds `seed`, `seed` + 1, ...); the other sections use the first.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vae_augment.detection import _detection, c2st_auc
from vae_augment.diagnostics import _diagnostics, _labels, _latents
from vae_augment.errors import (
    InputError,
    NonFiniteError,
    SchemaError,
    VAEAugmentError,
    arg,
    columns_note,
    label_column,
    option,
    warn,
)
from vae_augment.fidelity import _fidelity
from vae_augment.io import (
    SYNTHETIC_COLUMN,
    check_output_parent,
    probe_writable,
    refuse_existing,
    without_views,
)
from vae_augment.privacy import _privacy
from vae_augment.progress import progress_bar
from vae_augment.tablerows import _take
from vae_augment.utility import _utility_over_splits

__all__ = ["c2st_auc", "evaluate", "save_json", "json_text", "check_report_dir", "REPORT_VERSION",
           "SECTIONS", "REPORT_FILES"]

REPORT_FILES = ("report.json", "report.html")


def check_report_dir(report_dir, overwrite: bool = False) -> None:
    """Raises `InputError` when `report_dir` cannot take a report, before any work: it is a
    file, its parent directory does not exist, or it holds a report and not `overwrite`
    (the rules of every other output)."""
    if report_dir is None:
        return
    report_dir = os.fspath(report_dir)
    if os.path.exists(report_dir) and not os.path.isdir(report_dir):
        raise InputError(f"report directory '{report_dir}' exists and is not a directory")
    check_output_parent(report_dir)
    for name in REPORT_FILES:
        refuse_existing(os.path.join(report_dir, name), overwrite, what="report")
    # a report that could not be written would otherwise fail only after all the work
    probe_writable(report_dir, "a report into")

REPORT_VERSION = 1
SECTIONS = ("fidelity", "detection", "utility", "privacy", "model")  # `evaluate(sections=)`


# ---------------------------------------------------------------------------- inputs
def _as_table(data, what: str) -> pa.Table:
    from vae_augment.io import in_memory_table, is_table_like, read_table, resolve_inputs

    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data
    if is_table_like(data):  # a pandas DataFrame, an Arrow stream (Polars, DuckDB, ...)
        return in_memory_table(data)
    try:
        return read_table(resolve_inputs(data))
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from exc


def _without_flag(table: pa.Table, keep_synthetic: bool) -> pa.Table:
    """Drops the `is_synthetic` column, keeping the synthetic (or the real) rows."""
    from vae_augment.io import SYNTHETIC_COLUMN

    if SYNTHETIC_COLUMN not in table.column_names:
        return table
    flag = table.column(SYNTHETIC_COLUMN).fill_null(False)
    keep = flag if keep_synthetic else pc.invert(flag)
    out = table.filter(keep).drop_columns([SYNTHETIC_COLUMN])
    if out.num_rows == 0 and table.num_rows:
        what, side = (("SYNTHETIC", "true") if keep_synthetic else ("REAL", "false"))
        raise InputError(
            f"{what} has an `{SYNTHETIC_COLUMN}` column and none of its {table.num_rows} rows "
            f"has it {side}: only {what.lower()} rows are taken from a file with the column "
            f"(a `balance` output), so there is nothing to compare")
    return out


def _fixed_size(t: pa.DataType) -> int | None:
    """The number of values of a fixed-size list (or an extension type over one), else None."""
    t = t.storage_type if isinstance(t, pa.BaseExtensionType) else t
    return t.list_size if pa.types.is_fixed_size_list(t) else None


def _number_list(t: pa.DataType) -> bool:
    """A variable-length list (or large list) of numbers: an image column stored so."""
    return ((pa.types.is_list(t) or pa.types.is_large_list(t))
            and (pa.types.is_integer(t.value_type) or pa.types.is_floating(t.value_type)))


def _one_length(col) -> int | None:
    """The one number of values every non-null row of a list column holds, else None."""
    lengths = pc.unique(pc.drop_null(pc.list_value_length(col)))
    return lengths[0].as_py() if len(lengths) == 1 else None


def _as_fixed_size(table: pa.Table, name: str, size: int, what: str, of: str) -> pa.Table:
    """`table` with its variable-length list column `name` as the fixed-size list of `size`
    values (of its own value type); a row of another length is a `SchemaError` naming the
    column, the table (`what`) and the row."""
    from vae_augment.encoding import _check_tensor_sizes

    col = table.column(name).combine_chunks()
    _check_tensor_sizes(name, col, size, of=of, where=f" in {what}")
    t = col.type
    return table.set_column(table.schema.get_field_index(name),
                            table.schema.field(name).with_type(pa.list_(t.value_field, size)),
                            col.cast(pa.list_(t.value_field, size)))


def _lists_as_fixed(real: pa.Table, other: pa.Table, what: str) -> tuple[pa.Table, pa.Table]:
    """(real, other) with an image column that one stores as a variable-length list of numbers
    and the other as a fixed-size list (`balance` with a model writes the input's type), or
    both as lists whose rows all hold one number of values, both as fixed-size lists of that
    many values: compared value by value, as the model reads them."""
    for name in real.column_names:
        if name not in other.column_names:
            continue
        a, b = real.schema.field(name).type, other.schema.field(name).type
        if not (_number_list(a) or _number_list(b)):
            continue
        if _number_list(a) and _number_list(b):
            size = _one_length(real.column(name))
            if size is None or _one_length(other.column(name)) not in (size, None):
                continue  # left to the encoding (an unsupported type, to exclude)
        else:
            size = _fixed_size(b) if _number_list(a) else _fixed_size(a)
            if size is None:
                continue
        if _number_list(a):
            real = _as_fixed_size(real, name, size, "REAL", f"{what}'s")
        if _number_list(b):
            other = _as_fixed_size(other, name, size, what, "REAL's")
    return real, other


def _check_schemas(real: pa.Table, other: pa.Table, what: str) -> pa.Table:
    """`other` with real's column order and schema; SchemaError on any difference."""
    missing = [c for c in real.column_names if c not in other.column_names]
    extra = [c for c in other.column_names if c not in real.column_names]
    if missing or extra:
        raise SchemaError(
            f"{what} columns do not match REAL: missing {columns_note(missing)}, unexpected "
            f"{columns_note(extra)}"
        )
    other = other.select(real.column_names)
    columns = []
    for f in real.schema:
        g, col = other.schema.field(f.name), other.column(f.name)
        if not f.type.equals(g.type):
            # another tool's types (int32 for int64, large_string, dictionary) are cast when
            # no value changes; anything else is a mismatch
            mismatch = SchemaError(
                f"column '{f.name}' is {f.type} in REAL but {g.type} in {what}, which "
                f"does not convert without changing values")
            try:
                cast = col.cast(f.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise mismatch from exc
            if not _time_cast_keeps_values(col, cast):
                raise mismatch
            col = cast
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=real.schema)


def _time_cast_keeps_values(col, cast) -> bool:
    """Whether `cast` (`col` cast to another type) holds the same times as `col` when either
    is a time, date or duration: Arrow's safe casts let a timestamp lose its time of day as a
    date and read a plain number as a count of units it never named, so a time is compared
    only with a time (or parsed from text) and must come back unchanged."""
    from vae_augment.schema import is_temporal

    a, b = col.type, cast.type
    if not (is_temporal(a) or is_temporal(b)):
        return True
    if pa.types.is_string(a) or pa.types.is_large_string(a):
        return True  # text parsed as times: a value that does not parse already raised
    if is_temporal(a) != is_temporal(b):
        return False  # a count of unnamed units, or a time read as a plain number
    try:
        back = cast.cast(a, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return pc.all(pc.fill_null(pc.equal(back, col), True)).as_py() is not False


def _load_model(model):
    if model is None:
        return None
    from vae_augment.artifact import Artifact, load_artifact

    return model if isinstance(model, Artifact) else load_artifact(os.fspath(model))


def _encodable(art, table: pa.Table) -> tuple[pa.Table, int, np.ndarray]:
    """(`table` without the rows the model cannot encode, how many those were, [n] bool of
    the rows kept): rows with a category value (`scoring.unseen_category_rows`) or a class
    the model was not trained on, or a null in a column that had none in training
    (`_unseen_nulls`). A column of another type is left to the encoding to report (the
    whole table)."""
    from vae_augment.scoring import unseen_category_rows

    enc = art.encoding
    bad = unseen_category_rows(enc, table) | _unseen_nulls(enc, table)
    if enc.label in table.column_names:
        try:
            _, idx = enc.label_index(table.column(enc.label).combine_chunks())
            bad |= pc.is_null(idx).to_numpy(zero_copy_only=False)
        except SchemaError:
            pass
    if not bad.any():
        return table, 0, ~bad
    return table.filter(pa.array(~bad)), int(bad.sum()), ~bad


def _unseen_nulls(enc, table: pa.Table) -> np.ndarray:
    """[n] bool: the rows of `table` null in a modelled column that had no nulls when the
    model was trained (the encoding refuses them, as it does an unseen category)."""
    bad = np.zeros(table.num_rows, bool)
    for s in enc.specs:
        if s.kind in ("numeric", "categorical", "tensor") and not s.has_nulls \
                and s.name in table.column_names and table.column(s.name).null_count:
            bad |= pc.is_null(table.column(s.name)).to_numpy(zero_copy_only=False)
    return bad


def _split(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test row indices; classes with one row stay in train."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    counts = np.bincount(y) if len(y) else np.zeros(0, int)
    single = np.isin(y, np.flatnonzero(counts == 1))
    try:
        tr, te = train_test_split(
            idx[~single], test_size=test_size, random_state=seed, stratify=y[~single]
        )
    except ValueError as exc:  # fewer test (or train) rows than classes
        # the side short of a row a class: the test side below half, the training side above
        which = "larger" if test_size < 0.5 else "smaller"
        raise InputError(
            f"REAL's {len(y)} rows are too few for a stratified split of {option('test_size')} "
            f"{test_size} over its {int(np.sum(counts > 1))} classes with two or more rows "
            f"({' '.join(str(exc).split())}); give more rows, a {which} "
            f"{option('test_size')}, a {option('holdout')} file, or only the sections that "
            f"need no split ({option('sections')} fidelity,detection)") from exc
    return np.sort(np.r_[tr, idx[single]]), np.sort(te)


#: the fewest real rows (with a label) `evaluate` reports on; `balance --report` checks it
#: before it trains or writes
MIN_REAL_ROWS = 10


# ---------------------------------------------------------------------------- evaluate
def _evaluation_encoding(real, synthetic, extra, label, art, exclude):
    from vae_augment.training import fit_encoding

    skipped: dict[str, str] = {}
    excl = list(exclude)
    for c in exclude:
        skipped[c] = "excluded by the caller"
    categorical, numeric = [], []
    if art is not None:
        for s in art.encoding.specs:
            if s.name not in real.column_names:
                continue
            if s.kind == "excluded" and s.name not in excl:
                excl.append(s.name)
                skipped[s.name] = "not modelled by the model (excluded)"
            is_int = pa.types.is_integer(real.schema.field(s.name).type)
            if is_int and s.kind == "categorical":
                categorical.append(s.name)
            elif is_int and s.kind == "numeric":
                numeric.append(s.name)
    # a column null in every synthetic row (but not in every real one) stays: the encoding
    # is fitted on REAL and SYNTHETIC together, so it has REAL's values, and its null-rate
    # gap is a fidelity failure the findings name (leaving it out raised the fidelity). A
    # column the model excludes (null in its synthetic rows by design) is left out above;
    # without the model, --exclude leaves it out
    both = pa.concat_tables([real, synthetic, *extra])
    limit = _high_cardinality(pa.concat_tables([real, *extra]), both, label, excl, art, skipped)
    import warnings

    with warnings.catch_warnings():  # about a model generating null tensors: not one here
        warnings.filterwarnings("ignore", message=r"tensor column\(s\) .* have null rows")
        try:
            enc = fit_encoding(both, label, exclude=excl, categorical=categorical,
                               numeric=numeric, max_categories=limit)
        except NonFiniteError as exc:  # the encoding saw the inputs as one table: name which
            where = _inputs_with_nonfinite(exc.column, [("REAL", real), ("SYNTHETIC", synthetic),
                                                        *(("HOLDOUT", t) for t in extra)])
            if not where:
                raise
            raise NonFiniteError(f"{' and '.join(where)}: {exc}", exc.column) from exc
    for s in enc.specs:
        if s.kind == "null" and s.name not in skipped:
            skipped[s.name] = "always null"
    return enc, skipped


def _inputs_with_nonfinite(column: str, tables) -> list[str]:
    """The names of the `tables` (name, table) whose `column` contains NaN or ±inf."""
    out = []
    for what, table in tables:
        if column not in table.column_names:
            continue
        col = table.column(column)
        if isinstance(col.type, pa.ExtensionType):
            col = pa.chunked_array([c.storage for c in col.chunks], col.type.storage_type)
        while pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
            col = pa.chunked_array([c.flatten() for c in col.chunks], col.type.value_type)
        if pa.types.is_floating(col.type) and col.num_chunks and pc.any(pc.invert(
                pc.is_finite(col.cast(pa.float64())))).as_py():
            out.append(what)
    return out


def _high_cardinality(real: pa.Table, both: pa.Table, label: str, excl: list, art,
                      skipped: dict) -> int:
    """The category limit for the evaluation's encoding. A text column with more distinct
    values IN THE REAL ROWS (`real`: REAL and HOLDOUT) than the default limit is left out of
    the metrics (`excl`, `skipped`: an ID or free text, meaningless as a category), unless
    the model modelled it as a category (it was fitted with a higher ``max_categories``):
    then the limit rises to take it. A column over the limit only with the synthetic rows
    (`both`) stays, and the limit rises to take it: synthetic values no real row has are a
    fidelity failure, which leaving the column out hid (a 7-day column filled with 2,131
    values scored above a faithful one)."""
    from vae_augment.schema import DEFAULT_MAX_CATEGORIES

    modelled = ({s.name for s in art.encoding.specs if s.kind == "categorical"}
                if art is not None else set())
    limit = DEFAULT_MAX_CATEGORIES

    def distinct(table, name):
        col = table.column(name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        return pc.count_distinct(col).as_py()

    for field in both.schema:
        if field.name == label or field.name in excl:
            continue
        t = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
                or pa.types.is_large_binary(t)):
            continue
        n = distinct(both, field.name)
        if n <= DEFAULT_MAX_CATEGORIES:
            continue
        if field.name in modelled or distinct(real, field.name) <= DEFAULT_MAX_CATEGORIES:
            limit = max(limit, n)
        else:
            excl.append(field.name)
            skipped[field.name] = (f"more than {DEFAULT_MAX_CATEGORIES} distinct values (an ID "
                                   f"or free text?), too many to compare as a category")
    return limit


def _check_classes(classes, y_real: np.ndarray, y_syn: np.ndarray) -> None:
    """SchemaError when no synthetic row has a class with real rows (nothing to compare); a
    warning naming the synthetic classes that REAL lacks (their figures compare with none)."""
    real = set(np.unique(y_real).tolist())
    syn = np.unique(y_syn).tolist()
    lacking = [classes[i] for i in syn if i not in real]
    if len(lacking) == len(syn):
        raise SchemaError(f"no SYNTHETIC row has a class that REAL has: SYNTHETIC's classes "
                          f"{columns_note(lacking)}, REAL's "
                          f"{columns_note([classes[i] for i in sorted(real)])}")
    if lacking:
        warn(f"SYNTHETIC has classes REAL lacks ({columns_note(lacking)}); their rows have no "
             "real rows to be compared with")


def _class_type(classes) -> str:
    """"bool", "int" or "str": the Python type of a label's classes (a label is a string,
    dictionary, bool or integer column)."""
    if all(isinstance(c, (bool, np.bool_)) for c in classes):
        return "bool"
    if all(isinstance(c, (int, np.integer)) for c in classes):
        return "int"
    return "str"


def evaluate(
    real,
    synthetic,
    *,
    label: str,
    model=None,
    report_dir: str | os.PathLike | None = None,
    seed: int = 0,
    holdout=None,
    test_size: float = 0.3,
    max_rows: int = 20000,
    iw_samples: int = 32,
    exclude: tuple[str, ...] | list[str] = (),
    progress: bool | None = None,
    sections: Sequence[str] | None = None,
    overwrite: bool = False,
    utility_splits: int = 1,
    utility_features: str = "standard",
) -> dict[str, Any]:
    """Evaluates synthetic rows against real rows; optionally writes report.json and report.html.

    Sections of the result (all JSON-serialisable):

    * ``fidelity``: per class, per column marginal agreement (KS complement for numerics, the
      mean per-element KS complement for tensors, total-variation complement for categories;
      1 is ideal; a column scores the worse of that and 1 - its null-rate gap), null-rate gaps,
      and the mean absolute difference of pairwise associations (Pearson on quantile-normal
      values, bias-corrected Cramér's V, correlation ratio) within each class.
    * ``detection``: `c2st_auc` overall and per class (0.5 is ideal).
    * ``utility``: logistic regression and gradient boosting (scikit-learn defaults) trained
      on real-train alone, with random oversampling, with SMOTE, and with the synthetic rows
      (vae_augment), scored on real-test: balanced accuracy, macro F1, minority-class F1 and
      average precision, in the feature space `utility_features` names. In both sections a
      column of more than `privacy.FEATURE_MAX_CATEGORIES` (200) values (one the model was
      fitted on with a higher ``max_categories``) is one-hot as its 199 most frequent
      values and one feature for the rest; ``bucketed_columns`` names such columns.
    * ``privacy``: distance to the closest real-train row of the same class for synthetic
      rows vs real-test rows, and the exact-copy rate against every real row.
    * ``model`` (with `model`): ELBO and importance-weighted bound on real-test, KL per latent
      dimension and the number of active units (posterior collapse); with a class guide
      (guided setting), ``guide``: per class, its floor and the shares of real-test rows,
      plain draws and generated rows at or over it; ``latent``: a PCA of the latent means by
      class; ``labels``: the model as a classifier of REAL's rows (its class posterior
      p(c | x), `vae_augment.scoring.class_posterior`): per class, the share whose most
      probable class is their label and the rows it gives their label under
      `diagnostics.LABEL_DOUBT`, and the 10 rows of lowest p(label | x), the likeliest to be
      mislabelled (``row``: each one's position in REAL as given, from 0) (5 % of churn's labels flipped: ROC AUC 0.92 at finding them).

    See the module docstring for how real-train and real-test are made.

    Args:
        real: real rows: a `pyarrow.Table`, a pandas DataFrame (its index left out), any
            object with the Arrow PyCapsule stream interface (a Polars DataFrame, ...) or
            Parquet path(s); likewise `synthetic` and `holdout`. Rows flagged
            ``is_synthetic = true`` are dropped (a `balance` output can be passed).
        synthetic: synthetic rows with REAL's columns; with an ``is_synthetic`` column only
            the flagged rows are used.
        label: the class column.
        model: an `Artifact` or a model directory (enables the model diagnostics and latents).
        report_dir: when given, ``report.json`` and ``report.html`` are written there.
        seed: seed of the split, subsamples and classifiers.
        holdout: real rows never seen by the generator, used as real-test instead of a split.
        test_size: share of REAL held out when `holdout` is not given.
        max_rows: cap on rows per class (fidelity), real-train rows (utility), query rows
            (privacy) and rows per class (the model's ``labels`` part); larger inputs are
            subsampled with `seed`.
        iw_samples: importance samples for the IW bound.
        exclude: columns to leave out of every metric.
        progress: a bar of the report's sections on stderr (None: when stderr is a terminal).
        sections: the sections to compute, from `SECTIONS` (None: all). A section left out
            is None in the result and says so in the HTML; e.g. ``("fidelity",
            "detection")`` skips the slow parts: the utility classifiers and, on large inputs,
            the privacy section's nearest-neighbour search.
        overwrite: replace a report already in `report_dir` (else an `InputError`, before
            any work).
        utility_splits: stratified splits of REAL the utility section is averaged over (the
            first is the one the other sections use; the others have seeds `seed` + 1, ...).
            One split's F1 moves by 0.01-0.03 with the split, so a gap between methods
            smaller than that is noise: with several splits ``utility`` adds each split's
            figures (``per_split``) and their standard deviations (``sd``), and the findings
            flag a gap only when it holds beyond the splits' spread. Each split costs the
            utility section's time again. Needs REAL to be split (no `holdout`).
        utility_features: the utility classifiers' features, and where SMOTE interpolates:
            ``"standard"`` (numbers median-imputed and standardised, other columns one-hot:
            the public baselines' protocol and most scikit-learn pipelines) or
            ``"encoding"`` (the model's encoding: numbers mapped to normal quantiles, null
            indicators, one-hot categories). The methods can rank differently in the two:
            on churn, logistic regression with SMOTE beats the synthetic rows by 0.06 in the
            encoding and ties them in the standard space (`vae_augment.utility`).

    Returns:
        The report as a dict (the content of report.json); ``report["findings"]`` says what
        its figures mean and what to try (`vae_augment.findings`).

    Raises:
        SchemaError: the label column is missing, or REAL and SYNTHETIC differ in columns or
            types.

    Example:
        >>> from vae_augment.evaluation import evaluate
        >>> report = evaluate("real.parquet", "synthetic.parquet", label="churn",
        ...                   model="runs/churn", report_dir="out/report")  # doctest: +SKIP
        >>> report["detection"]["c2st_auc"]                                  # doctest: +SKIP
        0.61
        >>> [f["message"] for f in report["findings"]]                       # doctest: +SKIP
        ['no check flagged anything (utility, detection, fidelity, privacy, model)']
    """
    start = time.perf_counter()
    if isinstance(sections, str):  # "fidelity,detection" as on the command line
        sections = sections.split(",")
    wanted = list(SECTIONS) if sections is None else [x.strip() for x in sections]
    unknown = [x for x in wanted if x not in SECTIONS]
    if unknown or not wanted:
        raise VAEAugmentError(f"{arg('sections')} must be a non-empty subset of "
                              f"{list(SECTIONS)}, got {list(wanted)}")
    if wanted == ["model"] and model is None:
        raise VAEAugmentError("the `model` section needs the model (`model=` / --model-dir)")
    if not 0.0 < test_size < 1.0:
        raise VAEAugmentError(f"{arg('test_size')} must be in (0, 1), got {test_size!r}")
    if max_rows < 100:
        raise VAEAugmentError(f"{arg('max_rows')} must be at least 100, got {max_rows!r}")
    if isinstance(utility_splits, bool) or not isinstance(utility_splits, (int, np.integer)) \
            or utility_splits < 1:
        raise VAEAugmentError(f"{option('utility_splits')} must be a whole number of at least "
                              f"1, got {utility_splits!r}")
    from vae_augment.utility import FEATURES

    if utility_features not in FEATURES:
        raise VAEAugmentError(f"{option('utility_features')} must be one of "
                              f"{', '.join(FEATURES)}, got {utility_features!r}")
    if utility_splits > 1 and sections is not None and "utility" not in wanted:
        raise VAEAugmentError(f"{option('utility_splits', utility_splits)} is a setting of the "
                              f"utility section, which {option('sections')} leaves out")
    if utility_features != "standard" and sections is not None and "utility" not in wanted:
        raise VAEAugmentError(f"{option('utility_features', utility_features)} is a setting of "
                              f"the utility section, which {option('sections')} leaves out")
    if utility_splits > 1 and holdout is not None:
        raise VAEAugmentError(
            f"{option('utility_splits', utility_splits)} needs REAL to be split, but a holdout "
            f"was given and is the one real-test: drop one of the two")
    check_report_dir(report_dir, overwrite)
    # views as large types: pyarrow 25 cannot filter or take them, and the report only reads
    # them (a `balance` output keeps such a column when it is excluded from the model)
    real = without_views(_as_table(real, "REAL"))
    # each row's position in REAL as given, for the rows the report names (`labels`)
    real_rows = np.arange(real.num_rows)
    if SYNTHETIC_COLUMN in real.column_names:
        real_rows = real_rows[~real.column(SYNTHETIC_COLUMN).fill_null(False).to_numpy(
            zero_copy_only=False)]
    real = _without_flag(real, keep_synthetic=False)
    synthetic = without_views(_as_table(synthetic, "SYNTHETIC"))
    # a `balance` output: its real rows ship beside the synthetic ones (the privacy finding
    # says so, since rows near them then disclose little more than the file already does)
    beside = synthetic.num_rows
    synthetic = _without_flag(synthetic, keep_synthetic=True)
    beside -= synthetic.num_rows
    for what, t in (("REAL", real), ("SYNTHETIC", synthetic)):
        if label not in t.column_names:
            raise SchemaError(f"{label_column(label)} not found in {what}. "
                              f"Columns: {columns_note(t.column_names)}")
    real, synthetic = _lists_as_fixed(real, synthetic, "SYNTHETIC")
    synthetic = _check_schemas(real, synthetic, "SYNTHETIC")
    # rows without a class cannot be compared within one: left out, and said
    null_labels = {"real": real.column(label).null_count,
                   "synthetic": synthetic.column(label).null_count}
    real_rows = real_rows[pc.is_valid(real.column(label)).to_numpy(zero_copy_only=False)]
    real = real.filter(pc.is_valid(real.column(label)))
    synthetic = synthetic.filter(pc.is_valid(synthetic.column(label)))
    if holdout is not None:
        holdout = _without_flag(without_views(_as_table(holdout, "HOLDOUT")),
                                keep_synthetic=False)
        if label not in holdout.column_names:
            raise SchemaError(f"{label_column(label)} not found in HOLDOUT")
        _, holdout = _lists_as_fixed(real, holdout, "HOLDOUT")
        holdout = _check_schemas(real, holdout, "HOLDOUT")
        null_labels["holdout"] = holdout.column(label).null_count
        holdout = holdout.filter(pc.is_valid(holdout.column(label)))
        if holdout.num_rows == 0:
            raise InputError(f"HOLDOUT has no row with a {label!r} value to score on")
    if any(null_labels.values()):
        warn(f"rows with a null {label!r} are left out of every figure: "
             + ", ".join(f"{n} of {what.upper()}'s" for what, n in null_labels.items()
                         if n))
    if real.num_rows < MIN_REAL_ROWS or synthetic.num_rows == 0:
        raise InputError(f"need at least {MIN_REAL_ROWS} REAL rows and 1 SYNTHETIC row, got "
                         f"{real.num_rows} and {synthetic.num_rows}")
    art = _load_model(model)
    if art is not None and art.label != label:
        raise SchemaError(f"model was trained with label '{art.label}', not '{label}'")
    unknown_excl = [c for c in exclude if c not in real.column_names]
    if unknown_excl:
        raise SchemaError(f"{arg('exclude')} names unknown columns "
                          f"{columns_note(unknown_excl)}. "
                          f"Columns: {columns_note(real.column_names)}")

    enc, skipped = _evaluation_encoding(
        real, synthetic, [holdout] if holdout is not None else [], label, art, exclude)
    y_real, y_syn = enc.encode(real)["y"], enc.encode(synthetic)["y"]
    _check_classes(enc.classes, y_real, y_syn)
    if holdout is not None:
        y_hold = enc.encode(holdout)["y"]
        extra = [enc.classes[i] for i in np.unique(y_hold) if not (y_real == i).any()]
        if extra:
            warn(f"HOLDOUT has classes REAL lacks ({columns_note(extra)}): no classifier trained "
                 f"on REAL can predict them, so they lower every method's balanced "
                 f"accuracy and macro F1 alike")
    n_classes = len(np.unique(y_real))
    if "utility" in wanted and max_rows < n_classes:
        raise InputError(f"{option('max_rows', max_rows)} is under REAL's {n_classes} "
                         f"classes: the utility classifiers train on a stratified "
                         f"{option('max_rows')} rows of real-train, at least one of each "
                         f"class; raise it, or leave the utility section out "
                         f"({option('sections')})")
    if holdout is None and not {"utility", "privacy", "model"} & set(wanted):
        train, test = real, real.slice(0, 0)  # fidelity and detection need no split
        split = {"method": "no split (fidelity and detection compare all of REAL)",
                 "holdout_given": False}
    elif holdout is None:
        tr, te = _split(y_real, test_size, seed)
        train, test = _take(real, tr), _take(real, te)
        split = {"method": f"stratified split of REAL: {1 - test_size:.0%} real-train, "
                           f"{test_size:.0%} real-test (seed {seed})",
                 "holdout_given": False}
    else:
        train, test = real, holdout
        split = {"method": "REAL is real-train; the given HOLDOUT is real-test",
                 "holdout_given": True}
    split.update(real_train=train.num_rows, real_test=test.num_rows)
    utility_sets, utility_seeds = [(train, test)], [seed]
    if utility_splits > 1 and "utility" in wanted:
        for k in range(1, utility_splits):
            tr, te = _split(y_real, test_size, seed + k)
            utility_sets.append((_take(real, tr), _take(real, te)))
            utility_seeds.append(seed + k)
        split["utility"] = (f"utility: the mean over {utility_splits} stratified splits of "
                            f"REAL (seeds {seed}-{seed + utility_splits - 1}); the other "
                            f"sections use the first")

    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "label": label,
        "classes": [str(c) for c in enc.classes],
        # classes are keyed by their text (JSON's keys are strings): the type they were,
        # so the findings name the int class 28 as 28, not '28'
        "class_type": _class_type(enc.classes),
        "seed": seed,
        "model": art.path if art is not None else None,
        "rows": {"real": real.num_rows, "synthetic": synthetic.num_rows,
                 # rows with a null label, left out of the counts above and every figure
                 "null_label_dropped": null_labels,
                 # real rows in SYNTHETIC's file (`is_synthetic` false: a `balance` output)
                 "real_beside_synthetic": beside},
        "counts": {
            "real": {str(c): int((y_real == i).sum()) for i, c in enumerate(enc.classes)},
            "synthetic": {str(c): int((y_syn == i).sum()) for i, c in enumerate(enc.classes)},
        },
        "columns": {s.name: s.kind for s in enc.specs},
        "skipped_columns": skipped,
        "split": split,
        "max_rows": int(max_rows),
    }
    plots: dict[str, Any] = {"real": real, "synthetic": synthetic, "y_real": y_real,
                             "y_syn": y_syn, "encoding": enc}
    timings: dict[str, float] = {}
    tick = time.perf_counter()
    report["sections"] = [x for x in SECTIONS if x in wanted and (x != "model" or art is not None)]
    report["model_given"] = art is not None
    if art is not None:  # the settings the findings' advice depends on
        settings = (art.config or {}).get("train_config") or {}
        report["model_settings"] = {k: settings[k] for k in (
            "guide_iterations", "candidates", "bank_keep", "beta", "epochs") if k in settings}
        # the rows each class had in training (a small class's advice depends on them)
        report["model_settings"]["class_rows"] = {
            str(c): int(n) for c, n in art.encoding.class_counts.items()}
    order = report["sections"] + ["report"] * (report_dir is not None)
    bar = progress_bar(len(order), desc="evaluate", unit="section", enabled=progress)
    bar.set_postfix_str(order[0])

    def lap(name):
        nonlocal tick
        now = time.perf_counter()
        timings[name] = round(now - tick, 2)
        tick = now
        following = order[order.index(name) + 1:]
        if following:
            bar.set_postfix_str(following[0], refresh=False)
        bar.update()

    for name in ("fidelity", "detection", "utility", "privacy"):
        report[name] = None
    with bar:
        if "fidelity" in wanted:
            report["fidelity"], plots["association"] = _fidelity(
                enc, real, synthetic, y_real, y_syn, max_rows, seed)
            lap("fidelity")
        if "detection" in wanted:
            report["detection"] = _detection(enc, real, synthetic, y_real, y_syn, seed)
            lap("detection")
        if "utility" in wanted:
            report["utility"] = _utility_over_splits(enc, utility_sets, synthetic, y_syn,
                                                     utility_seeds, max_rows, utility_features)
            lap("utility")
        if "privacy" in wanted:
            report["privacy"], plots["dcr_synthetic"], plots["dcr_holdout"] = _privacy(
                enc, real, train, test, synthetic, seed, max_rows)
            lap("privacy")
        report["diagnostics"], report["latent"], report["labels"] = None, None, None
        if art is not None and "model" in wanted:
            # rows holding a category value or a class the model never saw cannot be
            # encoded: left out of this section (and counted), not the section itself
            (m_real, n_real, kept), (m_test, _, _), (m_syn, n_syn, _) = (
                _encodable(art, t) for t in (real, test, synthetic))

            def why(*tables) -> str:  # why rows of `tables` were left out
                nulls = any(_unseen_nulls(art.encoding, t).any() for t in tables)
                return ("a category value or a class the model was not trained on"
                        + (", or a null in a column that had none in training" if nulls else ""))

            try:
                if not m_real.num_rows or not m_syn.num_rows:
                    gone = real if not m_real.num_rows else synthetic
                    raise SchemaError(
                        f"every row of {'REAL' if gone is real else 'SYNTHETIC'} holds "
                        f"{why(gone)}")
                report["diagnostics"] = _diagnostics(art, m_test, seed, iw_samples,
                                                     synthetic=m_syn)
                report["latent"], plots["latent"] = _latents(art, m_real, m_syn, seed)
                report["labels"] = _labels(art, m_real, seed, max_rows,
                                           positions=real_rows[kept])
                if n_real or n_syn:
                    report["diagnostics"]["left_out"] = {
                        "real": n_real, "synthetic": n_syn, "why": why(real, synthetic)}
            except SchemaError as exc:
                report["diagnostics"] = {
                    "skipped": f"the model cannot encode these rows: {exc}"}
            lap("model")
        report["timings"] = timings
        report["seconds"] = round(time.perf_counter() - start, 2)
        from vae_augment.findings import findings

        report["findings"] = findings(report, report_dir)
        if report_dir is not None:
            from vae_augment.report import write_report

            report["files"] = write_report(report_dir, report, plots)
            lap("report")
    return report


def save_json(report: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Writes a report dict as indented JSON (NaN/inf become null)."""
    text = json_text(report)  # whole, or no file
    path = os.fspath(path)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def json_text(report: Mapping[str, Any]) -> str:
    """A report dict as `save_json` writes it: indented JSON, NaN/inf as null."""

    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            return clean(v.item())
        return v

    return json.dumps(clean(report), indent=2, allow_nan=False)
