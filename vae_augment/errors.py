"""Exception types. Every user-facing failure is a `VAEAugmentError`.

The CLI turns these into a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterator

__all__ = ["VAEAugmentError", "SchemaError", "ArtifactError", "InputError", "NonFiniteError",
           "TrainingDiverged", "VAEAugmentWarning", "warn", "one_line_warnings",
           "option", "option_list", "arg", "label_column", "cli_wording", "check_seed",
           "columns_note", "counts_note", "items_note"]

class VAEAugmentWarning(UserWarning):
    """The category of this library's warnings: something to check, while the run goes on
    (``warnings.filterwarnings("ignore", category=VAEAugmentWarning)`` silences them)."""


# the packages a call passes through on its way into this library, or back into it: scikit-
# learn's and imbalanced-learn's `fit_resample`, Keras' fit loop calling our callbacks
_CALLED_THROUGH = frozenset({"vae_augment", "keras", "tensorflow", "sklearn", "imblearn"})


def warn(message: str, category: type[Warning] = VAEAugmentWarning) -> None:
    """`warnings.warn`, attributed to the first caller outside this library (and the
    packages it is called through), as pandas does: the user's own line, whichever public
    function led there (a fixed `stacklevel` named a line of ours on most paths)."""
    import sys
    import warnings

    frame, level = sys._getframe(1), 1
    while frame is not None and (
            frame.f_globals.get("__name__", "").partition(".")[0] in _CALLED_THROUGH):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)


@contextlib.contextmanager
def one_line_warnings(prog: str) -> Iterator[None]:
    """Inside, this library's warnings print as one ``PROG: warning: ...`` line on stderr,
    as a command's errors do (the `vae-augment` CLI, the `pipelines` jobs); other warnings
    as Python prints them."""
    import sys
    import warnings

    plain = warnings.showwarning

    def show(message, category, filename, *rest, **kw):
        if issubclass(category, VAEAugmentWarning) or (
                issubclass(category, UserWarning) and "vae_augment" in str(filename)):
            print(f"{prog}: warning: {' '.join(str(message).split())}", file=sys.stderr)
        else:
            plain(message, category, filename, *rest, **kw)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = plain


_CLI_WORDING = [False]


@contextlib.contextmanager
def cli_wording() -> Iterator[None]:
    """Inside, error messages name options as command-line flags (``--exclude COL``), as the
    `vae-augment` CLI and the `pipelines` jobs want; outside, as the Python keyword
    arguments (``exclude=['COL']``) the library's functions take."""
    old = _CLI_WORDING[0]
    _CLI_WORDING[0] = True
    try:
        yield
    finally:
        _CLI_WORDING[0] = old


def columns_note(names, most: int = 20) -> str:
    """A table's column names for an error message: all of them, or the first `most` and
    how many there are (a wide table's whole list made a 4 KB line)."""
    names = list(names)
    if len(names) <= most:
        return str(names)
    return f"{names[:most]} ... ({len(names)} in all)"


def counts_note(counts, most: int = 20) -> str:
    """Classes and their rows (a dict) for a message: all of them, or the `most` with the
    fewest rows (in class order among equals) and how many there are (a long-tailed label's
    120 small classes made a 5 KB line)."""
    counts = dict(counts)
    if len(counts) <= most:
        return str(counts)
    fewest = dict(sorted(counts.items(), key=lambda kv: kv[1])[:most])
    return f"{str(fewest)[:-1]}, ...}} ({len(counts)} in all)"


def items_note(items, most: int = 20, sep: str = ", ") -> str:
    """Worded items of a message (a class and its figures, say) joined by `sep`: all of them,
    or the first `most` and how many there are, as `columns_note` shortens a list (a
    long-tailed label's 34 classes with a null-rate gap made a 3 KB finding)."""
    items = [str(x) for x in items]
    if len(items) <= most:
        return sep.join(items)
    return f"{sep.join(items[:most])}{sep}... ({len(items)} in all)"


