"""`vae-augment` command line: fit, sample, balance, info (and more subcommands).

Errors caused by input or arguments print one line, ``vae-augment: error: ...``, to stderr and
exit with code 2; nothing is written. Progress goes to stderr, results to stdout (a stdout that
cannot be written, ``> /dev/full``, is one line and exit 120, as Python's own code for it).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence

__all__ = ["main", "build_parser", "register_command", "silence_native_stderr", "Terminated",
           "stopped_by_sigterm"]

# Modules that add subcommands with `register_command` (imported when the parser is built).
PLUGIN_MODULES = (
    "vae_augment.cli_score",     # encode, score
    "vae_augment.cli_evaluate",  # evaluate
)

_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def register_command(add: Callable[[argparse._SubParsersAction], None]):
    """Registers a function that adds a subparser (with ``func`` set) to the CLI."""
    _EXTRA_COMMANDS.append(add)
    return add


class _UsageError(Exception):
    """A bad command line (raised by `_Parser.error`, reported by `main` as one line)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become one line and exit code 2 from `main`.

    Flags are never abbreviated (as in Beam's PipelineOptions): ``--out x`` is an unknown flag,
    not ``--output-shards x`` with a puzzling "invalid int value"."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        prog = self.prog
        if message.startswith("unrecognized arguments") and self._subparsers is not None:
            # unknown flags are found by the top parser: point at the subcommand's help
            chosen = [a for a in getattr(self, "argv", sys.argv[1:]) if a in self._subcommands()]
            prog = f"{self.prog} {chosen[0]}" if chosen else prog
            extra = message.split(":", 1)[-1].split()
            if extra and all(os.path.exists(a) for a in extra):
                # `fit data/*.parquet ...`: the shell expanded the glob into many paths
                raise _UsageError(
                    f"{message}: these are files, as if the shell expanded a glob into "
                    f"several inputs; quote it (e.g. 'data/*.parquet') or pass the directory")
        raise _UsageError(f"{message} (see '{prog} --help')")

    def _print_message(self, message, file=None):
        # argparse ignores a failed write (`--help > /dev/full` printed nothing, exit 0);
        # flushed, so that a full disk fails here rather than at Python's exit
        if message:
            file = file or sys.stderr
            file.write(message)
            file.flush()

    def _subcommands(self) -> list[str]:
        return [name for action in self._subparsers._group_actions
                for name in getattr(action, "choices", None) or {}]


def partition_columns(text: str) -> list[str]:
    """``--partition-by``'s value: comma-separated column names (the CLI's and the Beam
    jobs')."""
    return [c.strip() for c in text.split(",") if c.strip()]


class _Extend(argparse.Action):
    """A repeatable flag whose values may also be comma lists: ``--partition-by a,b`` is
    ``--partition-by a --partition-by b``."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, (getattr(namespace, self.dest) or []) + values)


def output_args(p: argparse.ArgumentParser, example: str = "--partition-by is_synthetic") -> None:
    """The output positional and its layout flags, for every command that writes rows
    (`example`: a --partition-by of that command's output)."""
    p.add_argument("output", help="output Parquet file (a directory with --output-shards or "
                                  "--partition-by)")
    p.add_argument("--output-shards", type=int, default=None, help="write N files in a directory")
    p.add_argument("--partition-by", type=partition_columns, action=_Extend, default=None,
                   metavar="COLUMN",
                   help="write a directory partitioned by this column (repeatable, or "
                        "comma-separated): COLUMN=value/part-00000.parquet folders, as Spark "
                        f"writes them; e.g. {example}")


def _privacy_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--privacy-min-distance", type=float, default=None, metavar="D",
                   help="drop synthetic rows within distance D of a real row of their class "
                        "(0: exact copies only) and replace them from further blocks. D is a "
                        "Euclidean distance in the model's encoding divided by sqrt(number of "
                        "columns): numbers on their quantile-normal scale, categories one-hot "
                        "scaled so two different values are 1 apart, an image weighing as one "
                        "column (evaluate's privacy section reports the same distances)")


def _quiet_tensorflow(verbose: bool) -> None:
    # a process of our own: Keras on TensorFlow whatever the shell says (vae_augment._keras)
    os.environ["KERAS_BACKEND"] = "tensorflow"
    if not verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
        # TensorFlow's Python logger too (tf.function's retracing warnings: count heads'
        # log-probabilities at each row count of `evaluate`'s passes over an image model)
        import logging

        logging.getLogger("tensorflow").setLevel(logging.ERROR)
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning, module="keras")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)


def silence_native_stderr() -> Callable[[], None]:
    """Sends what C++ libraries write straight to fd 2 (TF/absl start-up logs, which ignore
    TF_CPP_MIN_LOG_LEVEL before absl is initialised) to /dev/null, while Python's `sys.stderr`
    (progress bars, the one-line error) keeps writing to the real stderr. Returns a function
    that restores both. Does nothing when `sys.stderr` is not fd 2 (e.g. captured in tests)."""
    try:
        if sys.stderr.fileno() != 2:
            return lambda: None
    except (AttributeError, OSError, ValueError):
        return lambda: None
    old = sys.stderr
    old.flush()
    real = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(os.dup(real), "w", buffering=1, encoding=old.encoding, errors=old.errors)

    def restore() -> None:
        sys.stderr.flush()
        sys.stderr.close()
        os.dup2(real, 2)
        os.close(real)
        sys.stderr = old

    return restore


