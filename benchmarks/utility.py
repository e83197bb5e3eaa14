"""Benchmark: downstream utility of balancing with none / ROS / SMOTE / vae-augment / SDV TVAE.

Reproduces the protocol of ../shared/BASELINES.md:

* 70/30 stratified split of each public dataset, split seeds 0, 1, 2;
* the training split only is balanced, every class up to the majority count (``auto``);
* LR: median-impute + standardise numerics, most-frequent-impute + one-hot categoricals,
  ``LogisticRegression(max_iter=3000)``; HGB: same preprocessing,
  ``HistGradientBoostingClassifier(random_state=0)``;
* random oversampling and SMOTE run after preprocessing (imbalanced-learn defaults,
  ``random_state=seed``); vae-augment runs through the product path (``api.fit`` on the
  training split as a ``pyarrow.Table``, then ``api.sample`` of the ``auto`` counts); SDV TVAE
  fits one ``TVAESynthesizer`` per minority class in a subprocess under ``--sdv-python``;
* score on the untouched test split: minority-class F1 for binary labels, macro F1 for
  multiclass, and the minority class's average precision beside it; mean and standard
  deviation over the seeds. The preprocessing is always fitted on the real training rows.

Wall time of each balancing method (fit + sample) is recorded; for vae-augment the C2ST AUC
(`vae_augment.evaluation.c2st_auc`) of its synthetic rows against the real training rows of
the same classes (class counts matched) is recorded too.

    # full run (3 seeds, all datasets, all methods), writes benchmarks/results/quality.md
    .venv/bin/python benchmarks/utility.py --md benchmarks/results/quality.md
    # quick iteration: one seed, two datasets, no TVAE
    .venv/bin/python benchmarks/utility.py --quick --datasets churn,credit
    # try vae-augment hyperparameters
    .venv/bin/python benchmarks/utility.py --quick --vae-json '{"epochs": 100}'
    # a small table: every method fits on 1,000 training rows (the test split is unchanged)
    .venv/bin/python benchmarks/utility.py --quick --train-rows 1000
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

DATA_DIR = os.path.join(os.path.dirname(REPO), "shared", "data")
DATASETS = {
    "churn": "churn",
    "credit": "Status",
    "hpc": "class",
    "digits_longtail": "label",
}
METHODS = ("none", "ros", "smote", "vae", "tvae")
CLASSIFIERS = ("LR", "HGB")
SDV_PYTHON = "/work/sdv-venv/bin/python"


# ---------------------------------------------------------------------- data
def load(name: str) -> pa.Table | None:
    path = os.path.join(DATA_DIR, f"{name}.parquet")
    if not os.path.exists(path):
        return None
    return pq.read_table(path)


def to_frame(table: pa.Table, label: str):
    """(X DataFrame, y array); fixed-size list (image) columns become one column per element."""
    import pandas as pd

    cols = {}
    for name in table.column_names:
        if name in (label, "is_synthetic"):
            continue
        col = table.column(name)
        if pa.types.is_fixed_size_list(col.type):
            arr = col.combine_chunks()
            flat = arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), -1)
            for k in range(flat.shape[1]):
                cols[f"{name}_{k}"] = flat[:, k].astype(np.float64)
        else:
            cols[name] = col.to_pandas()
    x = pd.DataFrame(cols)
    y = np.asarray(table.column(label).to_pylist())
    return x, y


def preprocessor(x):
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and x[c].dtype != bool]
    cat = [c for c in x.columns if c not in num]
    parts = []
    if num:
        parts.append(("num", Pipeline([("imp", SimpleImputer(strategy="median")),
                                       ("std", StandardScaler())]), num))
    if cat:
        parts.append(("cat", Pipeline([("imp", SimpleImputer(strategy="most_frequent")),
                                       ("oh", OneHotEncoder(handle_unknown="ignore"))]), cat))
    return ColumnTransformer(parts, sparse_threshold=0.0)


def classifier(kind: str):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if kind == "LR":
        return LogisticRegression(max_iter=3000)
    return HistGradientBoostingClassifier(random_state=0)


def _cat_to_object(x):
    import pandas as pd

    for c in x.columns:
        if not pd.api.types.is_numeric_dtype(x[c]) or x[c].dtype == bool:
            x[c] = x[c].astype(object)
    return x


# ---------------------------------------------------------------------- methods
def auto_counts(y: np.ndarray) -> dict:
    values, counts = np.unique(y, return_counts=True)
    top = counts.max()
    return {v: int(top - c) for v, c in zip(values, counts) if top - c > 0}


def run_vae(train: pa.Table, label: str, seed: int, vae_kwargs: dict):
    from vae_augment.api import fit, sample
    from vae_augment.balancing import samples_to_generate

    start = time.perf_counter()
    art = fit(train, label=label, seed=seed, **vae_kwargs)
    counts = samples_to_generate(dict(art.encoding.class_counts), "auto")
    counts = {c: n for c, n in counts.items() if n > 0}
    synth = sample(art, counts, seed=seed, guided=True)  # what `balance` generates
    seconds = time.perf_counter() - start
    return art, synth, seconds


def _flatten_tensors(table: pa.Table) -> tuple[pa.Table, dict]:
    """Fixed-size list columns as one column per element (``{name}_{k}``), for SDV."""
    cols, names, tensors = [], [], {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_fixed_size_list(col.type):
            arr = col.combine_chunks()
            size = col.type.list_size
            flat = arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), size)
            tensors[name] = (col.type, size)
            for k in range(size):
                cols.append(pa.array(flat[:, k]))
                names.append(f"{name}_{k}")
        else:
            cols.append(col)
            names.append(name)
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:  # e.g. an image column `image` beside a column named `image_0`
        raise ValueError(f"flattening tensor columns for SDV would repeat columns {clash}")
    return pa.table(cols, names=names), tensors


def _pack_tensors(table: pa.Table, tensors: dict, order: list) -> pa.Table:
    """Inverse of :func:`_flatten_tensors`: element columns back into their list column."""
    for name, (typ, size) in tensors.items():
        parts = [f"{name}_{k}" for k in range(size)]
        flat = np.stack([table.column(p).to_numpy(zero_copy_only=False) for p in parts], axis=1)
        if pa.types.is_integer(typ.value_type):  # SDV may hand integers back as floats
            info = np.iinfo(typ.value_type.to_pandas_dtype())
            flat = np.clip(np.rint(flat.astype(np.float64)), info.min, info.max).astype(info.dtype)
        values = pa.array(flat.reshape(-1), type=typ.value_type)
        packed = pa.FixedSizeListArray.from_arrays(values, size)
        table = table.drop_columns(parts).append_column(name, packed.cast(typ))
    return table.select(order)


def run_tvae(train: pa.Table, label: str, seed: int, sdv_python: str):
    """SDV TVAE per minority class in a subprocess. Tensor (image) columns go to SDV as one
    integer column per element (TVAE has no tensor type) and come back packed."""
    y = np.asarray(train.column(label).to_pylist(), dtype=object)
    counts = {str(c): n for c, n in auto_counts(y).items()}
    flat, tensors = _flatten_tensors(train.replace_schema_metadata(None))
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.parquet"), os.path.join(tmp, "out.parquet")
        pq.write_table(flat, src)
        start = time.perf_counter()
        proc = subprocess.run(
            [sdv_python, os.path.join(HERE, "_tvae_worker.py"), src, dst, "--label", label,
             "--counts", json.dumps(counts), "--seed", str(seed)],
            capture_output=True, text=True,
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"TVAE worker failed:\n{proc.stderr[-2000:]}")
        inner = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
        synth = _pack_tensors(pq.read_table(dst), tensors, train.column_names)
    return synth, seconds, float(sum(inner.values()))


def c2st_class_matched(encoding, train: pa.Table, synth: pa.Table, label: str, seed: int) -> float:
    """C2ST AUC: synthetic rows vs the real training rows of the same classes, equal counts."""
    from vae_augment.evaluation import c2st_auc

    rng = np.random.default_rng(seed)
    ry = np.asarray(train.column(label).to_pylist(), dtype=object)
    sy = np.asarray(synth.column(label).to_pylist(), dtype=object)
    real_idx, synth_idx = [], []
    for c in np.unique(sy):
        r = np.flatnonzero(ry == c)
        s = np.flatnonzero(sy == c)
        n = min(len(r), len(s))
        real_idx.append(rng.choice(r, n, replace=False))
        synth_idx.append(rng.choice(s, n, replace=False))
    real = train.take(pa.array(np.sort(np.concatenate(real_idx))))
    fake = synth.select(train.column_names).take(pa.array(np.sort(np.concatenate(synth_idx))))
    return c2st_auc(encoding, real, fake, seed=seed)


# ---------------------------------------------------------------------- scoring
def score(y_true, y_pred, proba, classes, minority, binary: bool) -> dict:
    from sklearn.metrics import average_precision_score, f1_score

    if binary:
        f1 = f1_score(y_true, y_pred, labels=[minority], average=None, zero_division=0)[0]
    else:
        f1 = f1_score(y_true, y_pred, average="macro", zero_division=0)
    col = list(classes).index(minority)
    ap = average_precision_score((y_true == minority).astype(int), proba[:, col])
    # each class's own F1 (the JSON keeps it; a rare class's figure, not only the mean)
    per_class = f1_score(y_true, y_pred, labels=list(classes), average=None, zero_division=0)
    return {"f1": float(f1), "ap": float(ap),
            "f1_per_class": {str(c): float(v) for c, v in zip(classes, per_class)}}


def stratified_rows(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted positions of `n` of the rows of `y`, each class in proportion (rounded down, the
    rows left over to the largest remainders) but at least 2 rows of it (or all it has), so a
    class's minimum can make it a few more than `n`."""
    values, counts = np.unique(y, return_counts=True)
    quota = counts * min(n, len(y)) / len(y)
    take = np.minimum(counts, np.maximum(2, np.floor(quota).astype(int)))
    for i in np.argsort(take - quota)[:max(min(n, len(y)) - take.sum(), 0)]:
        take[i] += 1
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(y == v), k, replace=False)
                                   for v, k in zip(values, take)]))