def arg(name: str) -> str:
    """An argument's name in a message, quoted: `` `--output-shards` `` under `cli_wording`,
    else `` `output_shards` ``."""
    return f"`--{name.replace('_', '-')}`" if _CLI_WORDING[0] else f"`{name}`"


def label_column(name, *, model: bool = False) -> str:
    """The label column `name` in a message: `` `label` column 'y' `` in Python; under
    `cli_wording` `` `--label` column 'y' `` (see `arg`); with `model` (a label an artifact
    fixes, read by what may take no `label` argument: `anomaly_scores`, `encode_latent`,
    the Beam `ScoreAnomalies`, ``sample`` with a reference, the CLI's ``score``),
    ``the model's label column 'y'`` in both (balancing, which takes `label`, names it as
    given)."""
    if model:
        return f"the model's label column '{name}'"
    return f"{arg('label')} column '{name}'"


def option(name: str, value=None, *, many: bool = False) -> str:
    """How the user sets option `name` (a Python keyword) to `value`, in an error message:
    ``--max-categories`` / ``max_categories`` without a value, ``--overwrite`` /
    ``overwrite=True``, ``--exclude 'sign up'`` / ``exclude=['sign up']`` (`many`: the
    keyword takes a list, the flag is repeated). See `cli_wording`."""
    if _CLI_WORDING[0]:
        flag = "--" + name.replace("_", "-")
        if value is None or value is True:
            return flag
        text = shlex.quote(str(value))
        # a value that begins with "-" reads as another flag after a space: "--exclude=-ts"
        return f"{flag}={text}" if text.startswith("-") else f"{flag} {text}"
    if value is None:
        return name
    return option_list(name, [value]) if many else f"{name}={value!r}"


def option_list(name: str, values) -> str:
    """`option` for a list-valued keyword set to several `values`: ``--exclude a --exclude
    'b c'`` / ``exclude=['a', 'b c']``."""
    values = list(values)
    if _CLI_WORDING[0]:
        return " ".join(option(name, v) for v in values)
    return f"{name}={values!r}"


class VAEAugmentError(ValueError):
    """Base class for errors caused by the user's input, arguments or artifact."""


class InputError(VAEAugmentError):
    """A missing, unreadable, empty or inconsistent input file."""


class SchemaError(VAEAugmentError):
    """A column the model cannot learn, or data that does not match the artifact."""


class NonFiniteError(SchemaError):
    """A numeric or tensor column holds NaN or ±inf; `column` names it (None when re-raised
    from the message alone, as Beam re-raises a worker's error)."""

    def __init__(self, message: str, column: str | None = None):
        super().__init__(message)
        self.column = column

    def __reduce__(self):  # pickles (Beam ships errors between workers) with its column
        return (type(self), (str(self), self.column))


class TrainingDiverged(VAEAugmentError):
    """The training loss became NaN or infinite (too high a learning rate, extreme values)."""


class ArtifactError(VAEAugmentError):
    """A model directory that is missing, tampered with, or from another format version."""


def check_guided(guided) -> bool:
    """`guided` (the generation entry points' flag) as a bool; a `VAEAugmentError` unless it
    is True or False (NumPy's too)."""
    if type(guided).__name__ not in ("bool", "bool_"):
        raise VAEAugmentError(f"`guided` must be True or False, got {guided!r}")
    return bool(guided)


def check_seed(seed, name: str = "seed") -> int:
    """`seed` as an int; `VAEAugmentError` naming `name` unless it is an integer (not a bool)
    in [0, 2**32 - 1], the range training takes too: generation uses the seed's low 32 bits,
    so 2**32 would give seed 0's rows and -1 those of 2**32 - 1."""
    import numbers

    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) \
            or not 0 <= int(seed) < 2**32:
        raise VAEAugmentError(f"{arg(name)} must be an integer in [0, 2**32 - 1], got "
                              f"{seed!r}")
    return int(seed)