def _keras_verbose(args) -> int:
    if args.quiet:
        return 0
    return 1 if sys.stderr.isatty() else 2


def _ignored_train_flags(args) -> list[str]:
    """The training flags given a value other than their default, in the parser's order."""
    flags = getattr(args, "_train_flags", {})
    effective = {"constraint": (None, [], ["auto"])}  # defaults that mean the same run

    def given(dest, default):
        value = getattr(args, dest)
        return value != default and value not in effective.get(dest, ())

    return [flag for dest, (flag, default) in flags.items() if given(dest, default)]


class _Recorded:
    """An argument group that also appends every action it adds to `actions`."""

    def __init__(self, group, actions: list[argparse.Action]):
        self.group, self.actions = group, actions

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        action = self.group.add_argument(*args, **kwargs)
        self.actions.append(action)
        return action


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from vae_augment.schema import COUNT_LIKELIHOODS, FLOAT_TENSORS

    actions: list[argparse.Action] = []
    g = _Recorded(p.add_argument_group("model and training"), actions)
    g.add_argument("--epochs", type=int, default=300, help="maximum epochs (early stopping) [300]")
    g.add_argument("--batch-size", type=int, default=256, help="training batch size, global: split between the replicas of a "
                        "multi-device strategy (rounded to a multiple of their number) [256]")
    g.add_argument("--latent-dim", type=int, default=16, help="latent dimensions [16]")
    g.add_argument("--hidden", default="256,256", help="hidden layer widths [256,256]")
    g.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate [1e-3]")
    g.add_argument("--patience", type=int, default=20,
                   help="epochs without a better validation ELBO (with a KL weight other than 1, "
                        "as the default's 0.5 from 2,000 rows: the bound trained), counted after "
                        "the KL warm-up, that stop training [20]")
    g.add_argument("--kl-warmup-epochs", type=int, default=10, help="KL warm-up epochs [10]")
    g.add_argument("--validation-split", type=float, default=0.1, metavar="FRACTION",
                   help="share of rows held out for the validation loss that early stopping "
                        "watches; none below 20 rows, and 0 watches the training loss [0.1]")
    g.add_argument("--beta", type=float, default=None,
                   help="KL weight in the training loss [by the table's rows: 1 up to 500, "
                        "0.5 from 2,000 or with a tensor column, in between falling with "
                        "log(rows); --unguided: 1.0]")
    g.add_argument("--latent-source", choices=("posterior", "prior"), default="posterior",
                   help="draw z from stored per-class posteriors or from the prior [posterior]")
    g.add_argument("--temperature", type=float, default=1.0,
                   help="scale of the latent noise when sampling [1.0]")
    preset = _Recorded(g.group.add_mutually_exclusive_group(), actions)
    preset.add_argument("--guided", action="store_true",
                        help="the guided setting, the defaults: --guide-iterations 50 "
                             "--candidates 8 --bank-keep 1 --dequantize --beta by the rows "
                             "--guide-quantile 0.4 (flags given beside it win)")
    preset.add_argument("--unguided", action="store_true",
                        help="the former defaults: --guide-iterations 0 "
                             "--candidates 1 --bank-keep 0.25 --no-dequantize --beta 1 "
                             "--guide-quantile 0.25 "
                             "(flags given beside it win). A faster fit, and balancing "
                             "generates about 3x faster; the balanced rows met 4 of the 9 "
                             "quality targets of benchmarks/RESULTS.md against 8")
    g.add_argument("--bank-keep", type=float, default=None,
                   help="share of each class's stored posteriors kept after training: the "
                        "ones the model places most firmly in their class [1 with the class "
                        "guide, else 0.25]")
    g.add_argument("--candidates", type=int, default=None,
                   help="most draws per synthetic row when balancing (and when sampling "
                        "with --guided). With the class guide a row is redrawn "
                        "only while the guide finds it less firmly in its class than most "
                        "real rows of the class; without it (--guide-iterations 0) each row "
                        "is the best of this many draws by the model's own class margin "
                        "(about candidates x n_classes times the generation cost). 1 turns "
                        "selection off [8 with the class guide, else 1]")
    g.add_argument("--guide-iterations", type=int, default=None,
                   help="boosting rounds of the class guide, a tree classifier of the real "
                        "rows fitted after training that decides which draws to redraw; 0: "
                        "no guide [50; --unguided: 0]")
    g.add_argument("--guide-quantile", type=float, default=None,
                   help="a draw passes when the guide's probability of its class is at least "
                        "this quantile of the real rows' probabilities [0.4; --unguided: "
                        "0.25]")
    g.add_argument("--num-components", type=int, default=1,
                   help="Gaussians per numeric column in the likelihood: above 1 a mixture, "
                        "for columns that sit on a few values or modes given the rest [1]")
    g.add_argument("--image-likelihood", default="binomial",
                   choices=list(COUNT_LIKELIHOODS),
                   help="pixels of integer images given z: binomial (better classifier "
                        "features) or beta_binomial (overdispersed, more realistic images) "
                        "[binomial]")
    g.add_argument("--float-tensors", default="auto", choices=list(FLOAT_TENSORS),
                   help="elements of tensors with a Normal head (float embeddings and "
                        "images, wide-range integers) given z: drawn from it (draw), its "
                        "mean (mean), or auto: drawn for 1-d tensors (embeddings), the mean "
                        "for images [auto]")
    g.add_argument("--class-balance", type=float, default=None, metavar="POWER",
                   help="weight each row's training loss by (1 / its class's frequency) ** "
                        "POWER: 0 every row alike, 1 every class alike (classes under 50 "
                        "rows weigh as 50); the decoder then models the rare classes it "
                        "generates more closely. The -ELBO figures early stopping watches "
                        "and reports are then class-weighted means too [0]")
    g.add_argument("--no-condition-every-layer", dest="condition_every_layer",
                   action="store_false", default=True,
                   help="feed the class to the decoder's first layer only, as models saved "
                        "before this option did (default: to every decoder layer and "
                        "likelihood head)")
    g.add_argument("--dequantize", dest="dequantize", action="store_true", default=None,
                   help="train on tied numeric values (integers, rounded floats, a column's "
                        "many zeros) spread uniformly over their quantile intervals, which "
                        "decode back to the same values, instead of at the intervals' "
                        "midpoints [on; --unguided: off]")
    g.add_argument("--no-dequantize", dest="dequantize", action="store_false",
                   help="turn --dequantize off")
    g.add_argument("--spike-share", type=float, default=None, metavar="SHARE",
                   help="give a numeric column's most frequent value (a zero-inflated "
                        "column's 0) its own yes/no indicator, drawn like a null, when it "
                        "holds at least this share of the column; the column's other values "
                        "keep the whole quantile-normal range. 0: no indicators [0]")
    g.add_argument("--jit", dest="jit", action="store_true", default=None,
                   help="force XLA compilation (default: on with a TPU or one GPU; off on CPU and "
                        "on several replicas, where Keras fails under MirroredStrategy)")
    g.add_argument("--no-jit", dest="jit", action="store_false", help="disable XLA compilation")
    g = _Recorded(p.add_argument_group("scale: devices, precision, streaming, checkpoints"),
                  actions)
    g.add_argument("--strategy", default=None,
                   choices=["auto", "default", "mirrored", "tpu", "multi-worker"],
                   help="tf.distribute strategy; auto = TPU if reachable, all GPUs if more "
                        "than one, else one device (the choice is logged) [default]")
    g.add_argument("--precision", default="float32",
                   choices=["float32", "mixed_float16", "mixed_bfloat16"],
                   help="Keras dtype policy; likelihood heads stay float32 [float32]")
    g.add_argument("--streaming", dest="streaming", action="store_true", default=None,
                   help="stream Parquet row groups through a shuffle buffer instead of loading "
                        "the data (default: only above 2,000,000 rows)")
    g.add_argument("--no-streaming", dest="streaming", action="store_false",
                   help="always load the data into memory")
    g.add_argument("--shuffle-buffer", type=int, default=65536,
                   help="rows in the streaming shuffle buffer [65536]")
    g.add_argument("--encoding", default=None, metavar="JSON",
                   help="encoding statistics to use instead of a pass over the data "
                        "(encoding.json from pipelines/fit_stats.py)")
    g.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="save a checkpoint every N training steps")
    g.add_argument("--checkpoint-dir", default=None,
                   help="checkpoint directory [MODEL_DIR/checkpoints]")
    g.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint (same final weights as an "
                        "uninterrupted run); starts afresh when there is none")
    g.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write TensorBoard logs (loss terms, per-dimension KL, sample grids)")
    g = _Recorded(p.add_argument_group("columns"), actions)
    g.add_argument("--exclude", action="append", default=[], metavar="COL",
                   help="column not to model (null in synthetic rows); repeatable")
    g.add_argument("--categorical", action="append", default=[], metavar="COL",
                   help="integer column to model as a category; repeatable")
    g.add_argument("--numeric", action="append", default=[], metavar="COL",
                   help="integer column to model as a number; repeatable")
    g.add_argument("--max-categories", type=int, default=200,
                   help="most distinct values of a categorical column [200]")
    g.add_argument("--constraint", action="append", default=[], metavar="'A <= B'",
                   help="an inequality between two numeric columns that every synthetic row "
                        "keeps; repeatable; 'auto' (the default): every one that holds in all "
                        "training rows and the columns' ranges alone would not keep, and "
                        "columns that are a linear function of another (a charge and its "
                        "minutes), recomputed in every row, categories held exactly where "
                        "a numeric column holds its most frequent value or is null (a plan "
                        "and its zero messages), set from it, categorical columns that are a "
                        "function of another (a region of its state), set from it, and class "
                        "null rules (a column null in every training row of a class, or in "
                        "none, is so in its generated rows); 'none': none of these")
    # the flags above, by dest: `balance` names the ones given when it reuses an artifact
    flags: dict[str, tuple[str, object]] = {}
    for a in actions:  # --jit/--no-jit share a dest; the first one's default holds
        name, default = flags.get(a.dest, ("", a.default))
        flags[a.dest] = (f"{name}/{a.option_strings[0]}" if name else a.option_strings[0], default)
    p.set_defaults(_train_flags=flags)


