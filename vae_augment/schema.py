"""Feature specs: what kind of feature each Arrow column is, fitted in one streaming pass.

`SchemaStats` looks at record batches one at a time (bounded memory: numeric columns keep a
fixed-size reservoir for their quantiles, categorical columns stop counting past the
cardinality limit) and `finalize()` turns what it saw into `FeatureSpec`s.
"""

from __future__ import annotations

import copyreg
import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vae_augment.errors import (
    NonFiniteError,
    SchemaError,
    arg,
    columns_note,
    label_column,
    option,
    option_list,
    warn,
)
from vae_augment.io import schema_without_views, view_types, without_views
from vae_augment.shapes import (  # noqa: F401  (re-exported: this module's names, as before)
    _is_var_list,
    _parse_image_shape,
    _unsized_list,
    column_image_shape,
    image_shape_unmatched,
    shared_image_shape,
    tensor_shape,
    trained_schema,
)


def _reduce_fixed_size_list(t: pa.FixedSizeListType):
    return pa.list_, (t.value_field, t.list_size)


# pyarrow (25) pickles a fixed-size list type without its element field: a non-nullable or
# named element came back as ``item`` and nullable, so the Beam jobs, whose DoFns and
# writers carry the schema pickled, refused (or failed writing) a file the CLI takes
copyreg.pickle(pa.FixedSizeListType, _reduce_fixed_size_list)

__all__ = [
    "FeatureSpec",
    "SchemaStats",
    "tensor_shape",
    "trained_schema",
    "warn_pandas_index",
    "QUANTILE_KNOTS",
    "DEFAULT_MAX_CATEGORIES",
    "DEFAULT_INT_CATEGORICAL_MAX",
    "MAX_DECIMALS",
    "MAX_BINOMIAL_COUNT",
    "BOUNDED_LIKELIHOODS",
    "COUNT_LIKELIHOODS",
    "observed_decimals",
    "tensor_likelihood",
]

QUANTILE_KNOTS = 1025
#: the fewest rows from which a text column whose every value differs is warned about as an ID
ID_MIN_ROWS = 20
#: the most dictionary values whose input order a dictionary column's output keeps
DICTIONARY_ORDER_MAX = 1 << 16
DEFAULT_MAX_CATEGORIES = 200
DEFAULT_INT_CATEGORICAL_MAX = 10
_RESERVOIR = 200_000
MAX_DECIMALS = 6
# integer tensors whose values span at most this many steps (uint8 images: 255) are counts
MAX_BINOMIAL_COUNT = 1024
# tensor likelihoods over [low, high], encoded as (value - low) / (high - low)
BOUNDED_LIKELIHOODS = ("binomial", "beta_binomial", "continuous_bernoulli")
# the count heads of integer tensors (images), one of them chosen by `image_likelihood`
COUNT_LIKELIHOODS = ("binomial", "beta_binomial")
# how tensors with a Normal head are generated (`Encoding.with_float_tensors`)
FLOAT_TENSORS = ("auto", "draw", "mean")


def canonical_zeros(arr):
    """A float array with -0.0 as 0.0 (other arrays unchanged). Arrow's hash kernels
    (`value_counts`, `index_in`, `unique`) tell the two zeros apart, Python's dicts and ``==``
    do not: a float category seen as both would count once and then fail to look up."""
    t = arr.type
    if pa.types.is_float32(t) or pa.types.is_float64(t):
        return pc.add(arr, pa.scalar(0.0, t))  # -0.0 + 0.0 == +0.0; NaN and nulls stay
    return arr


def tensor_likelihood(is_int: bool, low: float, high: float, steps: int | None = None) -> str:
    """The likelihood of a tensor column's elements.

    Integer elements over a bounded range (images: 0..16, 0..255) are Binomial counts of
    ``high - low`` trials: it puts real mass on the range's ends (black background, saturated
    strokes), which the continuous Bernoulli's mean never reaches. So are float elements on a
    grid of `steps` per unit (every value times `steps` a whole number: pixels scaled to
    [0, 1] by 255, or to [-1, 1]), of ``(high - low) * steps`` trials. Other float elements,
    and ranges over `MAX_BINOMIAL_COUNT` steps, are Gaussian on standardised values. Models
    saved before these rules keep their heads.
    """
    if 0 < count_trials(is_int, low, high, steps) <= MAX_BINOMIAL_COUNT:
        return "binomial"
    return "normal"


def count_trials(is_int: bool, low: float, high: float, steps: int | None) -> int:
    """Binomial trials of a tensor's range: steps of 1 for integers, of 1 / `steps` for a
    float grid; 0 for other floats (no grid)."""
    per_unit = 1 if is_int else steps
    return int(round((high - low) * per_unit)) if per_unit else 0


def grid_steps(values: np.ndarray, known: int | None = 1) -> int | None:
    """The fewest steps per unit (at most `MAX_BINOMIAL_COUNT`) whose multiples hold every one
    of the float `values`, a multiple of `known` (the steps of the values seen before); None
    when there is none (embeddings, measurements). Cheap when `known` already fits."""
    if known is None:
        return None

    def fits(n, v):
        return bool(np.all(np.abs(v * n - np.round(v * n)) <= 1e-3))

    if fits(known, values):
        return known
    distinct = np.unique(values)
    if len(distinct) > MAX_BINOMIAL_COUNT + 1:
        return None
    for n in range(known, MAX_BINOMIAL_COUNT + 1, known):
        if fits(n, distinct):
            return n
    return None


