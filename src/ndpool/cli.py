"""The ``ndpool`` command line: demo, bench, info, reduce, pyramid."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

import numpy as np


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


_FUNCS = ("mean", "sum", "max", "min", "median", "nanmean", "nansum", "nanmax", "nanmin")


class _OneLineParser(argparse.ArgumentParser):
    """Bad options: one line on stderr (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _channel(value):
    if value.lower() in ("auto", "none"):
        return value.lower()
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer axis, 'auto' or 'none', got {value!r}") from None


def _positive(value):
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value!r}")
    return n


def _show_progress(args):
    return args.progress if args.progress is not None else sys.stderr.isatty()


def _resolve_channel(option, image):
    """--channel-axis: 'auto' is the last axis of a 3-D image with 3 or 4 channels."""
    if option == "none":
        return None
    if option == "auto":
        return -1 if image.ndim == 3 and image.shape[-1] in (3, 4) else None
    if not -image.ndim <= option < image.ndim:
        raise ValueError(f"--channel-axis {option} is out of range for an image with "
                         f"{image.ndim} axes (shape {tuple(image.shape)})")
    return option


def _to_dtype(values, dtype):
    """Round a float result back to an integer image dtype (half to even), clipped."""
    dtype = np.dtype(dtype)
    if values.dtype == dtype:
        return values
    if dtype.kind in "iu" and values.dtype.kind == "f":
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    if dtype.kind == "b":
        return values != 0
    return values.astype(dtype)


@contextlib.contextmanager
def _one_thread_per_task():
    """Dask's threads run the tasks: one kernel thread each (OMP_NUM_THREADS=1)."""
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


def _one_line_errors(command):
    """Any failure of a file command becomes one line on stderr and exit status 2."""
    def run(args):
        from ._imageio import CliError, one_line
        try:
            return command(args)
        except (CliError, MemoryError):
            raise
        except Exception as exc:
            raise CliError(one_line(exc)) from None
    return run


@_one_line_errors
def _reduce(args):
    from . import _imageio as io
    from ._dask import dask_aware
    from .blockreduce import block_reduce
    kind = io.kind_of(args.output)
    if kind is None:
        raise ValueError(f"{args.output}: unknown output format (use PNG, JPEG, TIFF, "
                         f".npy or .zarr)")
    io.check_target(args.output, directory=kind == "zarr", overwrite=args.overwrite)
    image = io.read_image(args.input)
    channel = _resolve_channel(args.channel_axis, image)
    func = getattr(np, args.reducer)
    lazy = not isinstance(image, np.ndarray)
    reduce = dask_aware(block_reduce)
    with np.errstate(all="ignore"):
        result = reduce(image, list(args.block) if len(args.block) > 1 else args.block[0],
                        func, args.cval, boundary=args.boundary, channel_axis=channel)
    if args.dtype == "same":
        result = (result.map_blocks(_to_dtype, image.dtype, dtype=image.dtype) if lazy
                  else _to_dtype(np.asarray(result), image.dtype))
    io.check_writable(args.output, result.dtype, result.shape)
    if lazy:
        import dask.array as da
        if kind == "zarr":
            zarr = io._need("zarr")
            with io.atomic_path(args.output, directory=True, overwrite=args.overwrite) as tmp:
                chunks = tuple(min(n, 1024) or 1 for n in result.shape)
                z = io._open_zarr_array(zarr, tmp, result.shape, result.dtype, chunks)
                with io.progress_bar(_show_progress(args)), _one_thread_per_task():
                    da.store(result.rechunk(chunks), z, lock=False)
            return 0
        with io.progress_bar(_show_progress(args)), _one_thread_per_task():
            result = result.compute()
    if kind == "zarr":
        with io.atomic_path(args.output, directory=True, overwrite=args.overwrite) as tmp:
            io.write_image(args.output, np.asarray(result), tmp=tmp)
    else:
        io.write_image(args.output, np.asarray(result))
    return 0


