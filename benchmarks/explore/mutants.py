"""Hand-rolled mutation testing of one module: which single-token changes no test notices.

Applies one mutation at a time to ``vae_augment/<module>.py`` (in place, in the checkout this
script lives in), runs the module's fast tests on it with a timeout, records killed /
survived, and restores the original file (always: try/finally; the checked-in text is
written back byte for byte). Mutations, by the AST: comparison operators flipped
(< <= > >= == != in is), + - * / swapped, ``and`` / ``or`` swapped, ``not`` dropped, a unary
minus dropped, ``if`` conditions negated, integer constants n -> n - 1 (0 -> 1), float constants +1, True /
False flipped, min / max (and np.min / np.max, argmin / argmax, .min() / .max()) swapped,
``abs(x)`` -> ``x``, ``raise`` -> ``pass``, and a bare ``return`` (``return None``) put first
in each function (after its docstring).

Run from the repository root (the checkout under test must be the one imported)::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/explore/mutants.py balancing
    PYTHONPATH=$PWD .venv/bin/python benchmarks/explore/mutants.py fidelity
    PYTHONPATH=$PWD .venv/bin/python benchmarks/explore/mutants.py privacy
    # options: --list (the mutants only), --only 3,17 (those ids), --max N, --timeout S,
    #          --tests "tests/x.py tests/y.py::test_z" (instead of the module's default set),
    #          --out FILE (a JSON record of every mutant), --budget MINUTES (default 50:
    #          mutants are run constants last, and none is started past the budget)

The default test sets (``TESTS``) are the fast tests that reach the module: test_balancing.py
but its one test that trains a model, and for fidelity the tests of test_evaluation.py that
run `_fidelity` or its helpers on a few small tables (the whole file takes 150 s), after
tests/test_fidelity.py (exact figures on hand-made tables, a few seconds), and for
privacy the tests of test_evaluation.py that compute distances or the privacy section on
two 600-row tables (no model; the privacy filter's tests train one: slow), and for guide
the tests of test_guide.py that fit and walk trees on small arrays; test_fidelity.py,
test_privacy_units.py and test_guide_units.py (session 58, written for the survivors) run
first. A mutant
they leave alive is run against ``SLOW_TESTS`` too (a model trained, a full report), so a
survivor is one that none of these tests kills: equivalent, or a gap in the tests.
``kill PID`` stops a run and restores the module (SIGTERM is caught).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]

TESTS = {
    "balancing": [
        *[f"tests/test_balancing.py::{t}" for t in (  # exact ones first (-x stops early)
            "test_the_form_of_a_strategy_is_checked_against_the_models_classes",
            "test_a_class_count_must_be_a_non_negative_integer",
            "test_a_class_counted_zero_is_left_untouched",
        )],
        "tests/test_balancing.py",
        "--deselect", "tests/test_balancing.py::test_the_python_api_maps_a_dicts_keys_as_beam_does",
        "tests/test_schema_zoo.py::test_bool_classes_in_a_sampling_strategy_take_json_spelling",
    ],
    "fidelity": ["tests/test_fidelity.py", *[f"tests/test_evaluation.py::{t}" for t in (  # the fastest first (-x)
        "test_the_ks_complement_is_one_minus_the_ks_statistic",
        "test_the_tv_complement_compares_category_shares_without_nulls",
        "test_a_tensor_is_scored_by_the_mean_ks_complement_of_its_elements",
        "test_a_columns_score_is_the_worse_of_its_values_and_its_null_rate_gap",
        "test_the_association_measures_at_their_edges",
        "test_the_fidelity_summary_is_made_of_the_per_class_figures",
        "test_cramers_v_takes_bergsmas_correction_exactly",
        "test_cramers_v_is_bias_corrected",
        "test_correlation_ratio_is_bias_corrected",
        "test_null_rate_gap",
        "test_fidelity_is_also_given_over_the_classes_real_halves_scores",
        "test_evaluate_takes_dataframes",
        "test_lossless_type_differences_are_cast",
        "test_rows_with_a_null_label_are_left_out_with_a_warning",
        "test_classes_synthetic_rows_share_with_real_ones_are_checked",
        "test_null_tensor_rows_raise_no_warning_about_generating_them",
        "test_the_report_says_the_type_of_its_classes",
        "test_a_variable_length_image_column_is_compared_with_a_fixed_size_one",
        "test_a_report_on_huge_ints_half_floats_and_a_three_row_class",
        "test_a_category_score_is_the_same_in_every_process",
    )]],
    "privacy": ["tests/test_privacy_units.py", *[f"tests/test_evaluation.py::{t}" for t in (
        "test_near_copy_share_counts_ties_at_distance_zero",  # exact, on small arrays, first
        "test_a_column_of_200_values_and_nulls_is_not_bucketed",
        "test_distances_with_many_categories_are_the_dense_ones",
        "test_the_exact_copy_rate_counts_the_rows_of_classes_real_has",
        "test_the_exact_copy_search_reuses_the_real_train_one",
        "test_copies_are_graded_bad_not_good",
        "test_a_model_that_saw_real_test_is_told_apart",
        "test_ordinary_columns_are_not_bucketed",
        "test_classifier_features_of_a_column_of_many_categories_are_capped",
    )]],
    "guide": ["tests/test_guide_units.py", *[f"tests/test_guide.py::{t}" for t in (  # no model
        "test_fit_guide_without_signal_keeps_the_class_shares",
        "test_two_classes_take_one_tree_per_round",
        "test_fit_guide_learns_a_rule_and_tf_matches_a_numpy_walk",
        "test_guide_logits_walk_each_tree_level_by_level",
        "test_fit_guide_samples_at_most_its_row_cap",
        "test_guide_logits_compile_with_xla",
        "test_guided_preset_from_the_cli_and_python",
    )]],
    # constraints: parsing, discovery (relations, derived, links, dependencies), the JSON
    # round trip and the fit-stats job on small tables, no model (the TF one last: import)
    "constraints": ["tests/test_constraints_units.py", *[
        "tests/test_constraints.py::test_parse_relation_reads_both_directions_and_rejects_the_rest",
        "tests/test_derived.py::test_a_derived_formula_reads_as_written",
        "tests/test_derived.py::test_discovery_finds_the_derived_columns_and_only_them",
        "tests/test_derived.py::test_a_pair_is_derived_in_the_direction_its_rounding_shows",
        "tests/test_derived.py::test_a_column_a_few_units_off_its_source_is_not_derived",
        "tests/test_derived.py::test_a_chain_of_exact_columns_is_derived_from_the_column_that_keeps_every_grid",
        "tests/test_derived.py::test_values_near_the_float_limit_give_no_derived_column_and_no_overflow_warning",
        "tests/test_derived.py::test_a_derived_value_rounded_to_zero_is_written_as_zero_not_minus_zero",
        "tests/test_derived.py::test_derived_columns_travel_with_the_encoding_json",
        "tests/test_links.py::test_discovery_finds_the_linked_columns_and_only_them",
        "tests/test_links.py::test_links_travel_with_the_encoding_json",
        "tests/test_dependencies.py::test_discovery_finds_the_dependencies_and_only_them",
        "tests/test_dependencies.py::test_dependencies_travel_with_the_encoding_json",
        "tests/test_constraints.py::test_relation_stats_merge_equals_one_pass",
        "tests/test_constraints.py::test_discovery_finds_the_relation_that_holds_in_every_row_and_only_it",
        "tests/test_constraints.py::test_auto_leaves_out_a_relation_the_marginals_alone_keep",
        "tests/test_constraints.py::test_auto_leaves_out_a_relation_a_small_table_keeps_by_chance",
        "tests/test_constraints.py::test_relations_that_may_hold_by_chance_are_set_apart",
        "tests/test_constraints.py::test_resolve_constraints_names_the_wrong_column",
        "tests/test_constraints.py::test_relations_travel_with_the_encoding_json",
        "tests/test_constraints.py::test_decode_repairs_a_chain_of_relations_end_to_end",
        "tests/test_constraints.py::test_a_null_cell_is_never_constrained",
        "tests/test_constraints.py::test_cli_names_a_bad_constraint_in_one_line",
        "tests/test_constraints.py::test_fit_stats_job_names_a_column_found_categorical_in_one_line",
        "tests/test_constraints.py::test_fit_stats_job_takes_named_or_no_constraints_and_rejects_bad_ones",
        "tests/test_derived.py::test_fit_stats_job_finds_the_derived_columns_fit_would",
        "tests/test_links.py::test_fit_stats_job_finds_the_links_fit_would",
        "tests/test_constraints.py::test_spares_go_to_pending_rows_of_their_own_class_in_order",
    ]],
}
TESTS["encoding"] = [  # no model trained; the exact figures first (-x stops early)
    "tests/test_encoding_units.py",  # (session 59, written for the survivors)
    "tests/test_encoding.py",  # (its permuted fixed-shape tensor test, 4 s: in SLOW_TESTS)
    "--deselect",
    "tests/test_encoding.py::test_a_permuted_fixed_shape_tensor_is_modelled_in_its_stored_layout",
    *[f"tests/test_dequantize.py::{t}" for t in (
        "test_tie_table_marks_the_tied_columns_only", "test_no_ties_no_table",
        "test_fewer_rows_than_knots_are_not_ties",
        "test_dequantized_values_decode_to_the_same_values",
        "test_dequantized_marginals_are_standard_normal")],
    *[f"tests/test_spikes.py::{t}" for t in (
        "test_the_large_tie_gets_an_indicator",
        "test_layout_counts_the_indicators_after_the_nulls", "test_encoding_round_trips_exactly",
        "test_the_rest_of_the_column_gets_the_whole_normal_range",
        "test_decoding_follows_the_indicator",
        "test_dequantization_leaves_the_spike_rows_and_decodes_exactly",
        "test_json_keeps_the_spikes_and_reads_older_files", "test_spike_share_is_validated")],
    *[f"tests/test_class_nulls.py::{t}" for t in (
        "test_the_rules_come_from_the_class_null_counts", "test_a_few_rows_are_not_evidence_enough",
        "test_merged_partial_statistics_count_like_one_pass",
        "test_old_encodings_and_constraints_none_have_no_rule")],
    *[f"tests/test_constraints.py::{t}" for t in (
        "test_relations_travel_with_the_encoding_json",
        "test_decode_repairs_a_row_that_breaks_a_relation_on_the_left_columns_grid",
        "test_decode_repairs_a_chain_of_relations_end_to_end",
        "test_a_null_cell_is_never_constrained",
        "test_spares_go_to_pending_rows_of_their_own_class_in_order",
        "test_a_model_that_seldom_breaks_a_relation_still_fills_the_edge")],
    "tests/test_links.py::test_links_travel_with_the_encoding_json",
    "tests/test_dependencies.py::test_dependencies_travel_with_the_encoding_json",
    *[f"tests/test_derived.py::{t}" for t in (
        "test_derived_columns_travel_with_the_encoding_json",
        "test_a_derived_value_rounded_to_zero_is_written_as_zero_not_minus_zero")],
    *[f"tests/test_float_tensors.py::{t}" for t in (
        "test_encodings_before_the_option_keep_their_layout_and_means",
        "test_sample_features_follows_the_layout_unless_told",
        "test_other_float_tensors_stay_normal_and_merged_stats_keep_the_grid")],
    "tests/test_binomial.py::test_with_count_likelihood_copies_and_leaves_other_heads",
    *[f"tests/test_temporal.py::{t}" for t in (
        "test_the_encoding_counts_units_and_merged_statistics_agree",
        "test_wrong_time_types_and_categories_are_errors",
        "test_string_view_columns_are_modelled_as_the_large_strings_they_are_read_as")],
    *[f"tests/test_input_layouts.py::{t}" for t in (
        "test_a_binary_view_column_is_refused_by_its_own_type",
        "test_integers_cast_to_a_narrower_type_keep_their_nulls")],
    *[f"tests/test_schema_zoo.py::{t}" for t in (
        "test_bool_classes_take_command_line_spelling",
        "test_bool_classes_in_a_sampling_strategy_take_json_spelling",
        "test_null_fixed_size_lists_are_named_as_pyarrows_limit_not_corruption")],
]
# the slower tests that reach the module (a model trained, a full report): run on the
# mutants the fast ones leave alive only, so that a survivor is one no test here kills
SLOW_TESTS = {
    "balancing": ["tests/test_balancing.py::test_the_python_api_maps_a_dicts_keys_as_beam_does"],
    "fidelity": [f"tests/test_evaluation.py::{t}" for t in (
        "test_fidelity_has_a_real_vs_real_reference_per_class",
        "test_same_distribution_scores_well_and_shift_scores_badly",
        "test_a_column_of_many_values_only_in_synthetic_is_scored_not_left_out",
        "test_exact_copies_are_counted",
    )],
    # the privacy filter (a model trained: `mixed_artifact`) and a CLI report of REAL on itself
    "privacy": [
        *[f"tests/test_reliability.py::test_privacy_filter_{t}" for t in (
            "balance", "replaces_from_further_blocks", "nothing_dropped_same_bytes",
            "bounded_attempts", "fills_a_class_at_a_high_drop_rate",
            "refuses_a_reference_it_cannot_use", "leaves_out_reference_rows_of_unseen_categories",
            "failure_says_how_far_the_draws_lay")],
        "tests/test_evaluation.py::test_exact_copies_are_counted",
    ],
    # a small guided model (`guided`, about 10 s) fitted, saved, loaded and sampled
    "guide": [f"tests/test_guide.py::{t}" for t in (
        "test_fit_trains_a_guide_and_sets_held_out_floors",
        "test_guide_fits_run_at_once_to_the_same_trees",
        "test_guided_generation_redraws_rows_under_the_floor",
        "test_a_zero_floor_or_one_candidate_is_the_plain_draw",
        "test_guide_survives_save_and_load_and_legacy_configs_have_none",
        "test_guide_fit_shows_a_progress_bar_of_its_rounds",
    )],
    # every test of the four files (the ones that train a small model: loans, calls, plans,
    # regions; about 80 s in all)
    "constraints": ["tests/test_constraints.py", "tests/test_derived.py", "tests/test_links.py",
                    "tests/test_dependencies.py"],
}

# small models fitted and sampled, and the tables of other layouts through the CLI and Beam
SLOW_TESTS["encoding"] = [
    "tests/test_encoding.py::test_a_permuted_fixed_shape_tensor_is_modelled_in_its_stored_layout",
    "tests/test_properties.py::test_real_row_path_is_exact",
    "tests/test_spikes.py::test_fit_and_sample_with_spike_share",
    "tests/test_dequantize.py::test_fit_dequantizes_when_asked",
    "tests/test_class_nulls.py::test_fit_and_info_name_the_rules",
    "tests/test_temporal.py::test_a_grid_off_the_epochs_is_kept",
    "tests/test_float_tensors.py::test_float_images_on_a_grid_get_a_count_head_and_stay_on_it",
    "tests/test_input_layouts.py::test_a_model_takes_numbers_of_another_width_and_writes_them_so",
]

# the order mutants are run in: with a time budget, the constants are the ones left out
_PRIORITY = ["cmp", "boolop", "unary", "binop", "name", "attr", "abs", "raise", "ifnot",
             "return", "const"]

_CMP_SWAPS = {
    ast.Lt: (ast.LtE, ast.GtE), ast.LtE: (ast.Lt, ast.Gt), ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,), ast.NotIn: (ast.In,), ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}
_BIN_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
              ast.FloorDiv: ast.Mult, ast.Pow: ast.Mult}
_NAME_SWAPS = {"min": "max", "max": "min", "argmin": "argmax", "argmax": "argmin"}


def _sites(tree: ast.AST):
    """(node path, kind, payload, description) of every mutation, in a fixed order."""
    out = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                for new in _CMP_SWAPS.get(type(op), ()):
                    out.append((node, "cmp", (k, new), line,
                                f"{type(op).__name__} -> {new.__name__}"))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAPS:
            new = _BIN_SWAPS[type(node.op)]
            out.append((node, "binop", new, line, f"{type(node.op).__name__} -> {new.__name__}"))
        elif isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            out.append((node, "boolop", new, line, f"{type(node.op).__name__} -> {new.__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            out.append((node, "unary", None, line, f"drop {type(node.op).__name__}"))
        elif isinstance(node, ast.If):
            out.append((node, "ifnot", None, line, "negate if"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            new = node.value - 1 if node.value > 0 else node.value + 1  # one per constant
            out.append((node, "const", new, line, f"{node.value} -> {new}"))
        elif isinstance(node, ast.Constant) and type(node.value) is float:
            out.append((node, "const", node.value + 1.0, line,
                        f"{node.value!r} -> {node.value + 1.0!r}"))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            out.append((node, "const", not node.value, line, f"{node.value} -> {not node.value}"))
        elif isinstance(node, ast.Name) and node.id in _NAME_SWAPS:
            out.append((node, "name", _NAME_SWAPS[node.id], line,
                        f"{node.id} -> {_NAME_SWAPS[node.id]}"))
        elif isinstance(node, ast.Attribute) and node.attr in _NAME_SWAPS:
            out.append((node, "attr", _NAME_SWAPS[node.attr], line,
                        f".{node.attr} -> .{_NAME_SWAPS[node.attr]}"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "abs" and len(node.args) == 1):
            out.append((node, "abs", None, line, "abs(x) -> x"))
        elif isinstance(node, ast.Raise) and node.exc is not None:
            out.append((node, "raise", None, line, "raise -> pass"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((node, "return", None, line, f"return None first in {node.name}()"))
    return out


class _Replace(ast.NodeTransformer):
    def __init__(self, target, kind, payload):
        self.target, self.kind, self.payload = target, kind, payload

    def visit(self, node):
        if node is not self.target:
            return self.generic_visit(node)
        k, p = self.kind, self.payload
        if k == "cmp":
            node.ops[p[0]] = p[1]()
        elif k == "binop":
            node.op = p()
        elif k == "boolop":
            node.op = p()
        elif k == "unary":
            return node.operand
        elif k == "ifnot":
            node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
        elif k == "const":
            node.value = p
        elif k == "name":
            node.id = p
        elif k == "attr":
            node.attr = p
        elif k == "abs":
            return node.args[0]
        elif k == "raise":
            return ast.Pass()
        elif k == "return":
            body = node.body
            doc = (body and isinstance(body[0], ast.Expr)
                   and isinstance(body[0].value, ast.Constant)
                   and isinstance(body[0].value.value, str))
            node.body = body[:1] + [ast.Return(value=None)] + body[1:] if doc else \
                [ast.Return(value=None)] + body
        return node


def mutants(source: str, only=None):
    """[(id, line, description, mutated source)] of `source`, in a fixed order; `only`: a
    set of ids, the others not made (a large module's mutants take minutes to unparse)."""
    tree = ast.parse(source)
    base = ast.unparse(tree)
    out = []
    for i, (_, kind, payload, line, desc) in enumerate(_sites(tree)):
        if only is not None and i not in only:
            continue
        copied = copy.deepcopy(tree)  # the i-th site of the copy is the same node
        target = _sites(copied)[i][0]
        new = ast.unparse(ast.fix_missing_locations(_Replace(target, kind, payload).visit(copied)))
        if new != base:
            out.append((i, line, desc, new, kind))
    out.sort(key=lambda m: (_PRIORITY.index(m[4]), m[0]))
    return [m[:4] for m in out]


def run_tests(tests, timeout):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    t0 = time.time()
    try:
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "killed(timeout)", time.time() - t0, ""
    tail = [ln for ln in r.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))][:1]
    status = "survived" if r.returncode == 0 else "killed"
    if r.returncode not in (0, 1):  # an error collecting, an interrupted run: say so
        status = f"killed(rc={r.returncode})"
    return status, time.time() - t0, tail[0] if tail else ""