#: how far (in float64 spacings) a float64 value may sit from its rounding to `d` decimals and
#: still count as having `d` places: a sum such as 0.1 + 0.2 is off by one
FLOAT64_ULPS = 16


def observed_decimals(values: np.ndarray, float64: bool = False) -> int | None:
    """The fewest decimal places (0..`MAX_DECIMALS`) that represent every value, or None.

    A value counts as having `d` places when it is within a float tolerance of its rounding
    to `d` places: float32's (1e-7 of the value, so float32 data such as 0.1f still counts
    as one place), or with `float64` `FLOAT64_ULPS` float64 spacings. float32's tolerance
    on float64 data made every full-precision value of 5 or more count as having 6 places
    (and of 5e6 or more as whole numbers), so synthetic values were rounded to them.
    """
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return 0
    with np.errstate(over="ignore", invalid="ignore"):
        tol = (FLOAT64_ULPS * np.spacing(np.abs(values)) if float64
               else 1e-7 * np.abs(values))  # tiny values (1e-9) do not pass either way
        for d in range(MAX_DECIMALS + 1):
            if np.all(np.abs(np.round(values, d) - values) <= tol):
                return d
    return None


@dataclasses.dataclass
class FeatureSpec:
    """How one column is modelled. JSON-serialisable via `dataclasses.asdict`.

    kind is one of: ``numeric`` (quantile-normal value + null indicator), ``categorical``
    (vocabulary, null as an extra category), ``tensor`` (fixed-shape values), ``null``
    (always null), ``excluded`` (not modelled; null in synthetic rows).

    ``decimals`` (float numeric columns): every observed value had at most this many decimal
    places (up to `MAX_DECIMALS`), so synthetic values are rounded to it; None: no rounding.

    ``spike`` (numeric columns): a value holding a large share of the column (a
    zero-inflated column's 0), modelled by a Bernoulli indicator beside the null indicators
    instead of by the quantile-normal map (`Encoding.with_spikes`); None: no indicator.

    ``int_low`` / ``int_high`` (integer numeric columns): the exact smallest and largest
    value seen; synthetic integers are clipped to them (float64 knots alone are off by up to
    1,024 near 2**63). None in artifacts of earlier versions: no such clip.

    ``draw`` (tensor columns with a Normal head): True, generated elements are drawn from
    the head; False or None (artifacts of earlier versions), they are its mean given z
    (`Encoding.with_float_tensors`).

    ``steps`` (float tensor columns with a count head): every element is a whole number of
    1 / steps (pixels scaled by 255: 255), and synthetic ones are too; None otherwise.

    ``unit`` / ``unit_offset`` (time, date and duration columns, modelled as their count of
    units): every training value was `unit_offset` plus a multiple of `unit` units
    (3,600,000 and 0 for millisecond timestamps all on the hour; 7 and 4 for date32 days all
    Mondays), and synthetic values are too; None when `unit` is 1.
    """

    name: str
    kind: str
    is_int: bool = False
    has_nulls: bool = False
    knots: list[float] | None = None
    vocab: list[Any] | None = None
    shape: list[int] | None = None
    likelihood: str | None = None
    low: float | None = None
    high: float | None = None
    mean: list[float] | None = None
    std: list[float] | None = None
    decimals: int | None = None
    spike: float | None = None
    int_low: int | None = None
    int_high: int | None = None
    draw: bool | None = None
    steps: int | None = None
    unit: int | None = None
    unit_offset: int | None = None
    dictionary: list[Any] | None = None

    @property
    def rounding_unit(self) -> float:
        """A numeric column's rounding unit: a time column's grid (`unit`), 1 for other
        integers, 10**-decimals for floats observed to a number of decimals, 0 for others."""
        return (float(self.unit) if self.unit else 1.0 if self.is_int
                else 0.0 if self.decimals is None else 10.0 ** -self.decimals)

    @property
    def null_code(self) -> int:
        """The categorical code that stands for null (== len(vocab))."""
        return len(self.vocab or [])

    @property
    def n_categories(self) -> int:
        return len(self.vocab or []) + (1 if self.has_nulls else 0)


def _is_categorical_type(t: pa.DataType) -> bool:
    # a dictionary of values the artifact's JSON can hold (not bytes, dates, ...: a
    # dictionary<binary> column trained, then failed to save)
    if pa.types.is_dictionary(t):
        v = t.value_type
        return (pa.types.is_string(v) or pa.types.is_large_string(v) or pa.types.is_boolean(v)
                or pa.types.is_integer(v) or pa.types.is_floating(v))
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_boolean(t)


def _fixed_list_value_type(t: pa.DataType) -> pa.DataType | None:
    if isinstance(t, pa.FixedShapeTensorType):
        return t.value_type
    if pa.types.is_fixed_size_list(t):
        return t.value_type
    return None