def evaluate_split(table, label, seed, methods, vae_kwargs, sdv_python, log, train_rows=None):
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.pipeline import Pipeline as ImbPipeline
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    y_all = np.asarray(table.column(label).to_pylist())
    values, counts = np.unique(y_all, return_counts=True)
    minority = values[np.argmin(counts)]
    binary = len(values) == 2
    idx = np.arange(table.num_rows)
    tr, te = train_test_split(idx, test_size=0.3, stratify=y_all, random_state=seed)
    if train_rows:  # a smaller training split; the test split stays whole
        tr = tr[stratified_rows(y_all[tr], train_rows, seed)]
    train, test = table.take(pa.array(tr)), table.take(pa.array(te))
    x_tr, y_tr = to_frame(train, label)
    x_te, y_te = to_frame(test, label)
    x_tr, x_te = _cat_to_object(x_tr), _cat_to_object(x_te)
    rows = []
    for method in methods:
        extra: dict = {}
        fits = {}
        if method in ("none", "ros", "smote"):
            sampler = {"none": None, "ros": RandomOverSampler(random_state=seed),
                       "smote": SMOTE(random_state=seed)}[method]
            start = time.perf_counter()
            if sampler is not None:  # time of the balancing step alone, after preprocessing
                sampler.fit_resample(preprocessor(x_tr).fit_transform(x_tr), y_tr)
            extra["balance_seconds"] = time.perf_counter() - start
            for kind in CLASSIFIERS:
                steps = [("pre", preprocessor(x_tr))]
                if sampler is not None:
                    steps.append(("bal", sampler))
                steps.append(("clf", classifier(kind)))
                fits[kind] = (ImbPipeline(steps) if sampler is not None else Pipeline(steps)).fit(
                    x_tr, y_tr)
        else:
            if method == "vae":
                art, synth, seconds = run_vae(train, label, seed, vae_kwargs)
                extra["balance_seconds"] = seconds
                extra["epochs_run"] = art.config["metrics"].get("epochs_run")
                extra["c2st"] = c2st_class_matched(art.encoding, train, synth, label, seed)
            else:
                if not os.path.exists(sdv_python):
                    continue
                synth, seconds, inner = run_tvae(train, label, seed, sdv_python)
                extra["balance_seconds"] = seconds
                extra["fit_sample_seconds_in_worker"] = inner
                from vae_augment.preparation import fit_encoding  # the detector's features

                # the detector's encoding covers both sides: TVAE can write values of a
                # low-cardinality column that the real rows lack (a giveaway, as it should be)
                both = pa.concat_tables([train, synth.select(train.column_names).cast(
                    train.schema)])
                extra["c2st"] = c2st_class_matched(fit_encoding(both, label), train, synth,
                                                   label, seed)
            x_s, y_s = to_frame(synth, label)
            x_s = _cat_to_object(x_s)[list(x_tr.columns)]
            import pandas as pd

            x_aug = pd.concat([x_tr, x_s], ignore_index=True)
            y_aug = np.concatenate([y_tr, y_s.astype(y_tr.dtype)])
            pre = preprocessor(x_tr).fit(x_tr)  # fitted on real rows, as for ROS/SMOTE
            for kind in CLASSIFIERS:
                clf = classifier(kind).fit(pre.transform(x_aug), y_aug)
                fits[kind] = Pipeline([("pre", pre), ("clf", clf)])
        for kind, model in fits.items():
            pred = model.predict(x_te)
            proba = model.predict_proba(x_te)
            s = score(y_te, pred, proba, model.classes_, minority, binary)
            rows.append({"method": method, "clf": kind, "seed": seed, **s, **extra})
            log(f"  seed={seed} {method:5s} {kind:3s} f1={s['f1']:.3f} ap={s['ap']:.3f} "
                + " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in extra.items()))
    return rows


# ---------------------------------------------------------------------- report
def summarise(results: dict) -> dict:
    out = {}
    for ds, rows in results.items():
        for method in METHODS:
            for kind in CLASSIFIERS:
                sel = [r for r in rows if r["method"] == method and r["clf"] == kind]
                if not sel:
                    continue
                f1 = np.array([r["f1"] for r in sel])
                ap = np.array([r["ap"] for r in sel])
                secs = np.array([r["balance_seconds"] for r in sel])
                entry = {
                    "f1": float(f1.mean()), "f1_sd": float(f1.std(ddof=1)) if len(f1) > 1 else 0.0,
                    "ap": float(ap.mean()), "seconds": float(np.median(secs)), "n": len(sel),
                    "f1_seeds": f1.round(4).tolist(),
                }
                if "c2st" in sel[0]:
                    entry["c2st"] = float(np.mean([r["c2st"] for r in sel]))
                if "epochs_run" in sel[0]:
                    entry["epochs_run"] = [r["epochs_run"] for r in sel]
                out[(ds, method, kind)] = entry
    return out


def targets(summary: dict, datasets) -> list[tuple[str, str, str, bool | None]]:
    rows = []
    for ds in datasets:
        v, s = summary.get((ds, "vae", "LR")), summary.get((ds, "smote", "LR"))
        if v and s:
            rows.append((f"{ds}: LR vae >= SMOTE", f"{v['f1']:.3f}", f"{s['f1']:.3f}",
                         v["f1"] >= s["f1"]))
        v, n = summary.get((ds, "vae", "HGB")), summary.get((ds, "none", "HGB"))
        if v and n:
            rows.append((f"{ds}: HGB vae >= none - sd(none)", f"{v['f1']:.3f}",
                         f"{n['f1']:.3f} - {n['f1_sd']:.3f}", v["f1"] >= n["f1"] - n["f1_sd"]))
    v = summary.get(("churn", "vae", "LR"))
    if v and "c2st" in v:
        rows.append(("churn: C2ST AUC < 0.75", f"{v['c2st']:.3f}", "0.75", v["c2st"] < 0.75))
    return rows


def environment() -> dict:
    """What a VAE figure depends on beyond the code and seed: the same seed trains to different
    weights on another CPU or library build (quality.md, session 10), so results record both."""
    from importlib import metadata

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        cpu = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                    if line.startswith("model name")), "")
        flags = next((line.split(":", 1)[1].split() for line in info.splitlines()
                      if line.startswith("flags")), [])
        cpu += " (" + " ".join(f for f in ("avx2", "avx512f", "amx_tile") if f in flags) + ")"
    except OSError:
        pass
    packages = {}
    for name in ("tensorflow", "keras", "tensorflow-probability", "numpy", "scikit-learn"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"cpu": cpu or platform.processor(), "packages": packages}


