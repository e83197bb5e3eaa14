"""`sampling_strategy` -> rows to generate per class, with imbalanced-learn's semantics.

Works from class counts, so it needs no pass over the data beyond counting (Beam's
`CountClasses`). It delegates to `imblearn.utils.check_sampling_strategy` with a label array
rebuilt from the counts, so every form (`auto`, `minority`, `not minority`, `not majority`,
`all`, float, dict, callable) behaves exactly as imbalanced-learn's over-samplers do.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Callable, Mapping
from typing import Any, Union

import numpy as np

from vae_augment.errors import VAEAugmentError, arg

__all__ = ["SamplingStrategy", "check_strategy_form", "parse_sampling_strategy",
           "samples_to_generate", "target_counts"]

SamplingStrategy = Union[str, float, Mapping[Any, int], Callable]

_NAMES = ("auto", "minority", "not minority", "not majority", "all")


def parse_sampling_strategy(text: str, classes=None) -> SamplingStrategy:
    """Parses the CLI form: a name, a float, a JSON object ``{"class": count}``, or the path
    of a file holding one of those (a ``.json`` file, such as the ``sampling_strategy.json``
    an evaluation report writes: no shell quoting or ``$(cat ...)`` needed).

    JSON keys are strings; when `classes` is given they are mapped back to the class values
    (so ``{"1": 100}`` addresses the integer class 1).
    """
    return _parse_strategy(text, classes, path=None)


def _read_text(path: str) -> str:
    """The UTF-8 text of a local file, or of a remote one (``gs://``, ``s3://``, ...: a Beam
    job's strategy beside its model) through Beam's `FileSystems`."""
    if "://" not in path:
        with open(path, encoding="utf-8") as f:
            return f.read()
    from apache_beam.io.filesystems import FileSystems

    if not FileSystems.exists(path):
        raise FileNotFoundError(path)
    with FileSystems.open(path) as f:
        return f.read().decode("utf-8")


def _parse_strategy(text: str, classes, path: str | None) -> SamplingStrategy:
    """`parse_sampling_strategy` of `text`, read from the file `path` if it is not None
    (whose text may not name another file)."""
    src = "" if path is None else f" (in file '{path}')"
    text = text.strip()
    if text in _NAMES:
        return text
    if text.startswith("{"):
        def pairs(items):  # a class named twice is an error, not the last one winning
            out = {}
            for k, v in items:
                if k in out:
                    raise VAEAugmentError(f"{arg('sampling_strategy')} names class {k!r} twice")
                out[k] = v
            return out

        try:
            raw = json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            shown = text if len(text) <= 200 else text[:200] + "..."
            raise VAEAugmentError(
                f"{arg('sampling_strategy')}{src} {shown!r} is not valid JSON ({exc.msg}, line "
                f"{exc.lineno} column {exc.colno})"
            ) from exc
        return raw if classes is None else map_strategy_keys(raw, classes)
    try:
        return float(text)
    except ValueError:
        pass
    if path is None and (text.lower().endswith(".json") or os.path.isfile(text)):
        try:
            body = _read_text(text)
        except FileNotFoundError:
            raise VAEAugmentError(f"{arg('sampling_strategy')} file '{text}' does not "
                                  "exist") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: no such
            # remote file system (Beam's message names the scheme)
            raise VAEAugmentError(f"{arg('sampling_strategy')} file '{text}' cannot be read "
                                  f"({exc})") from None
        return _parse_strategy(body, classes, path=text)
    raise VAEAugmentError(
        f"{arg('sampling_strategy')}{src} must be one of {list(_NAMES)}, a float, a JSON "
        f"object or a .json file holding one; got {text[:200]!r}"
    )


_MAX_TARGET = int(np.iinfo(np.int64).max)


def _check_target(k: Any, v: Any, what: str = "target") -> int:
    """`v`, a class's target count, as an int; a `VAEAugmentError` unless it is a
    non-negative integer (not a bool) that fits in int64."""
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
        raise VAEAugmentError(f"{arg('sampling_strategy')} {what} for class {k!r} must be a "
                              f"non-negative integer, got {v!r}")
    if v > _MAX_TARGET:
        raise VAEAugmentError(f"{arg('sampling_strategy')} {what} for class {k!r} is too "
                              f"large ({v}; at most {_MAX_TARGET})")
    return int(v)


def map_strategy_keys(strategy: Mapping[Any, Any], classes, *,
                      known: str = "data") -> dict[Any, Any]:
    """A dict strategy with its keys as the class values of `classes`, by
    `encoding.class_position`'s rule: the value itself, its string form (``"1"`` for the
    integer class 1, as JSON keys give it), a NumPy scalar, UTF-8 bytes, ``"true"`` for
    True. The targets are left for the caller to check. Raises `VAEAugmentError` for a key
    that is no class (`known`: "data" or "model", for the message) and for two keys of one
    class."""
    from vae_augment.encoding import class_position
    from vae_augment.errors import SchemaError

    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    out: dict[Any, Any] = {}
    unknown = []
    for k, v in strategy.items():
        try:
            c = classes[class_position(k, classes, index)]
        except SchemaError:
            unknown.append(k)
            continue
        if c in out:
            raise VAEAugmentError(f"{arg('sampling_strategy')} names class {c!r} twice "
                                  f"(as {k!r} and another key)")
        out[c] = v
    if unknown:
        if known == "model":
            raise VAEAugmentError(
                f"{arg('sampling_strategy')} names class {unknown[0]!r}, which the model does "
                f"not know (classes: {classes})")
        raise VAEAugmentError(f"{arg('sampling_strategy')} names classes {unknown} not in the "
                              f"data (classes: {classes})")
    return out


def check_strategy_form(sampling_strategy: SamplingStrategy, encoding) -> SamplingStrategy:
    """Checks what can be checked of a strategy without the data's counts, against a model's
    classes: a known name; a float in (0, 1] (the data's counts decide whether it has the
    two classes a float needs); a dict of non-negative integer
    targets for classes the model knows, its keys mapped to the class values as
    `Encoding.class_index` maps them (``"1"`` for the integer class 1, ``"true"`` for
    True); or a callable. Returns the strategy (a dict with mapped keys). The counts decide
    the rest (e.g. a ratio below the data's own)."""
    s = sampling_strategy
    if isinstance(s, str):
        if s not in _NAMES:
            raise VAEAugmentError(f"{arg('sampling_strategy')} must be one of {list(_NAMES)}, a "
                                  f"float, a dict or a callable; got {s!r}")
        return s
    if isinstance(s, Mapping):
        mapped = map_strategy_keys(s, encoding.classes, known="model")
        return {c: _check_target(c, v) for c, v in mapped.items()}
    if callable(s):
        return s
    if isinstance(s, numbers.Real) and not isinstance(s, bool):
        if not (np.isfinite(float(s)) and 0 < float(s) <= 1):
            finite = "" if np.isfinite(float(s)) else "finite "
            raise VAEAugmentError(f"{arg('sampling_strategy')} as a float must be a {finite}"
                                  f"ratio in (0, 1], got {s!r}")
        # two classes only, but those in the data, as `balance` and imbalanced-learn judge:
        # a model of more classes may balance data of two, so the counts decide
        return s
    raise VAEAugmentError(f"{arg('sampling_strategy')} must be a name, a float, a dict or a "
                          f"callable, got {type(s).__name__}")


def samples_to_generate(
    counts: Mapping[Any, int], sampling_strategy: SamplingStrategy = "auto"
) -> dict[Any, int]:
    """Rows to generate for each class so that counts match `sampling_strategy`.

    Args:
        counts: rows per class in the real data.
        sampling_strategy: as imbalanced-learn's over-samplers take it.

    Returns:
        ``{class: n_new_rows}`` for every class in `counts` (0 for untouched classes).

    Example:
        >>> samples_to_generate({"no": 90, "yes": 10}, "auto")
        {'no': 0, 'yes': 80}
        >>> samples_to_generate({"no": 90, "yes": 10}, 0.5)
        {'no': 0, 'yes': 35}
    """
    from imblearn.utils import check_sampling_strategy

    given = list(counts)
    if len(given) < 2:
        raise VAEAugmentError(f"need at least 2 classes to balance, got {given}")
    try:  # imbalanced-learn counts classes in np.unique's order: ties go to the smallest
        classes = sorted(given)
    except TypeError:  # values that do not compare: the given order
        classes = given
    for c, n in counts.items():
        if not isinstance(n, numbers.Integral) or n < 0:
            raise VAEAugmentError(f"class count for {c!r} must be a non-negative integer, got {n!r}")
    present = [c for c in given if counts[c] > 0]
    if len(present) < 2:  # imbalanced-learn's words named its own 'y' and our argument
        absent = [c for c in given if c not in present]
        raise VAEAugmentError(
            "need rows of at least 2 classes to balance, got "
            + (f"rows of {present[0]!r} only" if present else "no rows") + f" (none of {absent})")
    idx = {c: i for i, c in enumerate(classes)}
    strategy = sampling_strategy
    if isinstance(sampling_strategy, Mapping):
        mapped = map_strategy_keys(sampling_strategy, classes)
        strategy = {idx[k]: _check_target(k, v) for k, v in mapped.items()}
    elif callable(sampling_strategy):
        # the user's callable sees the class values in their own dtype (int64 for integer
        # labels, as imbalanced-learn gives it y), so np.bincount(y) and the like work; the
        # y it gets is rebuilt from the counts: each class's rows together, in class order
        values = np.asarray(classes)
        if values.dtype.kind not in "biufUSO":  # anything odd: plain Python objects
            values = np.asarray(classes, dtype=object)

        def strategy(y, _f=sampling_strategy):
            result = _f(values[y])
            if not isinstance(result, Mapping):
                raise VAEAugmentError(f"{arg('sampling_strategy')} callable returned a "
                                      f"{type(result).__name__}, not a dict {{class: count}}")
            unknown = [k for k in result if k not in idx]
            if unknown:
                raise VAEAugmentError(
                    f"{arg('sampling_strategy')} callable returned classes {unknown} not in "
                    f"the data (classes: {classes})")
            # checked as a dict's targets are: a fractional count is not cut to an integer
            return {idx[k]: _check_target(k, v, "callable's target") for k, v in result.items()}
    elif isinstance(sampling_strategy, str):
        if sampling_strategy not in _NAMES:
            raise VAEAugmentError(
                f"{arg('sampling_strategy')} must be one of {list(_NAMES)}, a float, a dict or "
                f"a callable; got {sampling_strategy!r}")
    elif isinstance(sampling_strategy, numbers.Real):
        if not np.isfinite(float(sampling_strategy)):
            raise VAEAugmentError(f"{arg('sampling_strategy')} as a float must be a finite "
                                  f"ratio in (0, 1], got {sampling_strategy!r}")
    else:  # None, a list, a set, bytes, ...: imbalanced-learn would return None for it
        raise VAEAugmentError(f"{arg('sampling_strategy')} must be a name, a float, a dict or "
                              f"a callable, got {type(sampling_strategy).__name__}")
    y = np.repeat(np.arange(len(classes)), [counts[c] for c in classes])
    try:
        result = check_sampling_strategy(strategy, y, "over-sampling")
    except VAEAugmentError:  # ours, from the callable's checks: worded already
        raise
    except ValueError as exc:
        raise VAEAugmentError(f"{arg('sampling_strategy')}: {exc}") from exc
    out = {c: 0 for c in given}
    for i, n in result.items():
        out[classes[int(i)]] = int(n)
    return out


def target_counts(counts: Mapping[Any, int], sampling_strategy: SamplingStrategy = "auto"):
    """Class counts after balancing."""
    add = samples_to_generate(counts, sampling_strategy)
    return {c: int(counts[c]) + add[c] for c in counts}
