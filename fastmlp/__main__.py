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
    args = parser.parse_args(argv)
    return args.func(args) or 0


def _info(args):
    import fastmlp

    for key, value in fastmlp.build_info().items():
        print(f"{key:12s} {value}")


if __name__ == "__main__":
    sys.exit(main())