def warn_pandas_index(schema: pa.Schema, label: str, exclude: Sequence[str] = ()) -> None:
    """Warns when a column is a pandas index (``df.to_parquet``): it is modelled like any
    column unless excluded. Called once per fit, where the schema is first read (not by
    `SchemaStats`, which a Beam combine builds once per accumulator)."""
    index = [c for c in _pandas_index_columns(schema)
             if c in schema.names and c != label and c not in exclude]
    if index:
        warn(
            f"column {index[0]!r} is the pandas index of the input (its pandas metadata "
            f"says so); it is modelled like any column, so synthetic rows repeat its "
            f"values and it can give the label away; leave it out with "
            f"{option('exclude', index[0], many=True)}")


def _pandas_index_columns(schema: pa.Schema) -> list[str]:
    """The columns pandas stored its index in (``df.to_parquet``); a RangeIndex is stored
    as metadata only, and is not one."""
    try:
        meta = schema.pandas_metadata or {}
    except (ValueError, UnicodeDecodeError):  # metadata that is not pandas' JSON
        return []
    return [c for c in meta.get("index_columns", []) if isinstance(c, str)]


class _Unmodellable(SchemaError):
    """A column of a type the model cannot learn, that excluding would fix."""

    def __init__(self, column: str, reason: str, message: str):
        super().__init__(message)
        self.column, self.reason = column, reason


class _NumericStats:
    def __init__(self, rng: np.random.Generator, float64: bool = False):
        self.seen = 0
        self.sample = np.empty(0, np.float64)
        self.rng = rng
        self.decimals: int | None = 0  # most decimal places seen so far (None: too many)
        self.float64 = float64  # float64 values: `observed_decimals`' float64 tolerance

    def update(self, values: np.ndarray) -> None:
        n = len(values)
        if n == 0:
            return
        if self.decimals is not None:
            d = observed_decimals(values, getattr(self, "float64", False))
            self.decimals = None if d is None else max(self.decimals, d)
        room = _RESERVOIR - len(self.sample)
        if room > 0:
            self.sample = np.concatenate([self.sample, values[:room]])
            values = values[room:]
            self.seen += min(room, n)
        if len(values):
            idx = np.arange(self.seen, self.seen + len(values))
            j = (self.rng.random(len(values)) * (idx + 1)).astype(np.int64)
            keep = j < _RESERVOIR
            self.sample[j[keep]] = values[keep]
            self.seen += len(values)

    def knots(self) -> list[float]:
        """The column's `QUANTILE_KNOTS` quantiles, interpolated between the sorted values
        (numpy's "linear"): only a value held by two or more rows fills a run of knots (a
        tie, which decoding maps back to the value). Knots that were the sorted values
        themselves gave each value of a table with fewer rows than knots a run of its own,
        so about 70 % of a 300-row table's synthetic cells copied a real value."""
        probs = np.linspace(0.0, 1.0, QUANTILE_KNOTS)
        return np.quantile(self.sample, probs, method="linear").tolist()


def extend_order(order: list[Any] | None, values: Sequence[Any]) -> list[Any] | None:
    """`order` (a dictionary column's values in the input's order, first seen first) with
    the `values` it lacks appended in their order; None past `DICTIONARY_ORDER_MAX` values
    (or when `order` is None)."""
    if order is None:
        return None
    seen = set(order)
    order.extend(v for v in values if v not in seen and not seen.add(v))
    return None if len(order) > DICTIONARY_ORDER_MAX else order


def dictionary_order(order: list[Any] | None, vocab: Sequence[Any]) -> list[Any] | None:
    """What an encoding keeps of a dictionary column's (or label's) input order `order`:
    None when it adds nothing to `vocab` (the sorted values the model codes), or when it
    lacks one of them; else `order` (an ordered category's order, categories no row holds),
    which the output's dictionary then follows."""
    if not order or list(order) == list(vocab) or not set(vocab) <= set(order):
        return None
    return list(order)


def is_temporal(t: pa.DataType) -> bool:
    """A timestamp, date, time of day or duration type: modelled as its count of units."""
    return (pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t)
            or pa.types.is_duration(t))


def numeric_storage(t: pa.DataType) -> pa.DataType | None:
    """The number type a column of type `t` is modelled as when `t` is not one itself: the
    integer its units are counted in for times and dates (int32 for date32 and time32,
    int64 for the rest), float64 for decimals; None for every other type."""
    if is_temporal(t):
        return pa.int32() if t.bit_width == 32 else pa.int64()
    if pa.types.is_decimal(t):
        return pa.float64()
    return None


def as_numbers(arr):
    """`arr` (an array or chunked array) as the numbers it is modelled as: a time, date or
    duration column as its count of units, a decimal column as float64; any other column
    unchanged."""
    storage = numeric_storage(arr.type)
    return arr if storage is None else arr.cast(storage)


def from_numbers(arr: pa.Array, t: pa.DataType, decimals: int | None = None) -> pa.Array:
    """Numbers (`as_numbers`'s type for `t`) back in type `t`; a decimal's rounded to its
    scale first (`decimals`: fewer places, when every training value had fewer)."""
    if pa.types.is_decimal(t):
        arr = pc.round(arr, t.scale if decimals is None else min(decimals, t.scale))
    return arr.cast(t)


def _refuse(unmodellable: list[_Unmodellable], alternative: str = "") -> None:
    """A `SchemaError` naming every column of `unmodellable` (one: its own message), with
    the `--exclude` flags that drop them all; nothing when it is empty."""
    if len(unmodellable) == 1:
        raise SchemaError(str(unmodellable[0])) from None
    if unmodellable:
        names = [e.column for e in unmodellable]
        hint = option_list("exclude", names)
        raise SchemaError(
            f"{len(names)} columns cannot be modelled: "
            + ", ".join(f"'{e.column}' ({e.reason})" for e in unmodellable)
            + f". Exclude them all with {hint}{alternative}")


