"""Our errors however a runner returns them, and Beam's logs of them kept quiet.

A job's bad input is one of our `VAEAugmentError`s. In-process runners re-raise it; a worker
subprocess (``--direct_running_mode multi_processing``) sends back only its traceback text,
which Beam raises as a `RuntimeError`. `user_error` finds the error in both, so a job prints
one line either way, and `quiet_user_errors` drops the tracebacks of it Beam logs in this
process (a worker subprocess's own stderr is out of reach: Beam's local runner passes it
no pipeline options, so no plugin or log level reaches it).
"""

from __future__ import annotations

import importlib
import logging
import re

__all__ = ["user_error", "quiet_user_errors", "BEAM_LOGGERS"]

# the loggers that report a failed step: in the process that runs it, and (for a worker
# subprocess) in the launching process, which logs what the worker sent as "Worker: ..."
BEAM_LOGGERS = (
    "apache_beam.runners.common",
    "apache_beam.runners.worker.sdk_worker",
    "apache_beam.runners.portability.local_job_service",
)

# the last line of a traceback that ends in one of our errors: "vae_augment.errors.X: msg"
_LAST_LINE = re.compile(r"^(vae_augment(?:\.\w+)*)\.([A-Z]\w*): (.*?)(?:\n\s*\n|\n?\Z)", re.M | re.S)
_NAMED = re.compile(r"(vae_augment(?:\.\w+)*)\.([A-Z]\w*): ")
_CHAINED = re.compile(r"\n\s*\n(?:During handling of the above exception|The above exception was)")


def _error_class(module: str, name: str):
    """``vae_augment....name`` when it is a `VAEAugmentError` subclass, else None."""
    from vae_augment.errors import VAEAugmentError

    try:
        cls = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return cls if isinstance(cls, type) and issubclass(cls, VAEAugmentError) else None


def _from_traceback_text(text: str):
    """Our error, rebuilt from a traceback's text when its last exception is one, else None."""
    from vae_augment.errors import VAEAugmentError

    last = _CHAINED.split(text)[-1]  # a bug raised while handling our error is not ours
    for match in reversed(list(_LAST_LINE.finditer(last))):
        cls = _error_class(match.group(1), match.group(2))
        if cls is not None:
            try:
                return cls(match.group(3))
            except TypeError:  # a subclass with another constructor
                return VAEAugmentError(match.group(3))
    return None


def user_error(exc: BaseException | None):
    """The `VAEAugmentError` behind `exc`: itself, one it was raised from, or one whose
    traceback text it carries (a worker subprocess's error); None for any other error."""
    from vae_augment.errors import VAEAugmentError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, VAEAugmentError):
            return exc
        found = _from_traceback_text(str(exc))
        if found is not None:
            return found
        exc = exc.__cause__ or exc.__context__
    return None


def _not_a_user_error(record: logging.LogRecord) -> bool:
    """Drops an ERROR record of a step that raised one of our errors: by its exception, or
    (a worker's record relayed by the launching process) by the error's name in its text."""
    if record.levelno < logging.ERROR:
        return True
    info = record.exc_info
    if info and info[1] is not None and user_error(info[1]) is not None:
        return False
    text = record.getMessage()
    return not any(_error_class(m.group(1), m.group(2)) for m in _NAMED.finditer(text))


def quiet_user_errors() -> None:
    """Installs the filter on Beam's loggers that report a failed step (idempotent)."""
    for name in BEAM_LOGGERS:
        logging.getLogger(name).addFilter(_not_a_user_error)
