"""Command line: ``fastmlp demo`` (also ``python -m fastmlp demo``)."""
import argparse
import sys


def _demo(args):
    from .demo import run_demo

    return run_demo(args)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastmlp", description="fastmlp: multi-layer perceptrons in C")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train small networks on built-in data and print a results table")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    sub.add_parser("info", help="print how the C core was built").set_defaults(func=_info)
    bench = sub.add_parser("bench", help="time fastmlp against numpy, PyTorch and scikit-learn in one process")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller epoch")
    bench.add_argument("--reps", type=int, default=None, help="interleaved repetitions per case (median taken)")
    bench.add_argument("--epoch-samples", type=int, default=None, help="samples in the epoch case (60000)")
    bench.add_argument("--threads", default="2", help="comma-separated thread counts for the scaling rows (2)")
    bench.set_defaults(func=_bench)
    args = parser.parse_args(argv)
    return args.func(args) or 0


def _bench(args):
    from .bench import run_bench

    try:
        threads = tuple(int(t) for t in args.threads.split(","))
    except ValueError:
        print(f"fastmlp bench: --threads expects comma-separated integers, got {args.threads!r}")
        return 2
    run_bench(quick=args.quick, reps=args.reps, epoch_samples=args.epoch_samples, threads=threads)
    return 0


def _info(args):
    import fastmlp

    for key, value in fastmlp.build_info().items():
        print(f"{key:12s} {value}")


if __name__ == "__main__":
    sys.exit(main())