class _ColumnStats:
    def __init__(self, field: pa.Field, schema: pa.Schema, max_categories: int, rng):
        self.field = field
        self.rows = 0
        self.nulls = 0
        self.counts: dict[Any, int] | None = None
        self.too_many = False
        self.numeric: _NumericStats | None = None
        self.tensor_shape: list[int] | None = None
        self.low = np.inf
        self.high = -np.inf
        self.sum = None
        self.sumsq = None
        self.int_low: int | None = None  # exact extremes of an integer column
        self.int_high: int | None = None
        # a time column's grid: its values' differences' greatest common divisor (0: none
        # seen) and one value (None: none seen, or a range too wide to difference in int64)
        self.unit = 0
        self.anchor: int | None = None
        self.class_nulls: dict[Any, int] = {}  # null rows per class (`SchemaStats.update`)
        self.max_categories = max_categories
        # a dictionary column's dictionary values in the input's order, first seen first
        # (None: not a dictionary, or more than DICTIONARY_ORDER_MAX values)
        self.dictionary: list[Any] | None = [] if pa.types.is_dictionary(field.type) else None
        self._last_dictionary: pa.Array | None = None
        t = field.type
        value_type = _fixed_list_value_type(t)
        if value_type is not None:
            if not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
                raise _Unmodellable(
                    field.name, f"a fixed-size list of {value_type}, not numbers",
                    f"column '{field.name}' is a fixed-size list of {value_type}; only numeric "
                    f"tensors are supported (exclude it with "
                    f"{option('exclude', field.name, many=True)})"
                )
            self.kind = "tensor"
            self.tensor_shape = tensor_shape(field, schema)
            self.value_is_int = pa.types.is_integer(value_type)
            # float elements: the grid they lie on (steps per unit), None once they do not
            self.steps = None if self.value_is_int else 1
        elif _is_var_list(t):
            self._init_var_list(field, schema)
        elif pa.types.is_null(t):
            self.kind = "null"
        elif _is_categorical_type(t):
            self.kind = "categorical"
            self.counts = {}
        elif numeric_storage(t) is not None:  # times, dates, decimals: numbers, never
            self.kind = "int" if is_temporal(t) else "numeric"  # categories
            self.numeric = _NumericStats(rng)
        elif pa.types.is_integer(t):
            self.kind = "int"
            self.counts = {}
            self.numeric = _NumericStats(rng)
        elif pa.types.is_floating(t):
            self.kind = "numeric"
            self.counts = {}  # while it holds few whole numbers (one-hot outputs): see finalize
            self.numeric = _NumericStats(rng, float64=pa.types.is_float64(t))
        else:
            if not field.nullable:  # excluding it would not help: see finalize
                raise SchemaError(
                    f"column '{field.name}' has unsupported type {t} and is not nullable, so "
                    f"it can be neither modelled nor excluded (excluded columns are null in "
                    f"synthetic rows); make the field nullable in the file's schema, or drop "
                    f"the column"
                )
            raise _Unmodellable(
                field.name, f"unsupported type {t}",
                f"column '{field.name}' has unsupported type {t}; exclude it with "
                f"{option('exclude', field.name, many=True)}")

    def _init_var_list(self, field: pa.Field, schema: pa.Schema) -> None:
        """A variable-length list of numbers is a tensor of `list_size` values per row:
        its own `image_shape` metadata's (`column_image_shape`: its field's, or its entry in
        the schema's per-column object), else its first non-null row's length (learned
        in `update`); every row is checked to hold that many. Its shape is resolved in
        `SchemaStats.finalize`, by `tensor_shape`'s rule for the fixed-size list."""
        value_type = field.type.value_type
        if not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
            raise _Unmodellable(
                field.name, f"a list of {value_type}, not numbers",
                f"column '{field.name}' has unsupported type {field.type}: only lists of "
                f"numbers are modelled (as tensors); exclude it with "
                f"{option('exclude', field.name, many=True)}")
        self.kind = "tensor"
        self.value_is_int = pa.types.is_integer(value_type)
        self.steps = None if self.value_is_int else 1
        self.list_size: int | None = None
        self.size_source = ""  # where list_size came from, for the row-length error
        own = column_image_shape(field, schema)
        if own is not None:
            raw, where = own
            self.list_size = int(np.prod(_parse_image_shape(field.name, raw)))
            self.size_source = f"{where} {raw!r}"

    def _check_list_lengths(self, arr: pa.Array, row: Callable[[int], str],
                            source: str | None = None) -> None:
        """Learns a variable-length list column's size from its first non-null row (when
        its metadata gave none), and checks every row holds that many values. `row`: the
        ``i``-th row's position, as a message says it ("17", "17 of its row group").
        `source`: the file the rows come from, named with the row the size came from (a
        later row of another length may be in another file)."""
        lengths = pc.list_value_length(arr).fill_null(-1).to_numpy(zero_copy_only=False)
        valid = lengths >= 0  # null rows are allowed, as for fixed-size lists
        if not valid.any():
            return
        name = self.field.name
        if self.list_size is None:
            i = int(np.argmax(valid))
            self.list_size = int(lengths[i])
            self.size_source = (f"the length of its first non-null row, row {row(i)}"
                                + (f" of input '{source}'" if source else ""))
            if self.list_size == 0:
                raise SchemaError(
                    f"column '{name}' is a list whose first non-null row (row "
                    f"{row(i)}) is empty: no values to model as a tensor; give it "
                    f"`image_shape` field metadata, or exclude it with "
                    f"{option('exclude', name, many=True)}")
        wrong = valid & (lengths != self.list_size)
        if wrong.any():
            i = int(np.argmax(wrong))
            raise SchemaError(
                f"column '{name}' is a variable-length list modelled as a tensor of "
                f"{self.list_size} values per row ({self.size_source}), and row "
                f"{row(i)} holds {int(lengths[i])}: every row must hold {self.list_size} "
                f"values; fix those rows, set the column's `image_shape` field metadata to "
                f"the right shape, or exclude it with {option('exclude', name, many=True)}")

    def update(self, arr: pa.Array, first_row: int | None = None, within: str = "",
               source: str | None = None, where: Callable[[], tuple[int, str]] | None = None
               ) -> None:
        """Takes the next rows of the column; `first_row` (default: the rows seen so far)
        is their first row's position in the input (or in what `within` says, e.g. " of
        its row group"), `source` the file they come from (if one of several), for errors
        naming a row. `where`, when given, is called instead, only when a row is named, for
        ``(first_row, within)`` (a position that costs a lookup)."""
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if self.kind == "tensor" and _is_var_list(arr.type):
            start = self.rows if first_row is None else first_row

            def row(i: int) -> str:
                at, of = (start, within) if where is None else where()
                return f"{at + i}{of}"

            self._check_list_lengths(arr, row, source)
        self.rows += len(arr)
        self.nulls += arr.null_count
        if self.kind == "null":
            return
        if self.kind == "tensor":
            self._update_tensor(arr)
            return
        if pa.types.is_dictionary(arr.type):
            self.note_dictionary(arr.dictionary)
        valid = arr.drop_null() if arr.null_count else arr
        if pa.types.is_dictionary(valid.type):
            valid = valid.dictionary_decode()
        valid = as_numbers(valid)
        if pa.types.is_float16(valid.type):  # Arrow's counting kernels have no halffloat
            valid = valid.cast(pa.float32())
        if self.kind == "numeric" and self.counts is not None:
            self._count_floats(valid)
        elif self.counts is not None and not self.too_many:
            vc = pc.value_counts(canonical_zeros(valid))
            for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
                self.counts[v] = self.counts.get(v, 0) + c
            if len(self.counts) > self.max_categories:
                self.too_many = True
                if self.kind == "int":
                    self.counts = None
        if self.kind == "int" and len(valid):
            self.widen_int_range(*(v.as_py() for v in pc.min_max(valid).values()))
            if is_temporal(self.field.type):
                self._update_grid(valid)
        if self.numeric is not None:
            values = valid.to_numpy(zero_copy_only=False).astype(np.float64)
            if self.kind == "numeric" and not np.all(np.isfinite(values)):
                bad = "NaN" if np.isnan(values).any() else "±inf"
                raise NonFiniteError(
                    f"column '{self.field.name}' contains {bad}; replace it with null or a "
                    f"finite value (or exclude the column with "
                    f"{option('exclude', self.field.name, many=True)})", self.field.name)
            self.numeric.update(values)

    def note_dictionary(self, values: pa.Array | list) -> None:
        """Takes a dictionary array's dictionary into `dictionary` (`extend_order`)."""
        if getattr(self, "dictionary", None) is None:
            return
        if isinstance(values, pa.Array):
            if self._last_dictionary is not None and values.equals(self._last_dictionary):
                return  # the next batch of one file: its dictionary again
            self._last_dictionary = values
            values = values.to_pylist()
        self.dictionary = extend_order(self.dictionary, values)

    def _update_grid(self, valid: pa.Array) -> None:
        """Takes a time column's values (counts of units) into its grid (`unit`)."""
        if self.unit == 1:
            return
        if self.int_high - self.int_low >= 1 << 62:  # differences could overflow int64
            self.unit, self.anchor = 1, None
            return
        ints = valid.to_numpy(zero_copy_only=False).astype(np.int64)
        if self.anchor is None:
            self.anchor = int(ints[0])
        diffs = np.abs(ints - np.int64(self.anchor))
        self.unit = math.gcd(self.unit, int(np.gcd.reduce(diffs)))

    def merge_grid(self, unit: int, anchor: int | None) -> None:
        """Takes another part's grid of the same time column (`stats_merge`; after
        `widen_int_range` with that part's range)."""
        if anchor is None and unit == 0:  # the other part saw no value
            return
        if self.anchor is None and self.unit == 0:  # this one saw none
            self.unit, self.anchor = unit, anchor
        elif anchor is None or self.anchor is None:  # either gave up
            self.unit, self.anchor = 1, None
        else:
            self.unit = math.gcd(self.unit, unit, abs(anchor - self.anchor))
        if self.anchor is not None and self.int_high - self.int_low >= 1 << 62:
            self.unit, self.anchor = 1, None

    def widen_int_range(self, lo: int | None, hi: int | None) -> None:
        """Takes [lo, hi] into an integer column's exact range (None: nothing seen)."""
        if lo is not None:
            self.int_low = lo if self.int_low is None else min(self.int_low, lo)
            self.int_high = hi if self.int_high is None else max(self.int_high, hi)

    def _count_floats(self, valid: pa.Array) -> None:
        """Counts a float column's values while they are at most `DEFAULT_INT_CATEGORICAL_MAX`
        whole numbers; stops (counts None) at the first batch that breaks that."""
        vc = pc.value_counts(canonical_zeros(valid))
        if len(vc) > DEFAULT_INT_CATEGORICAL_MAX:
            self.counts = None
            return
        for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
            self.counts[v] = self.counts.get(v, 0) + c
        if len(self.counts) > DEFAULT_INT_CATEGORICAL_MAX or not all(
                math.isfinite(v) and float(v).is_integer() for v in self.counts):
            self.counts = None

    def _update_tensor(self, arr: pa.Array) -> None:
        if isinstance(arr, pa.ExtensionArray):
            arr = arr.storage
        valid = arr.drop_null() if arr.null_count else arr
        if len(valid) == 0:
            return
        flat = valid.flatten()
        if flat.null_count:
            raise SchemaError(
                f"tensor column '{self.field.name}' has null elements inside a tensor; only "
                f"whole-tensor nulls are supported: fill them, or exclude the column with "
                f"{option('exclude', self.field.name, many=True)}"
            )
        size = (int(np.prod(self.tensor_shape)) if self.tensor_shape is not None
                else self.list_size)
        values = flat.to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, size)
        if not np.all(np.isfinite(values)):
            raise NonFiniteError(f"tensor column '{self.field.name}' contains NaN or ±inf",
                                 self.field.name)
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        if not self.value_is_int:
            self.steps = grid_steps(values, self.steps)
        s, s2 = values.sum(0), (values**2).sum(0)
        self.sum = s if self.sum is None else self.sum + s
        self.sumsq = s2 if self.sumsq is None else self.sumsq + s2

    def finalize(self, as_category: bool | None = None) -> FeatureSpec:
        """`as_category` forces an integer column's kind (None: decide by cardinality)."""
        name = self.field.name
        has_nulls = self.nulls > 0
        valid_rows = self.rows - self.nulls
        if self.kind == "null" or (valid_rows == 0 and self.rows > 0):
            return FeatureSpec(name=name, kind="null", has_nulls=True)
        if self.kind == "tensor":
            n = valid_rows
            mean = self.sum / n
            std = np.sqrt(np.maximum(self.sumsq / n - mean**2, 0.0))
            std = np.maximum(std, 1e-3 * max(1.0, float(np.abs(mean).max())))
            steps = None if self.value_is_int else self.steps
            likelihood = tensor_likelihood(self.value_is_int, self.low, self.high, steps)
            return FeatureSpec(
                name=name,
                kind="tensor",
                is_int=self.value_is_int,
                has_nulls=has_nulls,
                shape=list(self.tensor_shape),
                likelihood=likelihood,
                low=float(self.low),
                high=float(self.high),
                mean=mean.tolist(),
                std=std.tolist(),
                steps=steps if likelihood == "binomial" and steps else None,
            )
        if as_category and numeric_storage(self.field.type) is not None:
            raise SchemaError(
                f"{option('categorical', name, many=True)} names column '{name}' of type "
                f"{self.field.type}, which is modelled as a number; to model it as a "
                f"category, cast it to a string or an integer type first")
        if self.kind == "numeric" and as_category and self.counts is None:
            raise SchemaError(  # it was ignored
                f"{option('categorical', name, many=True)} names a float column that is not "
                f"a few whole numbers (at most {DEFAULT_INT_CATEGORICAL_MAX}), which are all "
                f"a float category can hold: cast it to an integer type to model it as a "
                f"category")
        if self.kind == "numeric" and self.counts is not None:
            # a float column of 2..10 whole numbers (0.0/1.0 from a one-hot encoder) is a
            # category, like a low-cardinality integer; a constant stays numeric
            if as_category is False or len(self.counts) < 2:
                self.counts = None
        if self.kind == "int":
            if as_category and self.too_many:  # asked for: an error, not a number
                raise SchemaError(
                    f"column '{name}' has more than {self.max_categories} distinct values, too "
                    f"many to model as a category as {option('categorical', name, many=True)} "
                    f"asks; raise {option('max_categories')} or model it as a number")
            if as_category is None:
                as_category = (
                    self.counts is not None and len(self.counts) <= DEFAULT_INT_CATEGORICAL_MAX
                )
            if not as_category:
                self.counts = None
        if self.kind == "categorical" or (self.kind in ("int", "numeric")
                                          and self.counts is not None):
            if self.too_many:
                raise _Unmodellable(
                    name, f"more than {self.max_categories} distinct values",
                    f"column '{name}' has more than {self.max_categories} distinct values, too "
                    f"many to model as a category (free text or an ID?); exclude it with "
                    f"{option('exclude', name, many=True)} or raise {option('max_categories')}"
                )
            vocab = sorted(self.counts, key=lambda v: (v is None, v))
            present = self.rows - self.nulls
            if self.kind == "categorical" and len(vocab) >= ID_MIN_ROWS and len(vocab) == present:
                # under --max-categories, so not refused: but no value repeats
                warn(f"column '{name}' holds a different value in each of its {present} rows "
                     f"(an ID?): it is modelled as a category of {present} values, so "
                     f"synthetic rows copy real rows' values (of any class); exclude it with "
                     f"{option('exclude', name, many=True)}")
            typ = self.field.type
            if pa.types.is_dictionary(typ):
                limit = 1 << (typ.index_type.bit_width - (1 if pa.types.is_signed_integer(
                    typ.index_type) else 0))
                if len(vocab) > limit:  # each file's own dictionary fitted; one for all won't
                    raise SchemaError(
                        f"column '{name}' is {typ}, whose indices reach {limit} values, and "
                        f"the input holds {len(vocab)} distinct values across its files: the "
                        f"output could not keep the type. Cast the column's indices to a "
                        f"wider integer (e.g. dictionary<values=string, indices=int32>) "
                        f"first, or exclude it with {option('exclude', name, many=True)}")
            return FeatureSpec(
                name=name,
                kind="categorical",
                is_int=self.kind == "int",
                has_nulls=has_nulls,
                vocab=vocab,
                dictionary=dictionary_order(getattr(self, "dictionary", None), vocab),
            )
        t = self.field.type
        if pa.types.is_decimal(t) and len(self.numeric.sample) and (  # past float64's digits
                float(np.abs(self.numeric.sample).max())
                * 10.0**(t.scale if self.numeric.decimals is None else self.numeric.decimals)
                >= 2.0**53):
            warn(f"column '{name}' is {t}: modelled as float64, which keeps 15-16 significant "
                 f"digits, so synthetic values are rounded to them (and may fall just outside "
                 f"the observed range)")
        return FeatureSpec(
            name=name,
            kind="numeric",
            is_int=self.kind == "int",
            has_nulls=has_nulls,
            knots=self.numeric.knots(),
            decimals=None if self.kind == "int" else self.numeric.decimals,
            int_low=self.int_low if self.kind == "int" else None,
            int_high=self.int_high if self.kind == "int" else None,
            unit=self.unit if self.unit > 1 else None,
            unit_offset=self.anchor % self.unit if self.unit > 1 else None,
        )