def _merged_environment(envs: list) -> dict:
    """The merged runs' common environment; a field they disagree on (or did not record, as
    runs before session 10) reads as such."""
    known = [e for e in envs if e]
    if not known:
        return {"cpu": "not recorded", "packages": {}}
    cpu = known[0]["cpu"] if all(e["cpu"] == known[0]["cpu"] for e in known) else "mixed"
    packages = {k: (v if all(e["packages"].get(k) == v for e in known) else "mixed")
                for k, v in known[0]["packages"].items()}
    if len(known) < len(envs):
        cpu += " (some runs did not record theirs)"
    return {"cpu": cpu, "packages": packages}


def markdown(summary, datasets, seeds, command, vae_kwargs, elapsed, env=None) -> str:
    env = env or environment()
    lines = [
        "# Quality: downstream utility of vae-augment vs none / ROS / SMOTE / TVAE",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: "
        f"{platform.machine()}, {os.cpu_count()} CPU cores shared with other engineers' jobs "
        f"(wall times are noisy); split seeds {seeds}; vae-augment fit kwargs "
        f"{json.dumps(vae_kwargs) or '{}'} (library defaults otherwise); total {elapsed:.0f} s.",
        "",
        f"Environment: {env['cpu']}"
        + "".join(f"; {k} {v}" for k, v in env["packages"].items()) + ".",
        "",
        "Protocol: ../shared/BASELINES.md (70/30 stratified split, `auto` balancing of the "
        "training split, LR and HGB pipelines, minority-class F1 for binary labels and macro F1 "
        "for multiclass; mean ± sd over the seeds). AP = average precision of the minority "
        "class. Seconds = median wall time of the balancing step (fit + sample; for ROS/SMOTE "
        "the resampling after preprocessing). C2ST = `vae_augment.evaluation.c2st_auc` of the "
        "synthetic rows against the real training rows of the same classes, equal class counts "
        "(0.5 ideal).",
        "",
        "## Targets",
        "",
        "| target | vae-augment | reference | met |",
        "|---|---|---|---|",
    ]
    for name, a, b, ok in targets(summary, datasets):
        lines.append(f"| {name} | {a} | {b} | {'yes' if ok else '**no**'} |")
    for kind in CLASSIFIERS:
        lines += ["", f"## {kind}: F1 (mean ± sd) / AP", "",
                  "| dataset | " + " | ".join(METHODS) + " |",
                  "|---|" + "---|" * len(METHODS)]
        for ds in datasets:
            cells = []
            for m in METHODS:
                e = summary.get((ds, m, kind))
                if e is None:
                    cells.append("n/a")
                    continue
                cell = f"{e['f1']:.3f} ± {e['f1_sd']:.3f} / {e['ap']:.3f}"
                if e["n"] < len(seeds):
                    cell = f"{e['f1']:.3f} / {e['ap']:.3f} ({e['n']} seed{'s' if e['n'] > 1 else ''})"
                cells.append(cell)
            lines.append(f"| {ds} | " + " | ".join(cells) + " |")
    lines += ["", "## Wall time of balancing (median s), C2ST and vae-augment epochs", "",
              "| dataset | " + " | ".join(METHODS) + " | vae C2ST | tvae C2ST | vae epochs run |",
              "|---|" + "---|" * (len(METHODS) + 3)]
    for ds in datasets:
        cells = []
        for m in METHODS:
            e = summary.get((ds, m, "LR"))
            cells.append("n/a" if e is None else f"{e['seconds']:.2f}")
        v = summary.get((ds, "vae", "LR"), {})
        cells.append(f"{v['c2st']:.3f}" if "c2st" in v else "n/a")
        t = summary.get((ds, "tvae", "LR"), {})
        cells.append(f"{t['c2st']:.3f}" if "c2st" in t else "n/a")
        cells.append(str(v.get("epochs_run", "n/a")))
        lines.append(f"| {ds} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--quick", action="store_true",
                   help="one seed (0) and no TVAE unless --seeds/--methods say otherwise")
    p.add_argument("--vae-json", default="{}", help="extra vae_augment.api.fit kwargs (JSON)")
    p.add_argument("--guided", action="store_true",
                   help="vae-augment with the guided setting (vae_augment.GUIDED; --vae-json "
                        "keys given beside it win), as the CLI's --guided")
    p.add_argument("--train-rows", type=int, default=None,
                   help="fit every method on this many rows of the training split, stratified "
                        "(at least 2 of a class), drawn with the split seed; the test split "
                        "is unchanged")
    p.add_argument("--sdv-python", default=SDV_PYTHON)
    p.add_argument("--json", default=None, help="write raw per-seed results here")
    p.add_argument("--md", default=None, help="write the markdown report here")
    p.add_argument("--merge", default=None,
                   help="comma-separated --json files of earlier runs (e.g. one per method, run "
                        "in parallel): write the report from them instead of running")
    args = p.parse_args(argv)
    given = set(a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]))
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    if args.quick:
        if "--seeds" not in given:
            seeds = [0]
        if "--methods" not in given:
            methods = [m for m in methods if m != "tvae"]
    unknown = set(methods) - set(METHODS)
    if unknown:
        p.error(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    if args.train_rows is not None and args.train_rows < 1:
        p.error(f"--train-rows must be at least 1, got {args.train_rows}")
    if "tvae" in methods:
        ok = os.path.exists(args.sdv_python) and subprocess.run(
            [args.sdv_python, "-c", "import sdv"], capture_output=True).returncode == 0
        if not ok:
            print(f"TVAE not run: {args.sdv_python} cannot import sdv", file=sys.stderr)
            methods.remove("tvae")
    vae_kwargs = json.loads(args.vae_json)
    if args.guided:
        from vae_augment import GUIDED

        vae_kwargs = {**GUIDED, **vae_kwargs}

    def log(msg):
        print(msg, flush=True)

    command = "python benchmarks/utility.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    if args.merge:
        results, seeds, elapsed, commands, envs = {}, None, 0.0, [], []
        for path in args.merge.split(","):
            with open(path) as f:
                part = json.load(f)
            for ds, rows in part["results"].items():
                # a later file's (dataset, method, seed) rows replace an earlier file's (a
                # re-run); other seeds add up
                rerun = {(r["method"], r["seed"]) for r in rows}
                kept = [r for r in results.get(ds, []) if (r["method"], r["seed"]) not in rerun]
                results[ds] = kept + list(rows)
            seeds = sorted(set(seeds or []) | set(part["seeds"]))
            vae_kwargs = part.get("vae_kwargs", vae_kwargs) or vae_kwargs
            elapsed = max(elapsed, part.get("elapsed", 0.0))
            commands.append(part.get("command", path))
            envs.append(part.get("environment"))
        datasets = [d for d in DATASETS if d in results]
        text = markdown(summarise(results), datasets, seeds,
                        " & ".join(commands) + f" ; then {command.strip()}", vae_kwargs,
                        elapsed, _merged_environment(envs))
        print(text)
        if args.md:
            with open(args.md, "w") as f:
                f.write(text)
        return 0
    start = time.perf_counter()
    results, datasets = {}, []
    for ds in args.datasets.split(","):
        table = load(ds)
        if table is None:
            log(f"{ds}: {DATA_DIR}/{ds}.parquet not found, skipped")
            continue
        datasets.append(ds)
        log(f"{ds}: {table.num_rows} rows")
        results[ds] = []
        for seed in seeds:
            results[ds] += evaluate_split(table, DATASETS[ds], seed, methods, vae_kwargs,
                                          args.sdv_python, log, args.train_rows)
    elapsed = time.perf_counter() - start
    summary = summarise(results)
    env = environment()
    text = markdown(summary, datasets, seeds, command.strip(), vae_kwargs, elapsed, env)
    print(text)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            extra = {"train_rows": args.train_rows} if args.train_rows else {}
            json.dump({"results": results, "seeds": seeds, "vae_kwargs": vae_kwargs,
                       "elapsed": elapsed, "command": command.strip(), "environment": env,
                       **extra}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
