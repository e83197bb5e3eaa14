"""Our errors however a runner returns them, and Beam's logs of them kept quiet.

A job's bad input is one of our `VAEAugmentError`s. In-process runners re-raise it; a worker
subprocess (``--direct_running_mode multi_processing``) sends back only its traceback text,
which Beam raises as a `RuntimeError`. `user_error` finds the error in both, so a job prints
one line either way, and `quiet_user_errors` drops the tracebacks of it Beam logs in this
process. A worker subprocess of Beam's local runner gets no pipeline options from it, but
reads a file named by the ``PIPELINE_OPTIONS_FILE`` environment variable it inherits:
`quiet_worker_subprocesses` names one that sets the worker's log level to WARNING (its
start-up notices to ERROR) and loads this module as a Beam plugin there, which installs
the same filter, so a worker prints neither start-up lines nor our errors' tracebacks.

Beam's own import in a worker logs the BigQuery notice ("apitools not found ..."), which makes
`logging` give the root logger a stderr handler, so the worker's next two start-up notices
("Logging handler created.", "Load pipeline options from file: ...") were printed too: three
lines per worker, before any plugin loads. `quiet_worker_subprocesses` therefore also puts a
``sitecustomize`` first on the workers' ``PYTHONPATH`` (`_WORKER_SITE`) that gives the root
logger that stderr handler first, at WARNING and without the notice: a worker's warnings and
errors still print as they did.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import re
import shutil
import tempfile

__all__ = ["user_error", "interruption", "disk_full", "quiet_user_errors",
           "quiet_worker_subprocesses", "BEAM_LOGGERS"]

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
    traceback text it carries (a worker subprocess's error); or the `InputError` of a read
    step that pyarrow failed (`_read_failure`); None for any other error."""
    from vae_augment.errors import VAEAugmentError

    first = exc
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, VAEAugmentError):
            return exc
        found = _from_traceback_text(str(exc))
        if found is not None:
            return found
        exc = exc.__cause__ or exc.__context__
    return _read_failure(first)


# a worker's step that reads the input (the jobs label it "Read"), and the error pyarrow
# raised reading a file's pages: "OSError: ..." / "pyarrow.lib.ArrowInvalid: ..."
_READ_STEP = "[while running 'Read/"
_ARROW_LINE = re.compile(r"^(?:OSError|(?:pyarrow\.lib\.)?Arrow\w*Error|(?:pyarrow\.lib\.)?"
                         r"ArrowInvalid): (.+)$", re.M)


# Beam's Parquet reading code in apache_beam/io/parquetio.py, which also holds its writer
# (`_ParquetSink`): a full disk under the job's Write step was "an input file is corrupt"
_READER_CODE = ("_ParquetSource.", "_ParquetUtils.", "_ArrowTableToRowDictionaries.",
                "_ArrowTableToBeamRows.")


def _raised_reading_parquet(exc: BaseException) -> bool:
    """Whether `exc` was raised inside Beam's Parquet reader (the log record of a failed read
    carries the bare pyarrow error, without the step's name)."""
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.replace(os.sep, "/").endswith("apache_beam/io/parquetio.py") \
                and getattr(code, "co_qualname", code.co_name).startswith(_READER_CODE):
            return True
        tb = tb.tb_next
    return False


def _read_failure(exc: BaseException | None):
    """An `InputError` naming what pyarrow said when the jobs' read step failed on a file's
    data (corrupt pages, a null fixed-size list this pyarrow cannot read back), which the
    launch-time footer check cannot see; None for other errors."""
    import pyarrow as pa

    from vae_augment.io import unreadable

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc)
        if isinstance(exc, (OSError, pa.ArrowException)) and _raised_reading_parquet(exc):
            return unreadable(None, text.split(_READ_STEP)[0].strip())
        if _READ_STEP in text:
            if isinstance(exc, (OSError, pa.ArrowException)):
                return unreadable(None, text.split(_READ_STEP)[0].strip())
            lines = _ARROW_LINE.findall(text)  # a worker subprocess's traceback text
            if lines:
                return unreadable(None, lines[-1])
        exc = exc.__cause__ or exc.__context__
    return None


# what Beam makes of a Ctrl-C or SIGTERM in a step: a RuntimeError "KeyboardInterrupt [while
# running 'Sample/Generate']" (the interrupt takes no message to append the step's name to)
_STOP_TEXT = re.compile(r"^(KeyboardInterrupt|(?:vae_augment\.cli\.)?Terminated)\b")