class SchemaStats:
    """Streaming statistics over record batches, finalised into feature specs.

    Args:
        schema: the input Arrow schema.
        label: the class label column.
        exclude: columns not to model (null in synthetic rows).
        categorical: integer columns to force to categorical.
        numeric: integer columns to force to numeric.
        max_categories: cardinality limit for string/dictionary columns.
    """

    def __init__(
        self,
        schema: pa.Schema,
        label: str,
        *,
        exclude: Sequence[str] = (),
        categorical: Sequence[str] = (),
        numeric: Sequence[str] = (),
        max_categories: int = DEFAULT_MAX_CATEGORIES,
    ):
        dup = sorted({n for n in schema.names if schema.names.count(n) > 1})
        if dup:
            raise SchemaError(f"the input has several columns named {dup}; column names must "
                              "be unique (rename them, e.g. with pyarrow's rename_columns)")
        if label not in schema.names:
            raise SchemaError(f"{label_column(label)} not found. Columns: {columns_note(schema.names)}")
        # string_view / binary_view columns (Polars' and DuckDB's strings) are read as large
        # types, which Arrow's kernels take, and a model's outputs are cast back to the views
        # (`Encoding.list_tensors`)
        self.views = view_types(schema)
        schema = schema_without_views(schema)
        for which, names in (("exclude", exclude), ("categorical", categorical),
                             ("numeric", numeric)):
            missing = [n for n in names if n not in schema.names]
            if missing:
                raise SchemaError(f"{arg(which)} names unknown columns {missing}. "
                                  f"Columns: {schema.names}")
        if label in exclude:
            raise SchemaError(f"the label column '{label}' cannot be excluded")
        for name in numeric:
            t = schema.field(name).type
            if not (pa.types.is_integer(t) or pa.types.is_floating(t)
                    or numeric_storage(t) is not None):  # times, decimals: numbers already
                raise SchemaError(f"{arg('numeric')} names column '{name}' of type {t}; only "
                                  "integer, float, time, date and decimal columns can be "
                                  "modelled as numbers")
        both = sorted(set(numeric) & set(categorical))
        if both:
            raise SchemaError(f"{arg('categorical')} and {arg('numeric')} both name "
                              f"{both}; give each column one kind")

        self.schema = schema
        self.label = label
        self.exclude = list(exclude)
        self.force_categorical = set(categorical)
        self.force_numeric = set(numeric)
        rng = np.random.default_rng(0)
        label_type = schema.field(label).type
        if not (_is_categorical_type(label_type) or pa.types.is_integer(label_type)):
            raise SchemaError(
                f"{label_column(label)} has type {label_type}; expected string, "
                "dictionary, bool or integer class labels"
            )
        self.label_counts: dict[Any, int] = {}
        # a dictionary label's dictionary values in the input's order (`extend_order`)
        self.label_dictionary: list[Any] | None = (
            [] if pa.types.is_dictionary(label_type) else None)
        self._last_label_dictionary: pa.Array | None = None
        self.label_nulls = 0
        self.rows = 0
        self.columns: dict[str, _ColumnStats] = {}
        unmodellable: list[_Unmodellable] = []
        for field in schema:
            if field.name == label or field.name in self.exclude:
                continue
            try:
                self.columns[field.name] = _ColumnStats(field, schema, max_categories, rng)
            except _Unmodellable as exc:  # name them all in one error, not one per run
                if field.name in self.views:  # the input's type, not the one it was read as
                    exc = _Unmodellable(
                        exc.column, exc.reason.replace(str(field.type), str(self.views[field.name])),
                        str(exc).replace(str(field.type), str(self.views[field.name])))
                unmodellable.append(exc)
        _refuse(unmodellable)
        for name in image_shape_unmatched(schema):
            warn(f"schema metadata image_shape gives a shape for column {name!r}, which the "
                 f"input does not have (its columns: {', '.join(schema.names)}); it is ignored")

    def update(self, batch: pa.RecordBatch | pa.Table, first_row: int | None = None, *,
               within: str = "", source: str | None = None,
               where: Callable[[], tuple[int, str]] | None = None) -> None:
        """Takes the next rows; `first_row` (default: the rows seen so far) is the batch's
        first row's position in the input (its file's, for inputs of several; in what
        `within` says, e.g. " of its row group", when that is all that is known), for
        errors naming a row; `source` is that file (inputs of several), named where a
        list column's size was learned from a row. `where`, when given, is called instead,
        once and only when a row is named, for ``(first_row, within)``: a position that
        costs a lookup (a Beam element's row group's place in its file)."""
        start = self.rows if first_row is None else first_row
        if getattr(self, "views", None):
            batch = without_views(batch)
        if where is not None:
            where = functools.cache(where)
        self.rows += batch.num_rows
        lab = batch.column(self.label)
        if isinstance(lab, pa.ChunkedArray):
            lab = lab.combine_chunks()
        self.label_nulls += lab.null_count
        last = self._last_label_dictionary
        if pa.types.is_dictionary(lab.type) and (last is None
                                                 or not lab.dictionary.equals(last)):
            self._last_label_dictionary = lab.dictionary
            self.label_dictionary = extend_order(self.label_dictionary,
                                                 lab.dictionary.to_pylist())
        lab = lab.drop_null()
        if pa.types.is_dictionary(lab.type):
            lab = lab.dictionary_decode()
        vc = pc.value_counts(canonical_zeros(lab))
        for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
            self.label_counts[v] = self.label_counts.get(v, 0) + c
        full = None
        for name, stats in self.columns.items():
            col = batch.column(name)
            stats.update(col, start, within, source, where)
            if col.null_count:  # per class: a column null in every row of one class, or in none
                if full is None:
                    full = batch.column(self.label)
                    full = full.combine_chunks() if isinstance(full, pa.ChunkedArray) else full
                    if pa.types.is_dictionary(full.type):
                        full = full.dictionary_decode()
                    full = canonical_zeros(full)
                vc = pc.value_counts(full.filter(pc.is_null(col)).drop_null())
                for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
                    stats.class_nulls[v] = stats.class_nulls.get(v, 0) + c

    def list_sizes(self) -> dict[str, int]:
        """The variable-length list columns modelled as tensors, by name: their values per
        row (from their metadata or their rows). Those of no non-null row are left out:
        they are null columns, which keep the input's type."""
        return {name: c.list_size for name, c in self.columns.items()
                if c.kind == "tensor" and getattr(c, "list_size", None) is not None
                and c.rows > c.nulls}

    def trained_schema(self) -> pa.Schema:
        """The input schema with its variable-length list tensors as the fixed-size lists the
        model is trained on (`trained_schema`): the schema the encoding records."""
        return trained_schema(self.schema, self.list_sizes())

    def finalize(self) -> list[FeatureSpec]:
        if self.rows == 0:
            raise SchemaError("the input has no rows")
        sizes = self.list_sizes()
        if sizes:  # a list's shape: the fixed-size list's rule, once every size is known
            trained = trained_schema(self.schema, sizes)
            for name in sizes:
                self.columns[name].tensor_shape = tensor_shape(trained.field(name), trained)
        if not self.label_counts:
            raise SchemaError(f"{label_column(self.label)} is null in every row")
        if len(self.label_counts) < 2:
            only = next(iter(self.label_counts))
            raise SchemaError(
                f"{label_column(self.label)} has a single class ({only!r}); need at least 2"
            )
        specs = []
        unmodellable: list[_Unmodellable] = []
        for field in self.schema:
            if field.name == self.label:
                continue
            if field.name in self.exclude:
                if not field.nullable:
                    raise SchemaError(
                        f"column '{field.name}' is excluded but not nullable; synthetic rows "
                        "would have no value for it (excluded columns are null in synthetic "
                        "rows): make the field nullable in the file's schema, or model it"
                    )
                specs.append(FeatureSpec(name=field.name, kind="excluded", has_nulls=True))
                continue
            stats = self.columns[field.name]
            as_category = None
            if field.name in self.force_numeric:
                as_category = False
            elif field.name in self.force_categorical:
                as_category = True
            try:
                specs.append(stats.finalize(as_category))
            except _Unmodellable as exc:  # every ID and free-text column in one error
                unmodellable.append(exc)
        _refuse(unmodellable, f" (or raise {option('max_categories')})")
        if not any(s.kind in ("numeric", "categorical", "tensor") for s in specs):
            raise SchemaError("no column left to model besides the label")
        return specs
