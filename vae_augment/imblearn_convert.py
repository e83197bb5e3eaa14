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


def _frame_to_arrow(X, names: list[str], *, skip=frozenset()) -> pa.Table:
    """X's columns as Arrow arrays; columns in `skip` (excluded) as all-null, unconverted."""
    import pandas as pd

    arrays = []
    for i, name in enumerate(names):
        if name in skip:
            arrays.append(pa.nulls(len(X)))
            continue
        col = X.iloc[:, i]
        if isinstance(col.dtype, pd.SparseDtype):
            col = col.sparse.to_dense()
        try:
            arr = pa.Array.from_pandas(col)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise ValueError(
                f"column '{name}' of `X` (dtype {col.dtype}) cannot be converted to Arrow: "
                f"{exc}; give it one type (numbers, strings, booleans or a categorical dtype) "
                "or leave it out with `exclude`"
            ) from exc
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=names)


def _array_to_arrow(X: np.ndarray, names: list[str], *, skip=frozenset()) -> pa.Table:
    arrays = []
    for j, name in enumerate(names):
        if name in skip:
            arrays.append(pa.nulls(len(X)))
            continue
        col = X[:, j]
        try:
            arrays.append(pa.array(col, from_pandas=True))  # NaN/None -> null
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise ValueError(
                f"column {j} ('{name}') of `X` (dtype {X.dtype}) cannot be converted to Arrow: "
                f"{exc}; every column needs one type (numbers, strings or booleans)"
            ) from exc
    return pa.Table.from_arrays(arrays, names=names)


def _arrow_to_frame(table: pa.Table, X, names: list[str], pd):
    """Synthetic columns as pandas, cast to X's dtypes, under X's column labels."""
    parts = {}
    for i, name in enumerate(names):
        dtype = X.dtypes.iloc[i]
        values = table.column(name).to_pandas()
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
            values = np.asarray(col.to_pylist(), dtype=object)
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
