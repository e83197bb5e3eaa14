"""Container conversions behind `VAEOverSampler`: imbalanced-learn's ``X``/``y`` (DataFrame,
Series, ndarray, list, sparse matrix) to one Arrow table and back, with their dtypes, and the
small helpers the adapter shares (parameter wording, the global RNG guard)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

__all__: list[str] = []


def _is_dataframe(obj) -> bool:
    return hasattr(obj, "columns") and hasattr(obj, "iloc") and hasattr(obj, "dtypes")


def _as_list(values) -> list:
    if isinstance(values, (str, bytes)):
        return [values]
    return list(values) if isinstance(values, Iterable) else [values]


def _holds_missing(dtype) -> bool:
    """Whether a column of this (NumPy or pandas) dtype can hold missing values."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "fcmMO"
    return True  # pandas extension dtypes (Int64, boolean, string, category, ...) have NA


def _label_array(y: np.ndarray, classes: np.ndarray) -> tuple[pa.Array, list]:
    """The label column and, per class in `classes`, the value the product sees for it.

    Integer, boolean and string labels are passed as they are (the artifact's classes are
    the user's classes); anything else (floats, mixed objects) as integer codes.
    """
    kind = y.dtype.kind
    if kind in "iub":
        return pa.array(y), classes.tolist()
    if kind == "U" or (kind == "O" and all(isinstance(c, str) for c in classes)):
        return pa.array(y.astype(str).tolist(), pa.string()), [str(c) for c in classes]
    codes = np.searchsorted(classes, y).astype(np.int32)
    return pa.array(codes), list(range(len(classes)))


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _cells_shape(values) -> tuple[int, ...] | None:
    """The shape of the numpy arrays of two axes or more a column's cells hold (its first
    non-missing cell is one), else None: such a column is modelled in that shape."""
    for v in values:
        if not _is_missing(v):
            return v.shape if isinstance(v, np.ndarray) and v.ndim >= 2 else None
    return None


def _flat_cells(values, shape: tuple[int, ...], where: str) -> pa.Array:
    """A column of numpy arrays of `shape` as a list column of their values in C order
    (Arrow converts 1-d arrays only), a missing cell null; `where` names the column."""
    rows = []
    for i, v in enumerate(values):
        if _is_missing(v):
            rows.append(None)
        elif isinstance(v, np.ndarray) and v.shape == shape:
            rows.append(v.reshape(-1))
        else:
            got = v.shape if isinstance(v, np.ndarray) else type(v).__name__
            raise ValueError(f"{where} holds arrays of shape {shape} and {got} (row {i}); "
                             f"give every row one shape, or leave it out with `exclude`")
    return pa.array(rows)


def _cells_field(name: str, arr: pa.Array, shape: tuple[int, ...] | None) -> pa.Field:
    """The field of column `name`: a column of n-d arrays carries their shape as its
    `image_shape` metadata, which training reads as it reads a Parquet file's (a 2-d uint8
    column is an image: the image likelihood and decoder), and `_cells_back` restores."""
    meta = None if shape is None else {"image_shape": ",".join(str(d) for d in shape)}
    return pa.field(name, arr.type, metadata=meta)


def _cells_back(values, shape: tuple[int, ...]) -> np.ndarray:
    """Synthetic rows of a column of n-d arrays (flat lists, from Arrow) as arrays of
    `shape`, one object a row (a missing row None)."""
    return np.fromiter((None if v is None else np.asarray(v).reshape(shape) for v in values),
                       dtype=object, count=len(values))


def _frame_to_arrow(X, names: list[str], *, skip=frozenset()) -> pa.Table:
    """X's columns as Arrow arrays; columns in `skip` (excluded) as all-null, unconverted.
    A column of n-d numpy arrays becomes a list column with their shape as its
    `image_shape` metadata (`_cells_field`)."""
    import pandas as pd

    fields, arrays = [], []
    for i, name in enumerate(names):
        if name in skip:
            arrays.append(pa.nulls(len(X)))
            fields.append(pa.field(name, pa.null()))
            continue
        col = X.iloc[:, i]
        if isinstance(col.dtype, pd.SparseDtype):
            col = col.sparse.to_dense()
        shape = _cells_shape(col) if col.dtype.kind == "O" else None
        if shape is not None:
            arr = _flat_cells(col, shape, f"column '{name}' of `X`")
        else:
            try:
                arr = pa.Array.from_pandas(col)
            except (pa.ArrowException, TypeError, ValueError) as exc:
                raise ValueError(
                    f"column '{name}' of `X` (dtype {col.dtype}) cannot be converted to "
                    f"Arrow: {exc}; give it one type (numbers, strings, booleans or a "
                    "categorical dtype) or leave it out with `exclude`"
                ) from exc
        arrays.append(arr)
        fields.append(_cells_field(name, arr, shape))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _array_to_arrow(X: np.ndarray, names: list[str], *, skip=frozenset()) -> pa.Table:
    fields, arrays = [], []
    for j, name in enumerate(names):
        if name in skip:
            arrays.append(pa.nulls(len(X)))
            fields.append(pa.field(name, pa.null()))
            continue
        col = X[:, j]
        shape = _cells_shape(col) if X.dtype.kind == "O" else None
        if shape is not None:
            arr = _flat_cells(col, shape, f"column {j} ('{name}') of `X`")
        else:
            try:
                arr = pa.array(col, from_pandas=True)  # NaN/None -> null
            except (pa.ArrowException, TypeError, ValueError) as exc:
                raise ValueError(
                    f"column {j} ('{name}') of `X` (dtype {X.dtype}) cannot be converted to "
                    f"Arrow: {exc}; every column needs one type (numbers, strings or booleans)"
                ) from exc
        arrays.append(arr)
        fields.append(_cells_field(name, arr, shape))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _holds_lists(column) -> bool:
    """Whether a pandas column's values are Python lists (its first non-missing one is)."""
    if column.dtype.kind != "O":
        return False
    for v in column:
        if v is not None and not (isinstance(v, float) and v != v):
            return isinstance(v, list)
    return False