def _fit_kwargs(args) -> dict:
    from vae_augment.errors import VAEAugmentError
    from vae_augment.training import GUIDED, UNGUIDED, TrainConfig

    def preset(name):  # a flag given on the command line, else the preset's value, else default
        value = getattr(args, name)
        if value is not None:
            return value
        chosen = GUIDED if args.guided else UNGUIDED if args.unguided else {}
        return chosen.get(name, getattr(TrainConfig, name))

    try:
        hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
    except ValueError:
        raise VAEAugmentError(f"`--hidden` must be comma-separated ints, got {args.hidden!r}") from None
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "latent_dim": args.latent_dim,
        "hidden": hidden,
        "learning_rate": args.learning_rate,
        "patience": args.patience,
        "kl_warmup_epochs": args.kl_warmup_epochs,
        "validation_split": args.validation_split,
        "beta": preset("beta"),
        "latent_source": args.latent_source,
        "temperature": args.temperature,
        "candidates": preset("candidates"),
        "bank_keep": preset("bank_keep"),
        "num_components": args.num_components,
        "image_likelihood": args.image_likelihood,
        "float_tensors": args.float_tensors,
        "class_balance": preset("class_balance"),
        "condition_every_layer": args.condition_every_layer,
        "dequantize": preset("dequantize"),
        "spike_share": preset("spike_share"),
        "guide_iterations": preset("guide_iterations"),
        "guide_quantile": preset("guide_quantile"),
        "jit_compile": args.jit,
        "strategy": args.strategy,
        "precision": args.precision,
        "streaming": args.streaming,
        "shuffle_buffer": args.shuffle_buffer,
        "encoding": args.encoding,
        "checkpoint_every": args.checkpoint_every,
        "checkpoint_dir": args.checkpoint_dir,
        "resume": args.resume,
        "tensorboard": args.tensorboard,
        "exclude": args.exclude,
        "categorical": args.categorical,
        "numeric": args.numeric,
        "max_categories": args.max_categories,
        "constraints": args.constraint or "auto",
    }