@_one_line_errors
def _pyramid(args):
    from pathlib import Path

    from . import _imageio as io
    from ._dask import dask_aware
    from .blockreduce import pyramid
    out = Path(args.output)
    to_zarr = io.kind_of(out) == "zarr"
    io.check_target(out, directory=True, overwrite=args.overwrite)
    if not to_zarr and args.format is not None and io.kind_of("x." + args.format.lower()) in (
            None, "zarr"):
        raise ValueError(f"--format {args.format!r}: use png, jpg, tif or npy (or an OUT.zarr)")
    image = io.read_image(args.input)
    channel = _resolve_channel(args.channel_axis, image)
    factor = list(args.factor) if len(args.factor) > 1 else args.factor[0]
    progress = _show_progress(args)
    if to_zarr:
        import dask.array as da
        lazy = image if not isinstance(image, np.ndarray) else da.from_array(
            image, chunks=tuple(min(n, 2048) or 1 for n in image.shape))
        levels = dask_aware(pyramid)(lazy, factor, args.method, levels=args.levels,
                                     channel_axis=channel)
        per_axis = _factor_per_axis(factor, image.ndim, channel)
        with _one_thread_per_task():
            io.write_ngff(out, levels, factor_per_axis=per_axis,
                          channel=None if channel is None else channel % image.ndim,
                          method=args.method, name=Path(args.input).stem,
                          progress=progress)
        return 0
    fmt = (args.format or Path(args.input).suffix.lstrip(".") or "png").lower()
    ext = "." + fmt
    if io.kind_of("x" + ext) in (None, "zarr"):
        raise ValueError(f"--format {fmt!r}: use png, jpg, tif or npy (or an OUT.zarr)")
    if not isinstance(image, np.ndarray):
        with io.progress_bar(progress), _one_thread_per_task():
            image = image.compute()
    from tqdm import tqdm
    levels = pyramid(image, factor, args.method, levels=args.levels, channel_axis=channel)
    for level in levels:
        io.check_writable(out / f"level_0{ext}", level.dtype, level.shape)
    with io.atomic_path(out, directory=True, overwrite=args.overwrite) as tmp:
        for i, level in enumerate(tqdm(levels, desc="ndpool pyramid", unit="level",
                                       disable=not progress, file=sys.stderr)):
            io.write_image(out / f"level_{i}{ext}", level, tmp=tmp / f"level_{i}{ext}")
    return 0


def _factor_per_axis(factor, ndim, channel):
    if isinstance(factor, list):
        f = list(factor)
        if channel is not None and len(f) == ndim - 1:
            f.insert(channel % ndim, 1)
        return f
    return [1 if channel is not None and a == channel % ndim else factor
            for a in range(ndim)]


def _add_io_commands(sub):
    # The new subcommands report bad options in one line (demo/bench/info unchanged).
    default_class, sub._parser_class = sub._parser_class, _OneLineParser
    try:
        _add_reduce(sub)
        _add_pyramid(sub)
    finally:
        sub._parser_class = default_class


def _common(p):
    p.add_argument("--channel-axis", type=_channel, default="auto", metavar="AXIS",
                   help="axis never reduced: an integer, 'none', or 'auto' (default: the "
                        "last axis of a 3-D image with 3 or 4 channels)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output folder or .zarr")
    prog = p.add_mutually_exclusive_group()
    prog.add_argument("--progress", dest="progress", action="store_true", default=None,
                      help="show a progress bar (default: when stderr is a terminal)")
    prog.add_argument("--no-progress", dest="progress", action="store_false")


def _add_reduce(sub):
    p = sub.add_parser("reduce", help="block_reduce an image file into another",
                       description="Downsample IN by reducing non-overlapping blocks and "
                                   "write OUT (PNG, JPEG, TIFF, .npy or .zarr).")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--block", type=_positive, nargs="+", default=[2], metavar="B",
                   help="block size: one for every axis, or one per axis (default: 2)")
    p.add_argument("--func", dest="reducer", choices=_FUNCS, default="mean",
                   help="the reduction of each block (default: %(default)s)")
    p.add_argument("--boundary", choices=("pad", "trim", "exact"), default="pad",
                   help="partial blocks at the edges (default: pad, as scikit-image)")
    p.add_argument("--cval", type=float, default=0.0,
                   help="value padding partial blocks (default: 0)")
    p.add_argument("--dtype", choices=("same", "result"), default="same",
                   help="'same': round back to the input's dtype (default); 'result': "
                        "keep the reduction's dtype (float64 for a mean of integers)")
    _common(p)
    p.set_defaults(func=_reduce)


def _add_pyramid(sub):
    p = sub.add_parser("pyramid", help="write the multiscale pyramid of an image file",
                       description="Write every level of the pyramid of IN: to OUT.zarr "
                                   "as an OME-NGFF 0.4 multiscale image, or to a folder "
                                   "as level_0.EXT, level_1.EXT, ...")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUTDIR|OUT.zarr")
    p.add_argument("--factor", type=_positive, nargs="+", default=[2], metavar="F",
                   help="reduction factor: one for every axis, or one per axis (default: 2)")
    p.add_argument("--method", choices=("mean", "max", "min", "sum", "median"),
                   default="mean", help="the reduction of each block (default: %(default)s)")
    p.add_argument("--levels", type=_positive, default=None,
                   help="the most levels, the input included (default: down to 1 pixel)")
    p.add_argument("--format", default=None, metavar="EXT",
                   help="image format of the level files in OUTDIR (default: IN's)")
    _common(p)
    p.set_defaults(func=_pyramid)


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
    _add_io_commands(sub)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    if argv[:1] == ["bench"]:
        # Everything after "bench" is the harness's own command line.  argparse's
        # REMAINDER does not take arguments that start with "-" right after a
        # subcommand ("ndpool bench --list" was an error), so they skip the parser.
        return _bench(argparse.Namespace(bench_args=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"ndpool {args.command}: error: {exc}", file=sys.stderr)
        return 2
