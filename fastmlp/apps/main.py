"""Command line: ``fastmlp demo | train | predict | bench | info`` (also ``python -m fastmlp ...``)."""
import argparse
import os
import re
import sys

from .._core import version as _core_version
from ..info import build_info
from ..vocabulary import ACTIVATIONS, DTYPES, OPTIMIZERS
from . import plots
from .bench import run_bench
from .bench_regions import run_regions_bench
from .bench_sweep import run_sweep
from .cli import LOSS_CHOICES, run_predict, run_train
from .demo import SECTIONS, run_demo
from .files import CLIError, GuardedStdout, StdoutError, check_output, stdout_failed
from .tabular import INSTALL_CLI


class UsageError(Exception):
    """A command line argparse refused: main prints it as one line and returns 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its refusals as one line in the style of the commands' own errors: ``fastmlp train:
    --activation 'softplus': expected one of ('identity', 'relu', 'sigmoid', 'tanh')``."""

    def error(self, message):
        m = re.match(r"argument (\S+?)(?:/\S+)?: invalid choice: (.*?) \(choose from (.*)\)$", message)
        if m:
            choices = tuple(c.strip().strip("'") for c in m.group(3).split(","))
            message = f"{m.group(1)} {m.group(2)}: expected one of {choices}"
        raise UsageError(f"{self.prog}: {message}")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in -h, except those that are None or False (nothing to show)."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser():
    parser = _Parser(prog="fastmlp", description="fastmlp: multi-layer perceptrons in C")
    parser.add_argument("--version", action="version", version=f"fastmlp {_core_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add = sub.add_parser
    sub.add_parser = lambda *a, **k: _add(*a, formatter_class=_Formatter, **k)

    demo = sub.add_parser(
        "demo", help="train the source documents' networks on built-in data and print a results table",
        description="Train the networks of the source documents on built-in data and print a results table. "
                    "With no DEMO: " + ", ".join(s for s in SECTIONS if s not in ("mnist", "regions"))
                    + " (mnist needs --data; regions is named only).")
    demo.add_argument("demos", nargs="*", metavar="DEMO", help=f"{', '.join(SECTIONS)} or all")
    demo.add_argument("--seed", type=int, default=0, help="seed of every model (data sets are fixed)")
    demo.add_argument("--quick", action="store_true", help="smaller data and fewer epochs (a smoke test)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.add_argument("--plot", metavar="DIR", help="write PNG figures into DIR (needs fastmlp[plot])")
    demo.add_argument("--data", metavar="DIR", help="folder with the MNIST IDX files (for the mnist demo)")
    demo.set_defaults(func=run_demo)

    train = sub.add_parser(
        "train", help="train a network on your own data (.npz with X and y, or CSV) and save it",
        description="Train an MLP on X, y from an .npz file (arrays X and y) or a CSV file (one label column, "
                    "the rest features; a header row is detected) and save it with model.save. CSV files are "
                    f"read with pandas: {INSTALL_CLI}.")
    train.add_argument("data", help="training data: .npz with arrays X and y, or .csv")
    train.add_argument("--label", help="CSV label column: a header name or a 0-based index (negative from the end);"
                                       " default: the last column")
    train.add_argument("--delimiter", help="CSV delimiter, one character (default: detected among , ; tab and "
                                           "space)")
    cols = train.add_mutually_exclusive_group()
    cols.add_argument("--drop", metavar="COL[,COL]", help="columns that are not features (an ID column): names "
                                                         "or 0-based indices")
    cols.add_argument("--features", metavar="COL[,COL]", help="the feature columns to use (default: all but the "
                                                             "label and --drop)")
    shape = train.add_mutually_exclusive_group()
    shape.add_argument("--layers", help="all layer sizes, e.g. 64,128,10 (must match the data)")
    shape.add_argument("--hidden", default=None, help="hidden layer sizes only, e.g. 128 or 128,64 (default 64)")
    train.add_argument("--activation", default="relu", choices=ACTIVATIONS, help="hidden activation")
    train.add_argument("--loss", default="auto", choices=LOSS_CHOICES,
                       help="auto (default): integer or text labels give softmax_ce, numbers mse")
    train.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, help="update rule")
    train.add_argument("--epochs", type=int, default=20, help="passes over the training rows")
    train.add_argument("--batch-size", type=int, default=32, help="rows per step")
    train.add_argument("--lr", type=float, default=0.001, help="learning rate")
    train.add_argument("--weight-decay", type=float, default=0.0, help="L2 on the weights")
    train.add_argument("--val", type=float, default=0.2, help="validation fraction of the (shuffled) rows; 0: none")
    train.add_argument("--standardize", action="store_true",
                       help="scale every feature to mean 0, std 1 (saved with the model, applied by predict)")
    train.add_argument("--dtype", default="float32", choices=DTYPES, help="the weights' precision")
    train.add_argument("--seed", type=int, default=0, help="weights, shuffling and the validation split (an int >= 0)")
    train.add_argument("--out", default="model.npz", help="where to save the model (.npz appended if missing)")
    train.add_argument("--force", action="store_true", help="replace --out if it exists")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=run_train)

    predict = sub.add_parser(
        "predict", help="predict with a saved model and write the predictions as CSV",
        description="Load a model saved by `fastmlp train` (or MLP.save) and write its predictions for DATA. A "
                    "CSV with a header row is matched to the training columns by name (in any order); without "
                    "one, by position.")
    predict.add_argument("model", help="model file (.npz written by MLP.save / fastmlp train)")
    predict.add_argument("data", help=".npz with an array X, or .csv with the feature columns")
    predict.add_argument("--out", help="output CSV, written atomically (default: standard output)")
    predict.add_argument("--force", action="store_true", help="replace --out if it exists")
    predict.add_argument("--drop", metavar="COL[,COL]", help="CSV columns that are not features (an ID column)")
    predict.add_argument("--label", help="a CSV label column to drop (default: the training label's name if the "
                                         "header has it)")
    predict.add_argument("--delimiter", help="CSV delimiter, one character (default: detected)")
    predict.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    predict.set_defaults(func=run_predict)

    sub.add_parser("info", help="print how the C core was built",
                   description="Print how the C core was built: version, compiler, SIMD level, OpenMP and the "
                               "thread count.").set_defaults(func=_info)

    bench = sub.add_parser("bench", help="time fastmlp against numpy, PyTorch and scikit-learn in one process",
                           description="Time fastmlp's kernels, a training step, an epoch and inference against "
                                       "numpy, PyTorch and scikit-learn (those installed) in one process, and print "
                                       "the table with the speed-up goals.")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller epoch")
    bench.add_argument("--reps", type=int, default=None, help="interleaved repetitions per case (median taken; "
                                                                    "default: by --quick)")
    bench.add_argument("--epoch-samples", type=int, default=None, help="samples in the epoch case (60000)")
    bench.add_argument("--threads", default=None, help="comma-separated thread counts for the scaling rows (2)")
    bench.add_argument("--section", choices=("kernels", "sklearn", "regions"), default=None,
                       help="kernels (default): the kernel, step, epoch and inference table; sklearn: scikit-learn's "
                            "MLP estimators against fastmlp's, fit time and held-out score (needs scikit-learn); "
                            "regions: region enumeration, plane geometry against the LP path, to_shallow against "
                            "the number of neurons, n-D LPs per region (needs scipy)")
    bench.add_argument("--sweep", action="store_true", help="float32 forward/backward products and the training "
                       "step over a grid of widths x batches against numpy and PyTorch (--quick: a small grid)")
    bench.add_argument("--widths", default=None, help="--sweep: comma-separated widths (64,256,1024,2048,4096)")
    bench.add_argument("--batches", default=None, help="--sweep: comma-separated batches (1,16,64,256,1024,4096)")
    bench.add_argument("--kinds", default=None, help="--sweep: some of fwd,bwd,step (all three)")
    bench.add_argument("--cell-seconds", type=float, default=None, help="--sweep: about this long per cell "
                                                                          "(2; --quick 0.5)")
    bench.add_argument("--clock", choices=("thread", "wall"), default=None, help="--sweep: time this thread's "
                       "CPU time (default; all runs on one thread) or the elapsed time")
    bench.add_argument("--plot", default=None, help="--sweep: write a heat map of the ratio to this PNG "
                                                     "(needs matplotlib)")
    bench.add_argument("--force", action="store_true", help="--sweep: replace the --plot file if it exists")
    bench.set_defaults(func=_bench)
    return parser


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    stdout = sys.stdout
    sys.stdout = GuardedStdout(stdout)
    try:
        rc = args.func(args) or 0
        sys.stdout.flush()
        return rc
    except StdoutError as exc:      # `fastmlp train ... > /dev/full`
        return stdout_failed(args.command, exc.args[0])
    except KeyboardInterrupt:
        print(f"fastmlp {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # `fastmlp predict ... | head`: the reader left; say nothing more
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    finally:
        if isinstance(sys.stdout, GuardedStdout):
            sys.stdout = stdout


#: the options each kind of bench reads (besides --quick): any other one given is refused, not ignored
_BENCH_OPTIONS = {"kernels": ("reps", "epoch_samples", "threads"), "sklearn": (), "regions": (),
                  "sweep": ("reps", "widths", "batches", "kinds", "cell_seconds", "clock", "plot", "force")}
_BENCH_FLAGS = ("reps", "epoch_samples", "threads", "widths", "batches", "kinds", "cell_seconds", "clock", "plot",
                "force", "section")


def _bench(args):
    mode = "sweep" if args.sweep else (args.section or "kernels")
    for name in _BENCH_FLAGS:
        if name == "section" and mode != "sweep":
            continue  # --section names the bench itself; it conflicts with --sweep only
        if name not in _BENCH_OPTIONS[mode] and getattr(args, name) not in (None, False):
            what = "--sweep" if mode == "sweep" else f"--section {mode}"
            print(f"fastmlp bench: --{name.replace('_', '-')} does nothing with {what}; leave it out")
            return 2
    try:
        threads = tuple(int(t) for t in (args.threads or "2").split(","))
    except ValueError:
        print(f"fastmlp bench: --threads expects comma-separated integers, got {args.threads!r}")
        return 2
    if args.sweep:
        if args.force and not args.plot:
            print("fastmlp bench: --force replaces the --plot file; without --plot it does nothing, leave it out")
            return 2
        try:
            if args.plot:
                check_output(args.plot, [], args.force, option="--plot")  # before the sweep's minutes, not after
                plots.require()  # matplotlib too: the heat map is drawn only after the sweep
            widths = tuple(int(t) for t in args.widths.split(",")) if args.widths else None
            batches = tuple(int(t) for t in args.batches.split(",")) if args.batches else None
            run_sweep(widths, batches, tuple((args.kinds or "fwd,bwd,step").split(",")), quick=args.quick,
                      cell_seconds=args.cell_seconds, reps=args.reps, plot=args.plot, clock=args.clock or "thread")
        except (ValueError, CLIError, ImportError) as exc:
            print(f"fastmlp bench --sweep: {exc}")
            return 2
        return 0
    if args.section == "regions":
        run_regions_bench(quick=args.quick)
        return 0
    if args.section == "sklearn":
        from .bench_sklearn import run_sklearn_bench
        run_sklearn_bench(quick=args.quick)
        return 0
    run_bench(quick=args.quick, reps=args.reps, epoch_samples=args.epoch_samples, threads=threads)
    return 0


def _info(args):
    for key, value in build_info().items():
        print(f"{key:12s} {value}")


if __name__ == "__main__":
    sys.exit(main())