def _null_label_rows(summary: dict) -> int:
    """Rows whose label is null: passed through, neither counted nor balanced."""
    return int(summary.get("rows_written", 0) - sum(summary["counts_after"].values()))


def _print_counts(summary: dict, out=None) -> None:
    out = out or sys.stdout
    rows = [("class", "before", "generated", "after")]
    for c, n in summary["counts_before"].items():
        name = str(c)
        if not name or name != name.strip() or not name.isprintable() or name == "(null label)":
            name = repr(c)  # a class "" or " yes " would be blank or look like "yes"
        rows.append((name, str(n), str(summary["generated"][c]), str(summary["counts_after"][c])))
    nulls = _null_label_rows(summary)
    if nulls > 0:  # rows whose label is null are passed through, neither counted nor balanced
        rows.append(("(null label)", str(nulls), "0", str(nulls)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))),
              file=out)


def cmd_fit(args) -> int:
    from vae_augment.api import fit

    kw = _fit_kwargs(args)
    with contextlib.redirect_stdout(sys.stderr):
        art = fit(args.input, label=args.label, model_dir=args.model_dir, seed=args.seed,
                  verbose=_keras_verbose(args), **kw)
    m = art.config["metrics"]
    print(json.dumps({"model_dir": args.model_dir, "classes": [str(c) for c in art.classes],
                      "epochs_run": m["epochs_run"], "best_epoch": m["best_epoch"],
                      "val_neg_elbo": m.get("val_neg_elbo"), "train_seconds": m["train_seconds"],
                      "global_step": m.get("global_step"), "streaming": m.get("streaming"),
                      # with --class-balance, the -ELBO figures are class-weighted means
                      **({"class_weighted_elbo": True} if m.get("class_weighted_elbo") else {}),
                      **_constraints_json(art.encoding)}))
    return 0


def _constraints_json(encoding) -> dict:
    """``{"constraints": ["A <= B", ...], "derived": ["T = a * S + b", ...], "links":
    ["C == 'v' <=> N == 0", ...], "dependencies": ["C = f(D)", ...], "class_nulls": ["C is
    null where y == 'b'", ...]}``, each when the encoding has any."""
    return {**({"constraints": [str(r) for r in encoding.relations]}
               if encoding.relations else {}),
            **({"derived": [str(d) for d in encoding.derived]} if encoding.derived else {}),
            **({"links": [str(k) for k in encoding.links]} if encoding.links else {}),
            **({"dependencies": [str(d) for d in encoding.dependencies]}
               if encoding.dependencies else {}),
            **({"class_nulls": texts} if (texts := encoding.class_null_texts()) else {})}


