"""Hand-rolled mutation testing of `vae_augment/distributions.py` (session 57).

    PYTHONPATH=. .venv/bin/python benchmarks/explore/mutants_dist.py [--max N] [--seed S]
        [--timeout SECONDS] [--only ID,ID,...] [--list] [--json OUT] [--log FILE]
        [--all-failures]

Run from the repository root. Each mutant is ONE `ast`-located change to the module (a
comparison flipped, + and -, * and / swapped, a numeric constant changed, a unary minus /
``not`` / ``~`` dropped, two positional arguments or two keyword values of a call swapped,
``tf.reduce_sum`` -> ``tf.reduce_mean``, ``tf.maximum`` <-> ``tf.minimum``, a wrapper call such
as ``tf.round(x)`` replaced by ``x``, a re-assignment deleted, an early ``return``), spliced
into the file's own text (comments and layout kept) and written IN PLACE; the original text
is put back in a ``finally`` whatever happens (and on Ctrl-C). The tests are `FAST_TESTS`:
unit-level tests that build heads and call ``log_prob`` / draw without training (each well
under a second). They run with ``-x`` in one long-lived worker process (TensorFlow imported
once; the module is ``importlib.reload``-ed per mutant: every caller reaches it as
``D.name``), so a mutant costs ~2-4 s, not the ~12 s of a fresh pytest. A mutant that takes
longer than ``--timeout`` kills the worker (counted killed: "timeout") and a new one starts.

Prints one line per mutant (killed by which test / SURVIVED) and a summary; ``--json``
writes every result. ``--list`` prints the mutants without running anything.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import pathlib
import random
import select
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = ROOT / "vae_augment" / "distributions.py"

FAST_TESTS = [
    "tests/test_distributions.py",
    "tests/test_mixture.py::test_mixture_log_prob_matches_hand_computation",
    "tests/test_mixture.py::test_one_component_draws_what_the_gaussian_drew",
    "tests/test_mixture.py::test_mixture_draws_follow_the_weights",
    "tests/test_categorical_groups.py",
    "tests/test_float_tensors.py::test_sample_features_follows_the_layout_unless_told",
    "tests/test_spikes.py::test_the_likelihood_skips_the_spike_rows_numeric_value",
    "tests/test_spikes.py::test_dequantization_leaves_the_spike_rows_and_decodes_exactly",
    "tests/test_dequantize.py::test_dequantized_values_decode_to_the_same_values",
    "tests/test_dequantize.py::test_dequantized_marginals_are_standard_normal",
    "tests/test_dequantize.py::test_only_training_steps_see_spread_targets",
    "tests/test_dequantize.py::test_dequantization_compiles_with_xla",
    "tests/test_dequantize.py::test_validation_batches_get_the_same_noise_every_pass",
    "tests/test_binomial.py::test_log_prob_is_binomial_pmf_of_counts",
    "tests/test_binomial.py::test_binomial_sample_moments_and_support",
    "tests/test_binomial.py::test_binomial_sample_reaches_range_ends",
    "tests/test_binomial.py::test_sample_features_draws_binomial_and_keeps_legacy_means",
    "tests/test_binomial.py::test_beta_binomial_log_prob_is_the_pmf_of_counts",
    "tests/test_binomial.py::test_beta_binomial_sample_moments",
    "tests/test_binomial.py::test_beta_binomial_sample_tiny_concentrations_give_both_ends_and_no_nan",
    "tests/test_binomial.py::test_log_gamma_sample_is_gamma_distributed",
    "tests/test_binomial.py::test_sample_features_beta_binomial_is_stateless_with_the_mean_on_request",
]

# ------------------------------------------------------------------ mutation operators
_BINOP_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
               ast.Pow: ast.Mult, ast.FloorDiv: ast.Div, ast.BitAnd: ast.BitOr,
               ast.BitOr: ast.BitAnd}
_CMP_NEGATE = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt,
               ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
               ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_CMP_BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
_RENAME = {"reduce_sum": "reduce_mean", "maximum": "minimum", "minimum": "maximum",
           "argmax": "argmin"}
# calls whose first argument passes through them: replaced by that argument
_WRAPPERS = {"round", "clip_by_value", "softplus", "sigmoid", "maximum", "minimum",
             "rsqrt", "log", "abs"}
_SKIP_NAMES = {"__all__", "tfd"}


def _new_number(v):
    if v == 0:
        return [1]
    if v == 1:
        return [0]
    if v == 0.5:
        return [1.0]
    if isinstance(v, float) and abs(v) < 0.1:
        return [v * 10]
    if isinstance(v, int):
        return [v + 1]
    return [v * 2]


def _call_name(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _expr_mutants(node):
    """(description, new node) for one expression node."""
    out = []
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAP:
        new = copy.deepcopy(node)
        new.op = _BINOP_SWAP[type(node.op)]()
        out.append((f"{type(node.op).__name__} -> {type(new.op).__name__}", new))
    elif isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for table, kind in ((_CMP_NEGATE, "negate"), (_CMP_BOUNDARY, "boundary")):
                if type(op) in table:
                    new = copy.deepcopy(node)
                    new.ops[i] = table[type(op)]()
                    out.append((f"{kind} {type(op).__name__} -> {type(new.ops[i]).__name__}",
                                new))
    elif isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append((f"{type(node.op).__name__} -> {type(new.op).__name__}", new))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not, ast.Invert)):
        out.append((f"drop unary {type(node.op).__name__}", copy.deepcopy(node.operand)))
    elif (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
          and not isinstance(node.value, bool)):
        for v in _new_number(node.value):
            out.append((f"constant {node.value!r} -> {v!r}", ast.Constant(v)))
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        out.append((f"constant {node.value} -> {not node.value}", ast.Constant(not node.value)))
    elif isinstance(node, ast.Call):
        name = _call_name(node)
        if name in _RENAME and isinstance(node.func, ast.Attribute):
            new = copy.deepcopy(node)
            new.func.attr = _RENAME[name]
            out.append((f"{name} -> {_RENAME[name]}", new))
        if name in _WRAPPERS and node.args and not isinstance(node.args[0], ast.Starred):
            out.append((f"{name}(x, ...) -> x", copy.deepcopy(node.args[0])))
        if len(node.args) == 2 and not any(isinstance(a, ast.Starred) for a in node.args):
            new = copy.deepcopy(node)
            new.args = new.args[::-1]
            out.append((f"swap args of {name}", new))
        kws = [k for k in node.keywords if k.arg is not None]
        for a, b in zip(kws, kws[1:]):
            new = copy.deepcopy(node)
            ka = next(k for k in new.keywords if k.arg == a.arg)
            kb = next(k for k in new.keywords if k.arg == b.arg)
            ka.value, kb.value = kb.value, ka.value
            out.append((f"swap keyword values {a.arg} <-> {b.arg} of {name}", new))
    return out


def _skip_nodes(tree) -> set[int]:
    """ids of nodes never mutated: docstrings, annotations, decorators, __all__, imports."""
    skip: set[int] = set()

    def all_of(n):
        for sub in ast.walk(n):
            skip.add(id(sub))

    for n in ast.walk(tree):
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            all_of(n)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in n.decorator_list:
                all_of(d)
            if n.returns is not None:
                all_of(n.returns)
            for a in n.args.args + n.args.kwonlyargs + n.args.posonlyargs:
                if a.annotation is not None:
                    all_of(a.annotation)
        if isinstance(n, ast.AnnAssign):
            all_of(n.annotation)
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id in _SKIP_NAMES
                                              for t in n.targets):
            all_of(n)
        body = getattr(n, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            all_of(body[0])
    return skip


def _line_offsets(src: bytes) -> list[int]:
    starts, pos = [0], 0
    for line in src.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def enumerate_mutants(src: str) -> list[dict]:
    """Every mutant: id, line, description and the mutated source text."""
    tree = ast.parse(src)
    skip = _skip_nodes(tree)
    raw = src.encode()
    starts = _line_offsets(raw)

    def span(node):
        return (starts[node.lineno - 1] + node.col_offset,
                starts[node.end_lineno - 1] + node.end_col_offset)

    def splice(a, b, text):
        return (raw[:a] + text.encode() + raw[b:]).decode()

    mutants = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.expr):
            continue
        for desc, new in _expr_mutants(node):
            a, b = span(node)
            mutants.append({"line": node.lineno, "desc": desc,
                            "src": splice(a, b, "(" + ast.unparse(new) + ")")})
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_SWAP:
            new = copy.deepcopy(node)
            new.op = _BINOP_SWAP[type(node.op)]()
            a, b = span(node)
            mutants.append({"line": node.lineno, "desc": f"augmented {type(node.op).__name__}"
                            f" -> {type(new.op).__name__}", "src": splice(a, b, ast.unparse(new))})
        if not isinstance(node, ast.FunctionDef):
            continue
        assigned: set[str] = {a.arg for a in node.args.args + node.args.kwonlyargs}
        stmts = [s for s in ast.walk(node) if isinstance(s, (ast.Assign, ast.AugAssign))]
        for s in stmts:  # delete a re-assignment (the earlier value is used instead)
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if len(names) == 1 and len(targets) == 1 and (
                    isinstance(s, ast.AugAssign) or any(
                        isinstance(o, ast.Assign) and o is not s and o.lineno < s.lineno
                        and any(isinstance(t, ast.Name) and t.id == names[0] for t in o.targets)
                        for o in stmts) or names[0] in assigned):
                a, b = span(s)
                mutants.append({"line": s.lineno, "desc": f"delete `{ast.unparse(s)[:60]}`",
                                "src": splice(a, b, "pass")})
        final = node.body[-1]
        if isinstance(final, ast.Return) and isinstance(final.value, ast.Name):
            name = final.value.id
            defined = False
            for s in node.body[:-1]:
                if defined and not isinstance(s, ast.Expr):  # return before this statement
                    a = starts[s.lineno - 1]
                    indent = " " * s.col_offset
                    text = (raw[:a] + f"{indent}return {name}\n".encode() + raw[a:]).decode()
                    mutants.append({"line": s.lineno, "desc": f"early `return {name}` in "
                                    f"{node.name}", "src": text})
                if isinstance(s, (ast.Assign, ast.AnnAssign)) and any(
                        isinstance(t, ast.Name) and t.id == name
                        for t in (s.targets if isinstance(s, ast.Assign) else [s.target])):
                    defined = True
    mutants.sort(key=lambda m: (m["line"], m["desc"]))
    for i, m in enumerate(mutants):
        m["id"] = i
    return mutants


# ------------------------------------------------------------------ the worker process
def worker(result_fd: int, stop: bool = True) -> None:
    """Reads "run" lines on stdin; reloads the module and runs FAST_TESTS in-process."""
    import importlib

    import pytest

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    import vae_augment.distributions as module

    out = os.fdopen(result_fd, "w", buffering=1)

    class Collect:
        def __init__(self):
            self.failed = []

        def pytest_runtest_logreport(self, report):
            if report.failed:
                self.failed.append(report.nodeid)

    for line in sys.stdin:
        if line.strip() != "run":
            continue
        t0 = time.time()
        try:
            importlib.reload(module)
        except BaseException as e:  # noqa: BLE001 - any import failure kills the mutant
            out.write(json.dumps({"code": -1, "failed": [f"import: {type(e).__name__}"],
                                  "seconds": time.time() - t0}) + "\n")
            continue
        c = Collect()
        tests = [t for t in FAST_TESTS if (ROOT / t.split("::")[0]).exists()]
        code = pytest.main([*(["-x"] if stop else []), "-q", "-p", "no:cacheprovider",
                            "--no-header", "-W", "ignore", *tests], plugins=[c])
        out.write(json.dumps({"code": int(code), "failed": c.failed,
                              "seconds": time.time() - t0}) + "\n")


class Worker:
    def __init__(self, log, stop=True):
        r, w = os.pipe()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(w),
                                      *([] if stop else ["--all-failures"])],
                                     stdin=subprocess.PIPE, stdout=log, stderr=log,
                                     pass_fds=(w,), env=env, text=True, cwd=ROOT)
        os.close(w)
        self.r = os.fdopen(r, "r")

    def run(self, timeout: float):
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.r], [], [], timeout)
        if not ready:
            return None
        line = self.r.readline()
        return json.loads(line) if line else None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()  # this worker's own pid, started above
            self.proc.wait()
        self.r.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=400, help="sample this many mutants at most")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=90.0)
    ap.add_argument("--only", default="", help="comma-separated mutant ids")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--json", default="")
    ap.add_argument("--log", default="/tmp/mutants_dist.log", help="the worker's pytest output")
    ap.add_argument("--all-failures", action="store_true",
                    help="run every test on each mutant (no -x) and record all that fail")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        worker(args.worker, stop=not args.all_failures)
        return
    original = TARGET.read_text()
    mutants = enumerate_mutants(original)
    chosen = mutants
    if args.only:
        ids = {int(i) for i in args.only.split(",")}
        chosen = [m for m in mutants if m["id"] in ids]
    elif len(mutants) > args.max:
        chosen = sorted(random.Random(args.seed).sample(mutants, args.max), key=lambda m: m["id"])
    if args.list:
        for m in chosen:
            print(f"{m['id']:4d}  line {m['line']:4d}  {m['desc']}")
        print(f"{len(mutants)} mutants, {len(chosen)} chosen")
        return
    log = open(args.log, "w")  # noqa: SIM115
    results = []
    w = Worker(log, stop=not args.all_failures)
    t_start = time.time()
    try:
        base = w.run(args.timeout * 3)
        if base is None or base["code"] != 0:
            raise SystemExit(f"the original module fails FAST_TESTS: {base}")
        print(f"baseline: FAST_TESTS pass ({base['seconds']:.1f} s); "
              f"{len(mutants)} mutants, running {len(chosen)}", flush=True)
        for m in chosen:
            compile(m["src"], str(TARGET), "exec")  # a mutant must be valid Python
            TARGET.write_text(m["src"])
            res = w.run(args.timeout)
            if res is None:
                w.close()
                w = Worker(log, stop=not args.all_failures)
                res = {"code": -2, "failed": ["timeout"], "seconds": args.timeout}
            TARGET.write_text(original)
            killed = res["code"] != 0
            by = res["failed"][0] if res["failed"] else f"exit {res['code']}"
            results.append({"id": m["id"], "line": m["line"], "desc": m["desc"],
                            "killed": killed, "by": by if killed else None,
                            "failed": res["failed"],
                            "seconds": round(res["seconds"], 2)})
            print(f"{m['id']:4d} line {m['line']:4d} {m['desc'][:70]:70s} "
                  f"{'killed by ' + by.split('::')[-1][:60] if killed else 'SURVIVED'}",
                  flush=True)
    finally:
        TARGET.write_text(original)
        w.close()
        log.close()
    killed = sum(r["killed"] for r in results)
    print(f"\n{len(mutants)} generated, {len(results)} run: {killed} killed, "
          f"{len(results) - killed} survived ({time.time() - t_start:.0f} s)")
    for r in results:
        if not r["killed"]:
            print(f"  SURVIVED {r['id']:4d} line {r['line']:4d} {r['desc']}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
