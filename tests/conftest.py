"""Shared fixtures: small tables of every supported type, and one tiny trained artifact."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BUNDLED = REPO / "examples" / "data"

# Tiny but real training runs: enough to exercise every code path, fast on 2 cores.
# The class guide (on by default) fits 2 boosting rounds, not 50 (2.8 s of a fit of the mixed
# table at 50 rounds), and generation draws once per row (candidates 1): the guided redraw
# loop's trace and rounds made the suite take 951-1015 s instead of 726 s. The guided path
# has its own tests on every interface (`guided_artifact`; test_defaults.py, test_guide.py).
FAST = {"epochs": 2, "batch_size": 64, "latent_dim": 4, "hidden": (16,), "kl_warmup_epochs": 1,
        "patience": 1, "guide_iterations": 2, "candidates": 1}


# The same tiny settings as CLI flags, for tests that drive `vae_augment.cli.main` (a flag
# given after them wins: put a test's own --guide-iterations, --unguided, ... after them).
FAST_ARGS = ["--epochs", "2", "--batch-size", "64", "--latent-dim", "4", "--hidden", "16",
             "--kl-warmup-epochs", "1", "--patience", "1", "--guide-iterations", "2",
             "--candidates", "1", "--quiet"]


def run_cli(argv, capsys=None):
    """Runs the CLI in-process; returns (exit code, stdout, stderr). Without `capsys` (a
    module fixture cannot take it) the output is caught here."""
    import contextlib
    import io

    from vae_augment.cli import main

    if capsys is not None:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def cli_train_config(data, model_dir, capsys, *flags) -> dict:
    """`vae-augment fit DATA --label label` with the tiny settings and `flags`; returns the
    saved `train_config` (asserting the command succeeded)."""
    import json

    code, _, err = run_cli(["fit", data, "--label", "label", "--model-dir", model_dir, *flags,
                            *FAST_ARGS], capsys)
    assert code == 0, err
    return json.loads((pathlib.Path(model_dir) / "config.json").read_text())["train_config"]


def check_oversampler_option(name: str, value, X: np.ndarray, bad="no") -> None:
    """`VAEOverSampler` rejects `bad` for the option `name` and balances 30 / 10 rows `X`
    with `value` for it."""
    from vae_augment.imblearn import VAEOverSampler

    y = np.array([0] * 30 + [1] * 10)
    with pytest.raises(ValueError, match=name):
        VAEOverSampler(**{name: bad}).fit_resample(X, y)
    sampler = VAEOverSampler(**{name: value}, random_state=0, epochs=2, batch_size=16,
                             hidden=(8,), latent_dim=2, patience=1)
    X_res, y_res = sampler.fit_resample(X, y)
    assert np.bincount(y_res).tolist() == [30, 30]


def fit_with_and_without_rules(table: pa.Table, **train):
    """(table, a model fitted with the default ``constraints="auto"``, one with none): the
    rule tests compare the two models' rows."""
    from vae_augment.api import fit

    auto = fit(table, label="label", seed=0, **train)
    plain = fit(table, label="label", seed=0, constraints="none", **train)
    return table, auto, plain


def merged_and_one_pass(table: pa.Table, encoding, parts: int = 3):
    """(the link-counting `RelationStats` of `table`'s 300-row batches dealt over `parts`
    partial results and merged, the same from one pass): the two must agree."""
    from vae_augment.constraints import new_relation_stats, update_relation_stats

    names = [s.name for s in encoding.numeric]
    partial = [new_relation_stats(encoding, names, links=True) for _ in range(parts)]
    for k, batch in enumerate(table.to_batches(max_chunksize=300)):
        update_relation_stats(partial[k % parts], batch, encoding)
    merged = partial[0]
    for other in partial[1:]:
        merged = merged.merge(other)
    one = new_relation_stats(encoding, names, links=True)
    update_relation_stats(one, table, encoding)
    return merged, one


def full_stdout():
    """A text stream on a full disk: writes fail (ENOSPC) when its buffer flushes. Call
    `.buffer.raw.empty()` before dropping it, so that its collection can flush."""
    import errno
    import io

    class Full(io.RawIOBase):
        full = True

        def writable(self):
            return True

        def write(self, b):
            if self.full:
                raise OSError(errno.ENOSPC, "No space left on device")
            return len(b)

        def empty(self):
            self.full = False

    return io.TextIOWrapper(io.BufferedWriter(Full()))


def shared_file(name: str) -> pathlib.Path:
    """A ../shared/data file, or skip the test when the shared folder is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"../shared/data/{name} not available")
    return path


def make_tied_table(seed: int = 0, *, n: int = 3000, b_share: float = 0.2,
                    zero_rates: tuple[float, float] = (0.7, 0.7)) -> pa.Table:
    """Numeric columns with ties: ``zeros`` (a share `zero_rates` of zeros in class a / b,
    else log-normal amounts, 10 % null), ``count`` (Poisson(6): every value tied, none over
    20 % of the column) and ``cont`` (continuous: more rows than quantile knots, no ties);
    labels a / b, a share `b_share` of b."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 1.0 - b_share, "a", "b")
    zero = rng.random(n) < np.where(label == "b", zero_rates[1], zero_rates[0])
    zeros = np.where(zero, 0.0, rng.lognormal(3, 1, n).round(2) + 0.01)
    count = rng.poisson(6, n)  # ~15 values: numeric by default (over 10 distinct)
    cont = rng.normal(0, 1, n)
    mask = rng.random(n) < 0.1
    return pa.table({"zeros": pa.array(zeros, mask=mask), "count": pa.array(count, pa.int64()),
                     "cont": cont, "label": label})