def cmd_sample(args) -> int:
    from vae_augment.api import sample
    from vae_augment.artifact import load_artifact
    from vae_augment.errors import VAEAugmentError
    from vae_augment.io import refuse_output

    if args.n < 0:
        raise VAEAugmentError(f"`--n` must be a non-negative integer, got {args.n}")
    refuse_output(args.output, args.overwrite, args.output_shards, args.partition_by)
    art = load_artifact(args.model_dir)
    classes = args.class_ or [str(c) for c in art.classes]
    counts = {art.classes[art.encoding.class_index(c)]: args.n for c in classes}
    if args.privacy_min_distance is not None and args.reference is None:
        raise VAEAugmentError("`--privacy-min-distance` needs `--reference` (the training data)")
    if args.reference is not None and args.privacy_min_distance is None:
        print("vae-augment: warning: --reference is used only with --privacy-min-distance; "
              "ignored", file=sys.stderr)
    stats: dict = {}
    rows = sample(art, counts, args.output, seed=args.seed, overwrite=args.overwrite,
                  output_shards=args.output_shards, partition_by=args.partition_by,
                  progress=None if not args.quiet else False,
                  privacy_min_distance=args.privacy_min_distance, reference=args.reference,
                  stats=stats, guided=args.guided)
    result = {"output": args.output, "rows_written": rows}
    if "privacy_dropped" in stats:
        result["privacy_dropped"] = sum(stats["privacy_dropped"].values())
    print(json.dumps(result))
    return 0


def cmd_balance(args) -> int:
    from vae_augment.api import balance, labelled_counts
    from vae_augment.balancing import parse_sampling_strategy
    from vae_augment.errors import InputError, VAEAugmentError

    if args.report:
        from vae_augment.evaluation import check_report_dir

        report, output = os.path.abspath(args.report), os.path.abspath(args.output)
        if report == output:
            raise VAEAugmentError(f"--report '{args.report}' is also the output; give the "
                                  f"report a directory of its own")
        if report.startswith(os.path.join(output, "")):  # a shards directory's folder
            raise VAEAugmentError(f"--report '{args.report}' is inside the output "
                                  f"'{args.output}'; give the report a directory of its own")
        check_report_dir(args.report, args.overwrite)  # before any training
    if args.utility_splits != 1 and not args.report:
        raise VAEAugmentError("--utility-splits is a setting of the report: give --report DIR")
    if args.utility_features != "standard" and not args.report:
        raise VAEAugmentError("--utility-features is a setting of the report: give --report DIR")
    if args.utility_splits < 1:
        raise VAEAugmentError(f"--utility-splits must be a whole number of at least 1, got "
                              f"{args.utility_splits}")
    # an existing artifact is sampled as it is: its training flags are ignored, and said so
    from vae_augment.artifact import holds_artifact

    has_model = bool(args.model_dir) and holds_artifact(args.model_dir)
    # with a model, an input of no rows gets an empty output (nothing to balance); training
    # on it, or a report of it, is an error
    try:
        counts = labelled_counts(args.input, args.label, allow_empty=has_model and not args.report)
    except InputError as exc:
        if has_model and args.report:
            raise InputError(f"{exc}: --report has nothing to evaluate") from None
        raise
    # no rows: a JSON strategy's keys are checked against the model's classes by `balance`
    strategy = parse_sampling_strategy(args.sampling_strategy,
                                       classes=list(counts) if counts else None)
    if args.report:
        _check_reportable(counts, strategy, args.sampling_strategy)  # before training and writing
    kw = None if has_model else _fit_kwargs(args)
    ignored = _ignored_train_flags(args) if kw is None else []
    if ignored:
        print(f"vae-augment: warning: {args.model_dir} exists, so balance samples that model "
              f"as it was trained and ignores {', '.join(ignored)}; give a new --model-dir "
              f"(or none) to train with them", file=sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):
        summary = balance(
            args.input, args.output, label=args.label, model_dir=args.model_dir,
            sampling_strategy=strategy, seed=args.seed, overwrite=args.overwrite,
            output_shards=args.output_shards, partition_by=args.partition_by,
            progress=None if not args.quiet else False, verbose=_keras_verbose(args),
            fit_kwargs=kw, privacy_min_distance=args.privacy_min_distance,
        )
    if not args.json:
        _print_counts(summary)
        if "privacy_dropped" in summary:
            print(f"privacy filter dropped {sum(summary['privacy_dropped'].values())} synthetic "
                  f"rows within distance {summary['privacy_min_distance']} of a real row "
                  f"(replaced)")
        print(f"wrote {summary['rows_written']} rows to {args.output}")
    report = None
    if args.report:
        from vae_augment.evaluation import evaluate

        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            report = evaluate(args.input, args.output, label=args.label,
                              model=summary["artifact"], report_dir=args.report,
                              seed=args.seed, progress=False if args.quiet else None,
                              overwrite=args.overwrite, utility_splits=args.utility_splits,
                              utility_features=args.utility_features)
        from vae_augment.cli_evaluate import print_findings, summary_line, warn_left_out

        warn_left_out(report)  # under --quiet too: it silences progress, not warnings
        print_findings(report)
        if not args.json:
            figures = {k: v for k, v in summary_line(report).items() if k != "report"}
            print(f"wrote evaluation report {report['files']['html']}: "
                  + ", ".join(f"{k} {v}" for k, v in figures.items()))
    if args.json:
        print(json.dumps(_balance_json(args, summary, report)))
    return 0