def _arrow_to_frame(table: pa.Table, X, names: list[str], pd):
    """Synthetic columns as pandas, cast to X's dtypes, under X's column labels."""
    parts = {}
    for i, name in enumerate(names):
        dtype = X.dtypes.iloc[i]
        values = table.column(name).to_pandas()
        if _holds_lists(X.iloc[:, i]):  # Arrow gives numpy arrays: lists, as the column's
            values = pd.Series(np.fromiter(table.column(name).to_pylist(), dtype=object,
                                           count=table.num_rows))
        elif dtype.kind == "O" and (shape := _cells_shape(X.iloc[:, i])) is not None:
            values = pd.Series(_cells_back(values, shape))  # flat: arrays of X's shape
        try:
            parts[i] = values.astype(dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"synthetic values of column '{name}' cannot be cast back to its dtype "
                f"{dtype} ({exc}); an excluded column must have a dtype that holds missing "
                "values (e.g. 'Int64' rather than 'int64')"
            ) from exc
    frame = pd.DataFrame(parts)
    frame.columns = X.columns
    return frame


def _frame_numbers(X, pd) -> np.ndarray:
    """float64 [rows, columns]: a DataFrame's numeric and bool columns as numbers, every other
    column (and a missing value) NaN, which no one-hot block holds (`onehot_groups`)."""
    cols = []
    for i in range(X.shape[1]):
        col = X.iloc[:, i]
        if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
            cols.append(col.to_numpy(dtype=np.float64, na_value=np.nan))
        else:
            cols.append(np.full(len(col), np.nan))
    return np.column_stack(cols) if cols else np.zeros((len(X), 0))


def _missing_marker(values: np.ndarray):
    """The missing value an object column uses: None if that is all it holds, else NaN
    (what pandas and scikit-learn's imputers expect)."""
    for v in values:
        if v is None:
            return None
        if isinstance(v, float) and v != v:
            return np.nan
    return np.nan


def _arrow_to_array(table: pa.Table, names: list[str], like: np.ndarray) -> np.ndarray:
    """Synthetic columns as an array of `like`'s dtype; in an object array a missing value
    is written the way `like`'s column writes it (NaN unless it uses None)."""
    dtype = like.dtype
    out = np.empty((table.num_rows, len(names)), dtype=dtype)
    for j, name in enumerate(names):
        col = table.column(name)
        if dtype.kind == "O":
            # one object a row (np.asarray would turn a column of lists into a 2-D array)
            values = np.fromiter(col.to_pylist(), dtype=object, count=table.num_rows)
            shape = _cells_shape(like[:, j])
            if shape is not None:  # n-d arrays, flat in Arrow: arrays of like's shape
                values = _cells_back(col.to_pandas(), shape)
            if col.null_count:
                values[np.asarray(col.is_null())] = _missing_marker(like[:, j])
            out[:, j] = values
            continue
        if col.null_count and dtype.kind not in "fc":
            raise ValueError(
                f"synthetic column {j} ('{name}') has missing values, which an array of dtype "
                f"{dtype} cannot hold; use a float or object array"
            )
        out[:, j] = col.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    return out


def _restore_y(y_in, y_res):
    """`y_res` in the container type (and dtype, name) of the original `y`."""
    if isinstance(y_in, list):
        return y_res.tolist()
    if type(y_in).__name__ == "Series":
        import pandas as pd

        return pd.Series(y_res, dtype=y_in.dtype, name=y_in.name)
    if _is_dataframe(y_in):
        import pandas as pd

        frame = pd.DataFrame(np.asarray(y_res).reshape(len(y_res), -1), columns=y_in.columns)
        return frame.astype(dict(y_in.dtypes))
    return y_res