def interruption(exc: BaseException | None) -> str | None:
    """How a job was stopped, if `exc` is (or Beam re-raised) a Ctrl-C or a SIGTERM
    (`vae_augment.cli.Terminated`): "interrupted" or "terminated"; None for other errors."""
    from vae_augment.cli import Terminated

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt):
            return "terminated" if isinstance(exc, Terminated) else "interrupted"
        match = _STOP_TEXT.match(str(exc))
        if match:
            return "interrupted" if match.group(1) == "KeyboardInterrupt" else "terminated"
        exc = exc.__cause__ or exc.__context__
    return None


# a write the machine refused, however a step re-raised it ("[Errno 28] No space left on
# device" in a RuntimeError's text, from a worker subprocess too): ENOSPC, EDQUOT, EROFS
_DISK_ERRNOS = (28, 122, 30)
_DISK_TEXT = re.compile(r"\[Errno (28|122|30)\] ")


def disk_full(exc: BaseException | None) -> str | None:
    """The reason ("No space left on device") when `exc` is, or Beam re-raised, a write the
    disk refused (full, over quota, read-only); None for other errors."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
            return os.strerror(exc.errno)
        match = _DISK_TEXT.search(str(exc))
        if match:
            return os.strerror(int(match.group(1)))
        exc = exc.__cause__ or exc.__context__
    return None


def _not_a_user_error(record: logging.LogRecord) -> bool:
    """Drops an ERROR record of a step that raised one of our errors: by its exception, or
    (a worker's record relayed by the launching process) by the error's name in its text."""
    if record.levelno < logging.ERROR:
        return True
    info = record.exc_info
    if info and info[1] is not None and (user_error(info[1]) is not None
                                         or interruption(info[1]) is not None
                                         or disk_full(info[1]) is not None):
        return False  # said in one line by `pipelines.main`
    text = record.getMessage()
    return not any(_error_class(m.group(1), m.group(2)) for m in _NAMED.finditer(text))


def quiet_user_errors() -> None:
    """Installs the filter on Beam's loggers that report a failed step (idempotent)."""
    for name in BEAM_LOGGERS:
        logging.getLogger(name).addFilter(_not_a_user_error)


def _multi_processing(argv) -> bool:
    """Whether `argv` runs Beam's local runner with worker subprocesses."""
    def value(flag):
        for i, a in enumerate(argv):
            if a == flag and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(flag + "="):
                return a.split("=", 1)[1]
        return None

    from pipelines import _IN_PROCESS_RUNNERS  # at call time: pipelines is loaded by then

    runner = (value("--runner") or "FnApiRunner").lower().rsplit(".", 1)[-1]
    return runner in _IN_PROCESS_RUNNERS and value("--direct_running_mode") == "multi_processing"


class _StderrWithoutUserErrors:
    """A worker's stderr that drops the traceback text of one of our errors: Beam's worker
    prints each failed instruction's traceback straight to stderr, besides logging it."""

    def __init__(self, stream):
        self._stream = stream
        self._drop_newline = False

    def write(self, text):
        if self._drop_newline and text == "\n":
            self._drop_newline = False
            return len(text)
        self._drop_newline = False
        if "Traceback (most recent call last)" in text and _from_traceback_text(text):
            self._drop_newline = True  # print() writes the text, then "\n"
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _import_tensorflow_quietly(stderr: _StderrWithoutUserErrors) -> None:
    """Imports TensorFlow and sets up its CPU device with what C++ writes to fd 2 sent to
    /dev/null, while `stderr` (this worker's `sys.stderr`) writes to the real stderr: the
    CLI's way (`vae_augment.cli.silence_native_stderr`), but swapping the stream inside the
    filter, not `sys.stderr`, because the model loads in a background thread while others
    may print (a traceback printed then escaped the filter)."""
    inner = stderr._stream
    try:
        if inner.fileno() != 2:
            import tensorflow  # noqa: F401
            return
    except (AttributeError, OSError, ValueError):
        import tensorflow  # noqa: F401
        return
    inner.flush()
    real = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    stderr._stream = os.fdopen(os.dup(real), "w", buffering=1, encoding=inner.encoding,
                               errors=inner.errors)
    try:
        import tensorflow as tf

        tf.constant(0.0).numpy()  # the device's own start-up lines
    finally:
        stderr._stream.flush()
        os.dup2(real, 2)
        os.close(real)
        temporary, stderr._stream = stderr._stream, inner
        temporary.close()


def _quiet_this_worker() -> None:
    """In a worker subprocess (this module imported as its Beam plugin): our errors' log
    records and printed tracebacks dropped, and TensorFlow's C++ start-up lines (each worker
    printed 3-6) silenced when a model first loads (`_import_tensorflow_quietly`). TensorFlow
    is not imported here: a worker that imported it and then failed before using it aborted
    at exit, "terminate called ... exception not rethrown", in 2 of 5 runs."""
    import sys

    from vae_augment.beam._shared import TENSORFLOW_IMPORTER

    quiet_user_errors()
    stderr = _StderrWithoutUserErrors(sys.stderr)
    sys.stderr = stderr
    TENSORFLOW_IMPORTER[0] = lambda: _import_tensorflow_quietly(stderr)
    _exit_without_finalizing()


def _exit_without_finalizing() -> None:
    """A worker subprocess ends by `os._exit` after its atexit handlers, skipping the
    interpreter's finalization. There, a daemon thread (gRPC's, Beam's) that wakes inside
    C++ code is unwound by force (CPython ends such threads with ``pthread_exit``), and a
    C++ frame that catches the unwind aborts the process ("terminate called after throwing
    an instance of ... FATAL: exception not rethrown", exit 134; swig/swig#2396 describes the
    mechanism). With TensorFlow loaded that happened in 1 of 50 jobs here (too rare to show
    by counting that this prevents it: `benchmarks/results/worker_abort_s35.txt`); the job
    still succeeded, but the launcher printed the worker's failure. Registered when the worker loads this plugin, the handler
    runs after the atexit handlers of what the worker imports later (TensorFlow's), and
    instead of those of what it imported before (logging's, which it calls itself); it
    flushes the streams and logging and exits with the code Python would have: 1 after an
    uncaught exception (Beam's worker never calls `sys.exit`), else 0."""
    import atexit
    import sys

    failed = []
    hook = sys.excepthook

    def excepthook(*exc):
        failed.append(True)
        hook(*exc)

    def exit_now():
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        os._exit(1 if failed else 0)

    sys.excepthook = excepthook
    atexit.register(exit_now)


# a worker's first module (Python imports `sitecustomize` before Beam's own import runs): the
# stderr handler `logging.basicConfig` would give the root logger, but at WARNING and without
# Beam's BigQuery notice; then the interpreter's own sitecustomize, if it has one
_WORKER_SITE = """\
# written by pipelines._quiet for a Beam worker subprocess of a vae-augment job
import logging as _logging
import os as _os
import sys as _sys


class _NotTheBigQueryNotice(_logging.Filter):
    def filter(self, record):
        return "apitools not found" not in str(record.msg)


_handler = _logging.StreamHandler()
_handler.setFormatter(_logging.Formatter(_logging.BASIC_FORMAT))
_handler.setLevel(_logging.WARNING)
_handler.addFilter(_NotTheBigQueryNotice())
_logging.getLogger().addHandler(_handler)

_here = _os.path.dirname(_os.path.abspath(__file__))
_sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or _os.curdir) != _here]
_self = _sys.modules.pop(__name__)
try:
    import sitecustomize  # noqa: F401  (the interpreter's own, if any)
except ImportError:
    _sys.modules[__name__] = _self
"""


@contextlib.contextmanager
def quiet_worker_subprocesses(argv):
    """While a job with local worker subprocesses runs, they start with a WARNING log level
    and this module as a plugin (see the module's docstring); other runs are untouched."""
    if not _multi_processing(list(argv)) or "PIPELINE_OPTIONS_FILE" in os.environ:
        yield
        return
    options = {"default_sdk_harness_log_level": "WARNING",
               # the worker's own start-up notice ("No semi_persistent_directory found")
               "sdk_harness_log_level_overrides": {"__main__": "ERROR"},
               "beam_plugins": [__name__]}
    fd, path = tempfile.mkstemp(prefix="vae-augment-worker-options-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"options": options}, f)
    site = tempfile.mkdtemp(prefix="vae-augment-worker-site-")
    with open(os.path.join(site, "sitecustomize.py"), "w") as f:
        f.write(_WORKER_SITE)
    pythonpath = os.environ.get("PYTHONPATH")
    os.environ["PIPELINE_OPTIONS_FILE"] = path
    os.environ["PYTHONPATH"] = os.pathsep.join([site, *([pythonpath] if pythonpath else [])])
    try:
        yield
    finally:
        os.environ.pop("PIPELINE_OPTIONS_FILE", None)
        if pythonpath is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = pythonpath
        os.unlink(path)
        shutil.rmtree(site, ignore_errors=True)


if os.path.basename(os.environ.get("PIPELINE_OPTIONS_FILE", "")).startswith(
        "vae-augment-worker-options-"):
    _quiet_this_worker()  # imported as the Beam plugin of a worker subprocess