def tied_encoding(table: pa.Table):
    """`fit_encoding` of a `make_tied_table` table (its three numeric columns checked)."""
    from vae_augment.preparation import fit_encoding

    enc = fit_encoding(table, label="label")
    assert [s.name for s in enc.numeric] == ["zeros", "count", "cont"]
    return enc


def column_values(table: pa.Table, name: str) -> np.ndarray:
    """A column as float64, nulls as NaN."""
    return np.array(table[name].to_pylist(), dtype=float)


def make_mixed_table(n: int = 300, seed: int = 0, *, with_tensor: bool = True) -> pa.Table:
    """Every supported column type, with nulls, and an imbalanced 3-class string label."""
    rng = np.random.default_rng(seed)
    label = rng.choice(["a", "b", "c"], size=n, p=[0.7, 0.2, 0.1])
    label[:3] = ["a", "b", "c"]
    f = rng.normal(10, 3, n).round(3)
    f_mask = rng.random(n) < 0.1
    ints = rng.integers(0, 1000, n)
    small_int = rng.integers(0, 4, n)
    cats = rng.choice(["x", "y", "z"], size=n)
    cat_mask = rng.random(n) < 0.05
    flags = rng.random(n) < 0.3
    dict_col = pa.array(rng.choice(["red", "green"], size=n)).dictionary_encode()
    cols = {
        "f": pa.array(f, mask=f_mask),
        "i": pa.array(ints, pa.int64()),
        "small": pa.array(small_int, pa.int32()),
        "s": pa.array(cats, mask=cat_mask),
        "flag": pa.array(flags),
        "d": dict_col,
        "f32": pa.array(rng.random(n).astype(np.float32)),
        "const": pa.array(np.full(n, 7.0)),
    }
    if with_tensor:
        img = rng.integers(0, 17, size=(n, 64)).astype(np.uint8)
        cols["img"] = pa.FixedSizeListArray.from_arrays(pa.array(img.reshape(-1)), 64)
    cols["label"] = pa.array(label)
    fields = [pa.field(k, v.type, nullable=True) for k, v in cols.items()]
    schema = pa.schema(fields, metadata={"image_shape": "8,8"} if with_tensor else None)
    return pa.Table.from_arrays(list(cols.values()), schema=schema)


@pytest.fixture(scope="session")
def mixed_table() -> pa.Table:
    return make_mixed_table()


@pytest.fixture(scope="session")
def mixed_parquet(tmp_path_factory, mixed_table) -> pathlib.Path:
    path = tmp_path_factory.mktemp("data") / "mixed.parquet"
    pq.write_table(mixed_table, path)
    return path


@pytest.fixture(scope="session")
def mixed_artifact(tmp_path_factory, mixed_parquet) -> pathlib.Path:
    """One tiny model over the mixed table, trained once per session."""
    from vae_augment.api import fit

    model_dir = tmp_path_factory.mktemp("runs") / "mixed"
    fit(str(mixed_parquet), label="label", model_dir=str(model_dir), seed=0, **FAST)
    return model_dir


@pytest.fixture(scope="session")
def guided_artifact(tmp_path_factory, mixed_parquet) -> pathlib.Path:
    """The same tiny model with the guided setting (`vae_augment.GUIDED`): a class guide
    whose floors make generation redraw rows."""
    from vae_augment import GUIDED
    from vae_augment.api import fit

    model_dir = tmp_path_factory.mktemp("runs") / "guided"
    fit(str(mixed_parquet), label="label", model_dir=str(model_dir), seed=0,
        **{**FAST, **GUIDED})
    return model_dir


_REMOTE_FILESYSTEMS: dict = {}


def remote_test_filesystem(scheme: str = "vaetestremote") -> str:
    """Registers (once per scheme) a Beam filesystem ``SCHEME://`` over local files, as a
    remote filesystem looks to the jobs (a prefix, no `os.path`); returns the prefix."""
    prefix = f"{scheme}://"
    if scheme not in _REMOTE_FILESYSTEMS:
        from apache_beam.io.filesystem import FileMetadata, MatchResult
        from apache_beam.io.localfilesystem import LocalFileSystem

        class RemoteForTest(LocalFileSystem):
            @classmethod
            def scheme(cls):
                return scheme

            def match(self, patterns, limits=None):
                results = super().match([local(p) for p in patterns], limits)
                return [MatchResult(prefix + r.pattern, [
                    FileMetadata(prefix + m.path, m.size_in_bytes, m.last_updated_in_seconds)
                    for m in r.metadata_list]) for r in results]

            def open(self, path, *args, **kw):
                return super().open(path[len(prefix):], *args, **kw)

            # writing, as an object store takes it: no folders to make before a rename.
            # The base class calls these with local paths too (`match` does): strip only
            # the prefix
            def create(self, path, *args, **kw):
                return super().create(local(path), *args, **kw)

            def mkdirs(self, path):
                os.makedirs(local(path), exist_ok=True)

            def rename(self, sources, destinations):
                for d in destinations:
                    os.makedirs(os.path.dirname(local(d)), exist_ok=True)
                return super().rename([local(s) for s in sources],
                                      [local(d) for d in destinations])

            def exists(self, path):
                return super().exists(local(path))

            def delete(self, paths):  # the base class's goes through `match`, prefixed
                import shutil

                for p in map(local, paths):
                    shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)

        def local(path):
            return path[len(prefix):] if path.startswith(prefix) else path

        _REMOTE_FILESYSTEMS[scheme] = RemoteForTest
    return prefix