def _check_reportable(counts: dict, strategy, given: str) -> None:
    """`balance --report`'s own checks of the input, before anything is trained or written:
    `evaluate` needs 10 labelled real rows and a synthetic row, and found their lack only
    after the output was written (exit 2 with the output on disk, and the error named a
    SYNTHETIC argument `balance` has none of)."""
    from vae_augment.balancing import samples_to_generate
    from vae_augment.errors import InputError, VAEAugmentError
    from vae_augment.evaluation import MIN_REAL_ROWS

    labelled = sum(counts.values())
    if labelled < MIN_REAL_ROWS:
        raise InputError(f"--report needs at least {MIN_REAL_ROWS} input rows with a label "
                         f"to evaluate, "
                         f"got {labelled}; balance without --report")
    try:
        generate = samples_to_generate(counts, strategy)
    except VAEAugmentError:
        return  # `balance` names what is wrong with the strategy
    if not any(generate.values()):
        raise InputError(
            f"the input's classes {dict(counts)} already meet --sampling-strategy "
            f"{given}: balance would add no rows, so --report would have "
            f"no synthetic rows to evaluate; give another --sampling-strategy or drop --report")


def _balance_json(args, summary: dict, report: dict | None) -> dict:
    """`balance --json`: class keys as strings (JSON's), rows whose label is null counted."""
    def keyed(d):
        return {str(c): int(n) for c, n in d.items()}

    out = {"output": args.output, "rows_written": int(summary["rows_written"]),
           "counts_before": keyed(summary["counts_before"]),
           "generated": keyed(summary["generated"]),
           "counts_after": keyed(summary["counts_after"]),
           "null_label_rows": _null_label_rows(summary),
           "model_dir": args.model_dir}
    if "privacy_dropped" in summary:
        out["privacy_min_distance"] = summary["privacy_min_distance"]
        out["privacy_dropped"] = sum(summary["privacy_dropped"].values())
    if report is not None:
        out["report"] = report["files"]["html"]
    return out


def _tensors_json(encoding) -> dict:
    """`info`'s tensor columns: shape, likelihood, and the type the training data stored
    them as (what `sample` writes; a variable-length list is trained as a fixed-size one)."""
    if not encoding.tensors:
        return {}
    out = {}
    for s in encoding.tensors:
        stored = encoding.input_lists.get(s.name, encoding.schema.field(s.name).type)
        out[s.name] = {"shape": list(s.shape), "likelihood": s.likelihood,
                       "stored_as": str(stored)}
    return {"tensors": out}


