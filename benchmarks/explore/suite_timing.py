"""Where the test suite's time goes: a pytest plugin, and a summary of what it wrote.

Session 46 (`make test` had reached 1,000+ s on 2 cores, CI 1,100 s). The plugin wraps
`training.train_model`, the class guide's fit, `evaluation.evaluate` (and, inside it, the
plots, the utility classifiers and the C2ST), every `apache_beam.Pipeline.run` and every
subprocess (`subprocess.run`, `Popen.communicate` / `wait`) and adds up, per test, the time
spent in each (the outermost call of a kind only; a module fixture's time goes to the first
test that sets it up), and in the garbage collector's full passes (`gc`; session 50). Each
pytest process (each xdist worker) writes one JSON file.

    cd REPO && PYTHONPATH=benchmarks/explore .venv/bin/python -m pytest -q -n 2 \\
        --dist loadfile -p suite_timing tests                 # writes /tmp/suite_timing/*.json
    .venv/bin/python benchmarks/explore/suite_timing.py /tmp/suite_timing

``SUITE_TIMING_OUT`` sets the folder. One test fails under the plugin, by design of the test:
`test_warnings_name_the_callers_line_whichever_path_led_there` (the wrapper is one more frame
between the caller and the warning).
"""

from __future__ import annotations

import collections
import functools
import glob
import json
import os
import sys
import time

import pytest

OUT = os.environ.get("SUITE_TIMING_OUT", "/tmp/suite_timing")
_CURRENT = {"test": "(collection)"}
_TIMES: dict = collections.defaultdict(lambda: collections.defaultdict(float))
_STACK: list[str] = []
KINDS = ("train", "guide", "evaluate", "plots", "utility", "c2st", "beam", "subprocess", "gc")
_GC_START = [0.0]


def _gc_timer(phase, info):
    """Adds up the time of the cyclic garbage collector's full (generation 2) passes."""
    if phase == "start":
        _GC_START[0] = time.perf_counter()
    elif info["generation"] == 2:
        _TIMES[_CURRENT["test"]]["gc"] += time.perf_counter() - _GC_START[0]


def _timed(kind, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        _STACK.append(kind)
        try:
            return fn(*args, **kwargs)
        finally:
            _STACK.pop()
            if kind not in _STACK:
                _TIMES[_CURRENT["test"]][kind] += time.perf_counter() - start

    wrapper._suite_timed = True
    return wrapper


def _patch(module_name: str, attr: str, kind: str) -> None:
    """Replaces the function everywhere the library's modules hold it (``from x import f``
    copies included)."""
    import importlib

    original = getattr(importlib.import_module(module_name), attr)
    if getattr(original, "_suite_timed", False):
        return
    replace_everywhere(original, _timed(kind, original))


def replace_everywhere(original, wrapped) -> None:
    """Puts `wrapped` in place of `original` in every module of the library, the pipelines
    and the tests that holds it (`fit_keys.py` uses it too)."""
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "") or ""
        if name.split(".")[0] in ("vae_augment", "pipelines", "tests", "conftest"):
            for key, value in list(vars(module).items()):
                if value is original:
                    setattr(module, key, wrapped)


def pytest_configure(config):
    import gc
    import subprocess

    gc.callbacks.append(_gc_timer)
    subprocess.run = _timed("subprocess", subprocess.run)
    subprocess.Popen.communicate = _timed("subprocess", subprocess.Popen.communicate)
    subprocess.Popen.wait = _timed("subprocess", subprocess.Popen.wait)
    import apache_beam as beam

    import vae_augment.api  # noqa: F401  (the modules that hold the functions, imported)
    import vae_augment.cli  # noqa: F401
    import vae_augment.evaluation  # noqa: F401
    import vae_augment.imblearn  # noqa: F401

    for module_name, attr, kind in [
        ("vae_augment.training", "train_model", "train"),
        ("vae_augment.guide", "fit_guide", "guide"),
        ("vae_augment.evaluation", "evaluate", "evaluate"),
        ("vae_augment.report_plots", "draw", "plots"),
        ("vae_augment.utility", "_utility", "utility"),
        ("vae_augment.detection", "_detection", "c2st"),
    ]:
        _patch(module_name, attr, kind)
    beam.Pipeline.run = _timed("beam", beam.Pipeline.run)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _CURRENT["test"] = item.nodeid
    start = time.perf_counter()
    yield
    _TIMES[item.nodeid]["total"] += time.perf_counter() - start


def pytest_sessionfinish(session):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"{os.getpid()}.json"), "w") as f:
        json.dump(_TIMES, f)


def summary(folder: str, top: int = 30) -> None:
    tests: dict = {}
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path) as f:
            tests.update(json.load(f))
    kinds: collections.Counter = collections.Counter()
    files: dict = collections.defaultdict(collections.Counter)
    for test, times in tests.items():
        kinds.update(times)
        files[test.split("::")[0]].update(times)
    print("worker-seconds:", {k: round(v) for k, v in kinds.most_common()})
    print(f"\n{'file':45s} " + " ".join(f"{k:>10s}" for k in ("total",) + KINDS))
    for name, times in sorted(files.items(), key=lambda x: -x[1]["total"])[:top]:
        print(f"{name:45s} " + " ".join(f"{times[k]:10.0f}" for k in ("total",) + KINDS))
    print()
    for test, times in sorted(tests.items(), key=lambda x: -x[1].get("total", 0))[:top]:
        parts = " ".join(f"{k}={v:.0f}" for k, v in times.items() if k != "total" and v >= 0.5)
        print(f"{times.get('total', 0):7.1f}  {test}  {parts}")


if __name__ == "__main__":
    summary(sys.argv[1] if len(sys.argv) > 1 else OUT)