def _clear_pyc(path: pathlib.Path):
    for p in (path.parent / "__pycache__").glob(path.stem + ".*.pyc"):
        p.unlink()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", choices=sorted(TESTS))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--max", type=int, default=None,
                    help="run at most N of the mutants (default: all; the rest are said)")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--tests", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--no-slow", action="store_true",
                    help="survivors of the fast tests are not run against SLOW_TESTS")
    ap.add_argument("--budget", type=float, default=50,
                    help="minutes: no mutant is started after them (the rest: 'not run')")
    args = ap.parse_args(argv)

    path = REPO / "vae_augment" / f"{args.module}.py"
    original = path.read_bytes()
    tests = args.tests.split() or TESTS[args.module]
    slow = [] if args.tests or args.no_slow else SLOW_TESTS[args.module]
    keep = {int(x) for x in args.only.split(",")} if args.only else None
    found = mutants(original.decode("utf-8"), keep)
    if args.max is not None and len(found) > args.max:
        print(f"--max {args.max}: {len(found) - args.max} of {len(found)} mutants left out", flush=True)
        found = found[: args.max]
    if args.list:
        for i, line, desc, _ in found:
            print(f"#{i:<4} line {line:<4} {desc}")
        print(f"{len(found)} mutants")
        return 0

    import vae_augment  # the checkout under test must be the one imported

    assert pathlib.Path(vae_augment.__file__).resolve().parent == path.parent, vae_augment.__file__
    records = []
    # `kill PID` (a background job ignores SIGINT) restores the module too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))
    try:
        path.write_text(ast.unparse(ast.parse(original.decode("utf-8"))))  # the unmutated
        _clear_pyc(path)                                                   # text, unparsed
        status, secs, why = run_tests(tests + slow, args.timeout * 3)
        print(f"baseline (unparsed, unmutated): {status} in {secs:.1f} s {why}", flush=True)
        if status != "survived":
            print("the tests fail without a mutation: fix that first")
            return 1
        t_start = time.time()
        for i, line, desc, src in found:
            if time.time() - t_start > args.budget * 60:
                records.append({"id": i, "line": line, "mutation": desc, "status": "not run"})
                continue
            path.write_text(src)
            _clear_pyc(path)
            status, secs, why = run_tests(tests, args.timeout)
            if status == "survived" and slow:
                status, more, why = run_tests(slow, args.timeout)
                secs += more
                status = status if status == "survived" else status + "(slow)"
            records.append({"id": i, "line": line, "mutation": desc, "status": status,
                            "seconds": round(secs, 1), "first_failure": why})
            print(f"#{i:<4} line {line:<4} {desc:<40} {status:<16} {secs:5.1f} s  {why[:90]}",
                  flush=True)
    finally:
        path.write_bytes(original)
        _clear_pyc(path)
    killed = sum(r["status"].startswith("killed") for r in records)
    survived = [r for r in records if r["status"] == "survived"]
    not_run = sum(r["status"] == "not run" for r in records)
    print(f"\n{args.module}: {len(records)} mutants, {killed} killed, {len(survived)} "
          f"survived, {not_run} not run (past the budget)")
    for r in survived:
        print(f"  SURVIVED #{r['id']} line {r['line']}: {r['mutation']}")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
