"""Which fits the test suite repeats: a pytest plugin, and a summary of what it wrote.

Session 47. Every `training.train_model` call is logged with its test and a key hashing its
encoding, its in-memory arrays (streamed data: the source's type) and its `TrainConfig`;
two calls of one key train the same model. Each pytest process writes one JSON file.

    cd REPO && PYTHONPATH=benchmarks/explore .venv/bin/python -m pytest -q -n 2 \\
        --dist loadfile -p fit_keys tests                       # writes /tmp/fit_keys/*.json
    .venv/bin/python benchmarks/explore/fit_keys.py /tmp/fit_keys

Each log entry: (test, key, resumed or checkpointed, with callbacks).

``FIT_KEYS_OUT`` sets the folder.
"""

import collections
import dataclasses
import glob
import hashlib
import json
import os
import sys

import numpy as np
import pytest

OUT = os.environ.get("FIT_KEYS_OUT", "/tmp/fit_keys")
_CUR = {"t": "(collection)"}
_LOG = []

def _key(encoding, arrays, config):
    h = hashlib.sha1()
    try:
        h.update(json.dumps(encoding.to_json(), sort_keys=True, default=str).encode())
    except Exception as e:
        h.update(repr(e).encode())
    if isinstance(arrays, dict):
        for k in sorted(arrays):
            v = arrays[k]
            if isinstance(v, np.ndarray):
                h.update(k.encode())
                h.update(np.ascontiguousarray(v).tobytes())
            else:
                h.update(repr(type(v)).encode())
    else:
        h.update(("stream:" + type(arrays).__name__).encode())
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config)
    h.update(json.dumps(cfg, sort_keys=True, default=str).encode())
    return h.hexdigest()[:12]

def pytest_configure(config):
    from suite_timing import replace_everywhere

    import vae_augment.api  # noqa: F401  (the modules that hold train_model, imported)
    import vae_augment.cli  # noqa: F401
    import vae_augment.imblearn  # noqa: F401
    import vae_augment.training as training

    original = training.train_model

    def wrapped(encoding, arrays, config, **kw):
        _LOG.append((_CUR["t"], _key(encoding, arrays, config),
                     bool(kw.get("resume") or kw.get("checkpoint_dir")),
                     bool(kw.get("callbacks"))))
        return original(encoding, arrays, config, **kw)

    replace_everywhere(original, wrapped)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _CUR["t"] = item.nodeid
    yield

def pytest_sessionfinish(session):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"{os.getpid()}.json"), "w") as f:
        json.dump(_LOG, f)


def summary(folder: str) -> None:
    log = []
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path) as f:
            log += json.load(f)
    keys = collections.Counter(k for _, k, _, _ in log)
    print(f"fits {len(log)}, distinct {len(keys)}, repeats {sum(n - 1 for n in keys.values())}")
    for key, n in keys.most_common():
        if n < 2:
            break
        files = collections.Counter(t.split("::")[0] for t, k, _, _ in log if k == key)
        print(n, key, dict(files))


if __name__ == "__main__":
    summary(sys.argv[1] if len(sys.argv) > 1 else OUT)
