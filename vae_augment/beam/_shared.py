"""Per-worker model loading and the dead-letter plumbing shared by the transforms."""

from __future__ import annotations

import copy
import os
import posixpath
import shutil
import tempfile
import threading
from typing import Any

import apache_beam as beam
from apache_beam.utils.shared import Shared

__all__ = [
    "model_meta", "local_model_dir", "canonical_model_dir", "shared_handle", "warm_up", "ModelDoFn", "DeadLetterMixin",
    "OK", "BAD",
]

OK = "ok"
BAD = "bad"


def mismatched_schema(expected, table, *, columns=None, dead_letter: bool, counter,
                      encoding=None, label: bool = True, path: str | None = None,
                      nullability: bool = True):
    """The dead-letter output for a table whose schema differs from the model's, else None.
    With `encoding`, only a difference `encoding.encode` cannot take counts
    (`Encoding.type_problem`: the scoring transforms, whose output keeps the input's types;
    `label` False: marginal scores, which do not read the label). `path`: the file the
    table was read from, named by the error (and the dead letter's `BadRows.file`).
    `nullability` false: fields declared nullable or not alike (balancing keeps the input's).

    Raises `SchemaError` on a mismatch when the transform has no dead-letter output.
    """
    from vae_augment.beam.rows import BadRows, schema_difference
    from vae_augment.errors import SchemaError

    problem = (encoding.type_problem(table.schema, label=label) if encoding is not None
               else schema_difference(expected, table.schema, columns,
                                      nullability=nullability))
    if problem is None:
        return None
    what = "input table" if path is None else f"input '{path}'"
    message = f"{what} does not match the schema the model was trained on: {problem}"
    if not dead_letter:
        raise SchemaError(message)
    counter.inc(table.num_rows)
    return BAD, BadRows(table, message, path)

_LOCAL_COPIES: dict[str, str] = {}
_COPY_LOCK = threading.Lock()


def local_model_dir(model_dir) -> str:
    """`model_dir` itself when local; a per-process local copy of a remote (gs://, s3://, ...) one.

    Remote directories are copied once per process with Beam's `FileSystems`, so workers on
    Dataflow/Flink/Spark can load an artifact staged in object storage.
    """
    model_dir = os.fspath(model_dir)
    if "://" not in model_dir:
        return model_dir
    with _COPY_LOCK:
        if model_dir in _LOCAL_COPIES:
            return _LOCAL_COPIES[model_dir]
        from apache_beam.io.filesystems import FileSystems

        from vae_augment.errors import ArtifactError

        dest = tempfile.mkdtemp(prefix="vae-augment-model-")
        matched = FileSystems.match([model_dir.rstrip("/") + "/*"])[0].metadata_list
        if not matched:
            raise ArtifactError(f"`model_dir` '{model_dir}' holds no files")
        for meta in matched:
            name = posixpath.basename(meta.path.rstrip("/"))
            with FileSystems.open(meta.path) as src, open(os.path.join(dest, name), "wb") as dst:
                shutil.copyfileobj(src, dst)
        _LOCAL_COPIES[model_dir] = dest
        return dest


_HANDLES: dict[str, Shared] = {}


def canonical_model_dir(model_dir) -> str:
    """One spelling per directory: local paths absolute, remote ones without a trailing
    slash. Transforms store this, so the shared handle, the load tag, the warm-up and the
    local copy of a remote directory all agree ("runs/x", "runs/x/" and its absolute path
    load one model per worker)."""
    model_dir = os.fspath(model_dir)
    return model_dir.rstrip("/") if "://" in model_dir else os.path.abspath(model_dir)


def shared_handle(model_dir) -> Shared:
    """One `Shared` handle per model directory in the launching process.

    Every transform of a pipeline that uses the same artifact pickles the same handle, so a
    worker process holds one copy of the model however many transforms use it (a `Shared`
    keeps only the last acquired object alive between bundles).
    """
    key = canonical_model_dir(model_dir)
    with _COPY_LOCK:
        if key not in _HANDLES:
            _HANDLES[key] = Shared()
        return _HANDLES[key]


def model_meta(model_dir):
    """(encoding, config) of an artifact without TensorFlow (checksums and version checked)."""
    from vae_augment.artifact import read_artifact_meta

    return read_artifact_meta(local_model_dir(model_dir))


#: how this process imports TensorFlow before a model loads, when TensorFlow is not imported
#: yet: None (a plain import) unless set. The jobs in `pipelines` set it in their local worker
#: subprocesses, to an import with TensorFlow's C++ start-up lines (which ignore
#: TF_CPP_MIN_LOG_LEVEL) silenced, as the CLI imports it.
TENSORFLOW_IMPORTER = [None]