def cmd_info(args) -> int:
    from vae_augment.artifact import read_artifact_meta

    encoding, config = read_artifact_meta(args.model_dir)
    metrics = config.get("metrics") or {}
    history = metrics.get("history")
    if args.history:  # what a plot needs, as one JSON line
        if not history:
            from vae_augment.errors import ArtifactError

            raise ArtifactError(f"the artifact in '{args.model_dir}' has no per-epoch history "
                                f"(it was saved before artifacts recorded it; refit to get one)")
        print(json.dumps({"best_epoch": metrics.get("best_epoch"), "history": history}))
        return 0
    if history:  # one line, not a number a line per epoch
        config = {**config, "metrics": {
            **config["metrics"], "history": {
                "epochs": max(len(v) for v in history.values()), "series": sorted(history),
                "see": "vae-augment info --history (every epoch's figures)"}}}
    info = {
        "label": encoding.label,
        "classes": {str(c): n for c, n in encoding.class_counts.items()},
        "features": {s.name: s.kind for s in encoding.specs},
        **_tensors_json(encoding),
        **_constraints_json(encoding),
        **config,
    }
    print(json.dumps(info, indent=2, default=str))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from vae_augment import __version__

    parser = _Parser(
        prog="vae-augment",
        description="Balance imbalanced Parquet data with a conditional VAE.",
    )
    parser.add_argument("--version", action="version", version=f"vae-augment {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show TensorFlow's logs")
    common.add_argument("--quiet", action="store_true",
                        help="no progress output (warnings and problems are still printed)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("fit", parents=[common], help="train a model and save its artifact")
    p.add_argument("input", help="Parquet file, directory or glob")
    p.add_argument("--label", required=True, help="class label column")
    p.add_argument("--model-dir", required=True, help="artifact directory to write")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    _add_train_args(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("sample", parents=[common], help="generate synthetic rows of the given classes (default: every class)")
    output_args(p)
    p.add_argument("--model-dir", required=True, help="artifact directory")
    p.add_argument("--class", dest="class_", action="append", metavar="CLASS",
                   help="class to generate; repeatable (default: every class)")
    p.add_argument("--n", type=int, required=True, help="rows per class")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--guided", action="store_true",
                   help="give each row the model's selection at generation, as `balance` "
                        "does: its class guide redraws the rows that sit less firmly in "
                        "their class than most real rows (about 3x slower). Default: one "
                        "plain draw per row, the faster rows and the harder to tell from "
                        "real ones")
    _privacy_arg(p)
    p.add_argument("--reference", default=None, metavar="INPUT",
                   help="the training data (Parquet file, directory or glob); needed by "
                        "--privacy-min-distance")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("balance", parents=[common],
                       help="write real rows plus synthetic rows that balance the classes")
    p.add_argument("input", help="Parquet file, directory or glob")
    output_args(p)
    p.add_argument("--label", required=True, help="class label column")
    p.add_argument("--model-dir", default=None,
                   help="reuse this artifact if it exists (training flags are then ignored, with a "
                        "warning), else train and save one here")
    p.add_argument("--sampling-strategy", default="auto",
                   help="auto | minority | 'not minority' | 'not majority' | all | float | "
                        "JSON {\"class\": count} | a .json file holding one [auto]")
    p.add_argument("--seed", type=int, default=0, help="random seed [0]")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output (and report, with --report)")
    _privacy_arg(p)
    p.add_argument("--report", default=None, metavar="DIR",
                   help="also evaluate the synthetic rows of this run (with its model) and "
                        "write DIR/report.json and DIR/report.html (see `evaluate`)")
    p.add_argument("--utility-splits", type=int, default=1, metavar="N",
                   help="with --report: average its utility classifiers over N stratified "
                        "splits of INPUT (see `evaluate --utility-splits`) [1]")
    from vae_augment.cli_evaluate import utility_features_arg

    utility_features_arg(p)
    p.add_argument("--json", action="store_true",
                   help="print the summary as one JSON object (class counts before, generated "
                        "and after; rows written; files) instead of a table")
    _add_train_args(p)
    p.set_defaults(func=cmd_balance)

    p = sub.add_parser("info", parents=[common], help="describe an artifact",
                       description="Print an artifact's label, classes, column kinds, "
                                   "constraints, training settings and metrics as JSON.")
    p.add_argument("--model-dir", required=True, help="artifact directory")
    p.add_argument("--history", action="store_true",
                   help="print only the training history instead, as one JSON line: every "
                        "epoch's loss, neg_elbo, recon, kl and their val_* twins, and the "
                        "best (kept) epoch, counted from 1")
    p.set_defaults(func=cmd_info)

    _load_plugins()
    for add in _EXTRA_COMMANDS:
        add(sub, common)
    return parser


def _load_plugins() -> None:
    """Imports modules that register extra subcommands (evaluate, encode, score, ...)."""
    import importlib

    for name in PLUGIN_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def _resume_hint(args) -> str:
    """After Ctrl-C in training with checkpoints: how to continue (outputs are written
    whole or not at all, so an interrupted run leaves none behind)."""
    if getattr(args, "func", None) not in (cmd_fit, cmd_balance):
        return ""
    from vae_augment.api import checkpoint_location
    from vae_augment.checkpoint import latest_checkpoint

    directory = checkpoint_location(args.model_dir, args.checkpoint_dir, args.checkpoint_every,
                                    args.resume)
    if directory is None:
        return ""
    path = latest_checkpoint(directory)
    if path is None:
        return ""
    return (f"; the same command with --resume continues from the newest checkpoint "
            f"({path})")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or `kill`'s stop), raised in the main thread as Ctrl-C is, so
    that a run stopped this way also removes its temporary files on the way out."""


@contextlib.contextmanager
def stopped_by_sigterm() -> Iterator[None]:
    """Inside, SIGTERM raises `Terminated` (when it would otherwise kill the process outright:
    Python's default, in the main thread); the previous handler comes back on exit."""
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def stop(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def _printable_stdout() -> Iterator[None]:
    """Inside, what stdout's encoding lacks prints escaped: results hold the data's class
    names, and under an ASCII or Latin-1 locale one of them failed the command (exit 1, a
    traceback) after its output was written."""
    stream = sys.stdout
    errors = getattr(stream, "errors", None)
    try:
        stream.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):  # not a text file (a StringIO); nothing to restore
        errors = None
    try:
        yield
        stream.flush()  # a full stdout fails here, as `_StdoutError`, not in the reconfigure
    finally:
        if errors is not None:
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors=errors)


class _StdoutError(Exception):
    """Writing to stdout failed (`> /dev/full`, a full disk); the `OSError` is its cause."""


class _Stdout:
    """`sys.stdout` while `main` runs: a write or flush that fails raises `_StdoutError`,
    told apart from an output file that cannot be written (exit 2, nothing written); a
    closed pipe's `BrokenPipeError` stays as it is."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def write(self, text):
        return self._call(self._stream.write, text)

    def flush(self):
        return self._call(self._stream.flush)

    @staticmethod
    def _call(method, *args):
        try:
            return method(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutError() from exc


def _drop_stdout() -> None:
    """Points stdout's descriptor at /dev/null: Python's own flush at exit would fail again
    (a traceback-like message, exit 120)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a captured stdout has no descriptor
        pass


def main(argv: Sequence[str] | None = None) -> int:
    stdout = sys.stdout
    if stdout is not None:  # None: started with stdout closed; print() writes nothing
        sys.stdout = _Stdout(stdout)
    try:
        with stopped_by_sigterm():
            try:
                return _main(argv)
            except Terminated:  # before or after `_main`'s own handling (parsing, printing)
                print("vae-augment: terminated", file=sys.stderr)
                return 143
            except KeyboardInterrupt:  # Ctrl-C while the parser's imports load
                print("vae-augment: interrupted", file=sys.stderr)
                return 130
    except BrokenPipeError:  # `vae-augment info ... | head`: the reader left, nothing to say
        _drop_stdout()
        return 141
    except _StdoutError as exc:  # `... > /dev/full`: the results are lost, not the files
        from vae_augment.io import os_reason

        print(f"vae-augment: error: cannot write to stdout: {os_reason(exc.__cause__)}",
              file=sys.stderr)
        _drop_stdout()
        return 120  # Python's own exit code for a stdout it cannot flush
    finally:
        sys.stdout = stdout


def _utf8_arg(arg: str) -> str:
    """`arg` as the UTF-8 text the shell passed: under a C locale with PYTHONUTF8=0 Python
    reads the command line as ASCII, ``--label étiquette`` came as '\\udcc3\\udca9tiquette'
    and matched no column of the (UTF-8) Parquet file; `arg` itself if its bytes are not
    UTF-8."""
    try:
        return arg.encode(sys.getfilesystemencoding(),
                          sys.getfilesystemencodeerrors()).decode("utf-8")
    except UnicodeError:
        return arg


# the arguments that name files or directories (their flags', or positionals', dest);
# --partition-by's columns name its output's folders
_PATH_ARGS = ("input", "output", "real", "synthetic", "model_dir", "report", "reference",
              "holdout", "dead_letter", "checkpoint_dir", "tensorboard", "encoding",
              "partition_by")


def _check_paths(args: argparse.Namespace, *, flags: bool = False) -> None:
    """A `_UsageError` for a non-ASCII path when Python's file names are not UTF-8 (a C
    locale with PYTHONUTF8=0): Python would encode it one way, pyarrow (always UTF-8)
    another, and the command would fail half-way with a traceback."""
    import codecs

    fs = codecs.lookup(sys.getfilesystemencoding()).name
    if fs == "utf-8":
        return
    paths = []
    for dest in _PATH_ARGS:
        value = getattr(args, dest, None)
        paths += [(dest, v) for v in (value if isinstance(value, list) else [value])]
    strategy = getattr(args, "sampling_strategy", None)
    if isinstance(strategy, str) and not strategy.lstrip().startswith("{"):
        paths.append(("sampling_strategy", strategy))  # a name, a number or a .json file
    for dest, path in paths:
        if isinstance(path, str) and not path.isascii():
            name = dest.upper() if not flags and dest in ("input", "output", "real",
                                                          "synthetic") else \
                f"`--{dest.replace('_', '-')}`"
            raise _UsageError(
                f"{name} {path!r} is not ASCII, and this Python encodes file names as '{fs}' "
                f"(a C locale with PYTHONUTF8=0): run with PYTHONUTF8=1 or LC_ALL=C.UTF-8")


def _main(argv: Sequence[str] | None) -> int:
    argv = [_utf8_arg(a) for a in (sys.argv[1:] if argv is None else argv)]
    parser = build_parser()
    try:
        parser.argv = argv
        args = parser.parse_args(argv)
        _check_paths(args)
    except _UsageError as exc:
        print(f"vae-augment: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    verbose = getattr(args, "verbose", False)
    _quiet_tensorflow(verbose)
    from vae_augment.errors import VAEAugmentError, cli_wording, one_line_warnings

    restore = (lambda: None) if verbose else silence_native_stderr()
    try:
        with cli_wording(), one_line_warnings("vae-augment"), _printable_stdout():
            return int(args.func(args) or 0)
    except VAEAugmentError as exc:
        msg = " ".join(str(exc).split())
        print(f"vae-augment: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # SIGTERM: exit 128 + 15, as a shell reports a process it stopped
        stopped, code = ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
        print(f"vae-augment: {stopped}{_resume_hint(args)}", file=sys.stderr)
        return code
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise  # a BrokenPipeError too: `main` says nothing of it
        # the machine's, not the program's: a full or read-only disk, a denied directory
        # (or file: read or written, so "access")
        where = f" '{exc.filename}'" if exc.filename else ""
        verb = "access" if exc.errno in (errno.EACCES, errno.EPERM) else "write"
        from vae_augment.io import os_reason  # pyarrow's strerror is a sentence

        print(f"vae-augment: error: cannot {verb}{where}: {os_reason(exc)}", file=sys.stderr)
        return 2
    finally:
        restore()


# OSErrors the CLI reports in one line (exit 2) rather than as a traceback
_DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


if __name__ == "__main__":
    # `python -m vae_augment.cli` runs this file as __main__; the plugin modules register
    # their commands (encode, score, evaluate) with `vae_augment.cli`, a second copy of it,
    # so run that copy's main
    from vae_augment.cli import main as _main

    sys.exit(_main())
