"""The ``ndpool`` command line: demo, bench, info."""
from __future__ import annotations

import argparse
import sys


def _demo(args):
    from ._demo import run_demo
    return run_demo(args.output, repeat=args.repeat)


def _bench(args):
    from ._bench import main as bench_main
    return bench_main(args.bench_args)


def _info(args):
    from ._config import show_config
    show_config()
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ndpool", description="N-D pooling for NumPy arrays, compiled.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="pool the cat image with every method, "
                                       "save a figure, time against scikit-image")
    demo.add_argument("-o", "--output", default="ndpool-demo.png",
                      help="where to write the figure (default: %(default)s)")
    demo.add_argument("--repeat", type=int, default=5,
                      help="timing repetitions (best is reported)")
    demo.set_defaults(func=_demo)

    bench = sub.add_parser("bench", help="run the benchmark harness "
                                         "(arguments are passed on; try --help)",
                           add_help=False)
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=_bench)

    info = sub.add_parser("info", help="version, OpenMP, threads")
    info.set_defaults(func=_info)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"ndpool {args.command}: error: {exc}", file=sys.stderr)
        return 2