class _LoadedModel:
    """What `Shared` keeps alive in a worker: the artifact and, on first use, its samplers
    (guided, as balancing generates, and plain, as `GenerateSynthetic` does by default)."""

    def __init__(self, model_dir: str):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import sys

        if TENSORFLOW_IMPORTER[0] is not None and "tensorflow" not in sys.modules:
            TENSORFLOW_IMPORTER[0]()
        from vae_augment.artifact import load_artifact

        self.artifact = load_artifact(local_model_dir(model_dir))
        self._samplers: dict[bool, Any] = {}
        self._lock = threading.Lock()

    @property
    def sampler(self):
        """The guided sampler (`sampler_for(True)`)."""
        return self.sampler_for(True)

    def sampler_for(self, guided: bool):
        """The sampler (`vae_augment.sampler.Sampler(guided=guided)`), traced once under a
        lock before any thread may use it.

        Two threads making the first call of the same `tf.function` at once race in
        autograph (seen here: ``TypeError: tf__from_config() takes 2 positional arguments``),
        so the first block is generated here; later calls run the traced graph.
        """
        guided = bool(guided)
        with self._lock:
            if guided not in self._samplers:
                from vae_augment.sampler import Sampler

                sampler = Sampler(self.artifact, guided=guided)
                sampler.generate_block(0, 0, 0, 1)
                self._samplers[guided] = sampler
            return self._samplers[guided]


def acquire_model(shared: Shared, model_dir: str) -> _LoadedModel:
    """The worker's loaded model; reloaded if a local artifact was rewritten since."""
    tag = model_dir
    manifest = os.path.join(model_dir, "manifest.json")
    if "://" not in model_dir and os.path.exists(manifest):
        tag = f"{model_dir}@{os.stat(manifest).st_mtime_ns}"
    return shared.acquire(lambda: _LoadedModel(model_dir), tag=tag)


_WARM: dict[str, _LoadedModel] = {}
_WARM_THREADS: dict[str, threading.Thread] = {}


def warm_up(shared: Shared, model_dir: str) -> threading.Thread:
    """Loads the model and traces its sampler in a background thread of this process.

    TensorFlow's import, the model load and the sampler trace take seconds; a worker that
    starts them while it reads the data has the model ready when the synthetic rows, which
    wait for the class counts, begin. At most one such thread per model directory runs in a
    process; the loaded model stays referenced until a `ModelDoFn` acquires it from the
    `Shared` handle. Load errors are left for the generation step to raise.
    """
    with _COPY_LOCK:
        thread = _WARM_THREADS.get(model_dir)
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=_warm_up, args=(shared, model_dir), name="vae-augment-warm-up"
            )
            _WARM_THREADS[model_dir] = thread
            thread.start()
        return thread


def _warm_up(shared: Shared, model_dir: str) -> None:
    try:
        loaded = acquire_model(shared, model_dir)
        _WARM[model_dir] = loaded  # keep it alive until the generation step acquires it
        _ = loaded.sampler_for(True)  # builds and traces balancing's sampler
        import imblearn.utils  # noqa: F401  (imported by samples_to_generate)
    except Exception:  # noqa: BLE001 - the generation step reports real load errors
        pass


class ModelDoFn(beam.DoFn):
    """A DoFn that loads the artifact once per worker process (`DoFn.setup` + `Shared`)."""

    def __init__(self, model_dir: str, shared: Shared, *, guided: bool = True):
        super().__init__()
        self._model_dir = os.fspath(model_dir)
        self._shared = shared
        self._guided = bool(guided)
        self._loaded = None

    def setup(self):
        self._loaded = acquire_model(self._shared, self._model_dir)
        _WARM.pop(self._model_dir, None)  # this DoFn holds it now

    @property
    def artifact(self):
        return self._loaded.artifact

    @property
    def sampler(self):
        """The worker's sampler: guided unless this DoFn was made with ``guided=False``."""
        return self._loaded.sampler_for(self._guided)


class DeadLetterMixin:
    """`with_exception_handling()` in the style of Beam's ParDo and RunInference.

    Without it a bad row fails the pipeline with an error naming the column. With it the
    transform returns ``(main, dead_letter)``; dead-letter elements are `BadRows(rows, error,
    file)` (`file`: the rows' Parquet file, for ``(path, table)`` input elements).

    The DoFns emit ``(OK, table)`` / ``(BAD, BadRows)`` pairs that two fused FlatMaps split,
    instead of tagged outputs: Beam's DaskRunner (2.77) sends every tagged output of a ParDo
    to every consumer, so tagged outputs would mix bad rows into the main output there.
    """

    _dead_letter = False

    def with_exception_handling(self):
        """A copy of this transform that returns ``(main, dead_letter)`` PCollections."""
        other = copy.copy(self)
        other._dead_letter = True
        return other

    @staticmethod
    def _split(tagged):
        main = tagged | "Good" >> beam.FlatMap(_take, OK)
        bad = tagged | "DeadLetter" >> beam.FlatMap(_take, BAD)
        return main, bad


def _take(pair, tag):
    if pair[0] == tag:
        yield pair[1]