def onehot_groups(X: np.ndarray, names: list[str], keep=frozenset(),
                  max_categories: int | None = None) -> list[list[int]]:
    """Runs of adjacent 0/1 columns that sum to exactly 1 in every row: the one-hot blocks a
    `OneHotEncoder` (``drop=None``) writes, each found as its shortest such run; then, among
    the other 0/1 columns, the longest runs (2+ columns) that sum to at most 1 in every row
    and to 1 in most rows: the blocks of ``drop="first"`` (``pd.get_dummies(drop_first=True)``),
    whose rows of the dropped category hold no 1 (one category plus "none", losing nothing;
    rare 0/1 columns that never meet by chance are left alone).
    Columns in `keep` (named by the user's `exclude`/`categorical`/`numeric`) are never
    grouped, nor the columns of a block of more than `max_categories` values (modelled
    column by column, as a category could not be).

    Modelled column by column, such a block came out with no category or several set in
    most synthetic rows (churn's 51-state block: 66 %); as one category it cannot. A run's
    column sums must add up to the row count, so candidates come from the cumulative column
    sums (a binary search per column) and only those are checked row by row."""
    if X.dtype.kind not in "fiub" or X.ndim != 2 or len(X) == 0:
        return []
    n, m = X.shape
    binary = np.array([names[j] not in keep and bool(np.isin(X[:, j], (0, 1)).all())
                       for j in range(m)])
    colsum = np.where(binary, np.nan_to_num(X.sum(axis=0).astype(np.float64)), n + 1.0)
    cum = np.cumsum(colsum)
    non_binary = np.cumsum(~binary)
    groups, j = [], 0
    while j < m:
        if binary[j]:
            target = (cum[j - 1] if j else 0.0) + n
            k = int(np.searchsorted(cum, target))
            if (j < k < m and cum[k] == target and non_binary[k] == non_binary[j]
                    and (max_categories is None or k - j + 1 <= max_categories)
                    and (X[:, j:k + 1].sum(axis=1) == 1).all()):
                groups.append(list(range(j, k + 1)))
                j = k + 1
                continue
        j += 1
    grouped = {j for g in groups for j in g}
    free = binary & ~np.isin(np.arange(m), list(grouped))
    j = 0
    while j < m:
        k, total = j, X[:, j].astype(np.float64) if free[j] else None
        while total is not None and k + 1 < m and free[k + 1]:
            if (total + X[:, k + 1] > 1).any():
                break
            total = total + X[:, k + 1]
            k += 1
        # a block holds a 1 in most rows; rare 0/1 columns that never meet are not one
        if (k > j and (total > 0).mean() > 0.5
                and (max_categories is None or k - j + 2 <= max_categories)):  # + "none"
            groups.append(list(range(j, k + 1)))
        j = k + 1
    return sorted(groups)


def group_name(names: list[str], group: list[int]) -> str:
    return f"onehot_{names[group[0]]}_{names[group[-1]]}"


def collapse_onehot(table: pa.Table, X: np.ndarray, names: list[str], groups) -> pa.Table:
    """`table` with each group's columns replaced by one string category: the position of
    the row's 1 within the group ("0", "1", ...), or "none" where the row has no 1."""
    if not groups:
        return table
    grouped = {j for g in groups for j in g}
    columns, out_names = [], []
    first = {g[0]: g for g in groups}
    for j, name in enumerate(names):
        if j in first:
            g = first[j]
            codes = np.argmax(X[:, g], axis=1).astype(str)
            codes[X[:, g].sum(axis=1) == 0] = "none"  # a dropped category's rows
            columns.append(pa.array(codes))
            out_names.append(group_name(names, g))
        elif j not in grouped:
            columns.append(table.column(name))
            out_names.append(name)
    for name in table.column_names[len(names):]:  # the label
        columns.append(table.column(name))
        out_names.append(name)
    return pa.Table.from_arrays(columns, names=out_names)


def expand_onehot(table: pa.Table, names: list[str], groups) -> pa.Table:
    """The inverse of `collapse_onehot` on synthetic rows: each group's category back as its
    0/1 columns (float64), under their names, in X's column order."""
    if not groups:
        return table
    where = {j: (g, i) for g in groups for i, j in enumerate(g)}
    columns = []
    for j, name in enumerate(names):
        if j in where:
            g, i = where[j]
            codes = np.asarray(table.column(group_name(names, g)).to_pylist(), dtype=object)
            columns.append(pa.array((codes == str(i)).astype(np.float64)))
        else:
            columns.append(table.column(name))
    rest = [n for n in table.column_names if n not in names and not n.startswith("onehot_")]
    return pa.Table.from_arrays(columns + [table.column(n) for n in rest], names=names + rest)
