"""Image files for the command line: reading, atomic writing, OME-NGFF pyramids.

Formats by extension: PNG, JPEG, BMP, GIF, WebP (imageio), TIFF (tifffile), NumPy
``.npy`` and Zarr (``.zarr`` directories; zarr-python 2.18+ or 3).  Large TIFF,
``.npy`` and Zarr inputs are opened lazily as dask arrays; everything else is read
into memory.

Nothing is ever left half-written: every output is written to a temporary file
or directory beside it and renamed into place when complete; on any error the
temporary is removed and the previous output, if any, is untouched.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

IMAGEIO_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
TIFF_EXT = (".tif", ".tiff")
ARRAY_EXT = (".npy",)
ZARR_EXT = (".zarr",)
LAZY_BYTES = 256 * 2**20       # inputs larger than this are opened with dask


class CliError(ValueError):
    """A user-facing error, already phrased as one line."""


def one_line(exc):
    """The first non-empty line of an exception's message."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).strip()


def kind_of(path):
    ext = Path(path).suffix.lower()
    if ext in IMAGEIO_EXT:
        return "imageio"
    if ext in TIFF_EXT:
        return "tiff"
    if ext in ARRAY_EXT:
        return "npy"
    if ext in ZARR_EXT:
        return "zarr"
    return None


def _need(module, extra="io"):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise CliError(f"{module} is not installed (pip install 'ndpool[{extra}]')") from None


# ---- reading ------------------------------------------------------------------------------

def read_image(path, *, lazy_bytes=LAZY_BYTES):
    """The image at ``path``: a NumPy array, or a dask array for large/chunked inputs."""
    p = Path(path)
    kind = kind_of(p)
    if not p.exists():
        raise CliError(f"{path}: no such file or directory")
    if kind is None:
        raise CliError(f"{path}: unknown image format {p.suffix!r} (use PNG, JPEG, TIFF, "
                       f".npy or .zarr)")
    if kind == "zarr":
        return _read_zarr(p)
    if p.is_dir():
        raise CliError(f"{path}: is a directory")
    try:
        if kind == "npy":
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
            return _maybe_lazy(arr, lazy_bytes)
        if kind == "tiff":
            tifffile = _need("tifffile")
            try:
                arr = tifffile.memmap(p, mode="r")      # uncompressed: no copy
            except Exception:
                arr = tifffile.imread(p)
            return _maybe_lazy(arr, lazy_bytes)
        iio = _need("imageio.v3")
        arr = np.asarray(iio.imread(p))
    except CliError:
        raise
    except Exception as exc:
        raise CliError(f"cannot read {path}: {one_line(exc)}") from None
    if arr.dtype.kind not in "biuf" or arr.ndim == 0:
        raise CliError(f"cannot read {path}: not an image of numbers (dtype {arr.dtype}, "
                       f"shape {arr.shape})")
    return arr


def _maybe_lazy(arr, lazy_bytes):
    if arr.nbytes <= lazy_bytes:
        return np.array(arr)
    import dask.array as da
    return da.from_array(arr, chunks="auto")


def _read_zarr(p):
    zarr = _need("zarr")
    import dask.array as da
    try:
        node = zarr.open(str(p), mode="r")
        if not hasattr(node, "shape"):             # a group: an OME-NGFF image's level 0
            attrs = dict(node.attrs)
            ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
            name = ms[0]["datasets"][0]["path"] if ms else "0"
            node = node[name]
        return da.from_zarr(node)
    except Exception as exc:
        raise CliError(f"cannot read {p}: {one_line(exc)}") from None


# ---- atomic outputs ---------------------------------------------------------------------

def check_target(target, *, directory=False, overwrite=True):
    """Fail early (before any work) if ``target`` cannot be written."""
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise CliError(f"{target}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CliError(f"{target}: the folder {parent} is not writable")
    if target.exists():
        if target.is_dir() != directory:
            what = "a directory" if target.is_dir() else "a file"
            raise CliError(f"{target}: already exists and is {what}")
        if directory and not overwrite:
            raise CliError(f"{target}: already exists (pass --overwrite to replace it)")
    return parent


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target, *, directory=False, overwrite=True):
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    parent = check_target(target, directory=directory, overwrite=overwrite)
    prefix = f".{target.name}.tmp-"
    try:
        if directory:
            tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=target.suffix, dir=parent)
            os.close(fd)
            tmp = Path(name)
    except OSError as exc:
        raise CliError(f"{target}: cannot write there: {one_line(exc)}") from None
    try:
        os.chmod(tmp, (0o777 if directory else 0o666) & ~_umask())   # not mkstemp's 0600
        yield tmp
        if directory and target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
            os.replace(target, old / "x")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise


def write_image(path, array, *, tmp=None):
    """Write an in-memory image atomically (or to ``tmp``, inside an atomic folder)."""
    kind = kind_of(path)
    if kind is None:
        raise CliError(f"{path}: unknown output format {Path(path).suffix!r} (use PNG, JPEG, "
                       f"TIFF, .npy or .zarr)")
    check_writable(path, array.dtype, array.shape)
    if tmp is not None:
        _write(tmp, kind, array, Path(path))
        return
    with atomic_path(path, directory=kind == "zarr") as t:
        _write(t, kind, array, Path(path))


def check_writable(path, dtype, shape):
    """Refuse dtypes and shapes a format cannot hold, before any work."""
    kind = kind_of(path)
    ext = Path(path).suffix.lower()
    if kind == "imageio":
        ok = {".png": ("uint8", "uint16"), ".jpg": ("uint8",), ".jpeg": ("uint8",)}.get(
            ext, ("uint8",))
        if np.dtype(dtype).name not in ok and np.dtype(dtype) != np.bool_:
            raise CliError(f"{path}: {ext[1:].upper()} cannot hold {np.dtype(dtype)} pixels "
                           f"(use --dtype same, or a .tif, .npy or .zarr output)")
        if len(shape) not in (2, 3) or (len(shape) == 3 and shape[-1] not in (1, 2, 3, 4)):
            raise CliError(f"{path}: {ext[1:].upper()} holds 2-D grey or colour images, "
                           f"not shape {tuple(shape)} (use .tif, .npy or .zarr)")


def _write(tmp, kind, array, target):
    try:
        if kind == "imageio":
            iio = _need("imageio.v3")
            a = array.astype(np.uint8) if array.dtype == np.bool_ else array
            iio.imwrite(tmp, a, extension=target.suffix.lower())
        elif kind == "tiff":
            _need("tifffile").imwrite(tmp, array)
        elif kind == "npy":
            with open(tmp, "wb") as fh:
                np.save(fh, array, allow_pickle=False)
        else:
            zarr = _need("zarr")
            _open_zarr_array(zarr, tmp, array.shape, array.dtype, array.shape)[...] = array
    except CliError:
        raise
    except Exception as exc:
        raise CliError(f"cannot write {target}: {one_line(exc)}") from None


# ---- zarr and OME-NGFF ---------------------------------------------------------------------

def _zarr3(zarr):
    return int(zarr.__version__.split(".")[0]) >= 3


def _open_zarr_group(zarr, path):
    """A zarr v2-format group (what OME-NGFF 0.4 readers expect), with zarr 2 or 3."""
    if _zarr3(zarr):
        return zarr.open_group(str(path), mode="w", zarr_format=2)
    return zarr.open_group(str(path), mode="w")


def _create(group, name, shape, dtype, chunks):
    """A level array; OME-NGFF 0.4 requires '/' between chunk indices in its keys."""
    if hasattr(group, "create_array"):          # zarr 3, writing the v2 format
        return group.create_array(name, shape=shape, dtype=dtype, chunks=chunks,
                                  fill_value=0,
                                  chunk_key_encoding={"name": "v2", "separator": "/"})
    return group.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks, fill_value=0,
                                dimension_separator="/")


def _open_zarr_array(zarr, path, shape, dtype, chunks):
    kw = {"zarr_format": 2} if _zarr3(zarr) else {}
    return zarr.open_array(str(path), mode="w", shape=shape, dtype=dtype,
                           chunks=tuple(max(1, c) for c in chunks), fill_value=0, **kw)


def ngff_axes(ndim, channel):
    """OME-NGFF 0.4 axes for an array whose channel axis (if any) is moved first."""
    spatial = ndim - (channel is not None)
    if spatial > 3 + (channel is None) or ndim > 5:
        raise CliError(f"OME-NGFF images have at most 5 axes (t, c, z, y, x); got {ndim}")
    names = ["x", "y", "z"][:min(spatial, 3)][::-1]
    axes = [{"name": n, "type": "space"} for n in names]
    if spatial == 4:
        axes.insert(0, {"name": "t", "type": "time"})
    if channel is not None:
        axes.insert(1 if spatial == 4 else 0, {"name": "c", "type": "channel"})
    return axes


def write_ngff(target, levels, *, factor_per_axis, channel, method, name, progress):
    """Write pyramid levels (NumPy or dask) as an OME-NGFF 0.4 multiscale image.

    The channel axis, if any, is moved first (NGFF orders axes t, c, z, y, x).
    Levels are written chunk by chunk with dask, all in one graph, so a level is
    computed once and never held whole in memory.
    """
    zarr = _need("zarr")
    import dask.array as da
    from ._config import __version__
    ndim = levels[0].ndim
    order = list(range(ndim))
    if channel is not None:
        order = [channel] + [a for a in order if a != channel]
    axes = ngff_axes(ndim, channel)
    factors = [factor_per_axis[a] for a in order]
    with atomic_path(target, directory=True, overwrite=True) as tmp:
        root = _open_zarr_group(zarr, tmp)
        sources, targets, datasets = [], [], []
        for i, level in enumerate(levels):
            arr = level if isinstance(level, da.Array) else da.from_array(level)
            arr = arr.transpose(order)
            chunks = tuple(min(n, 1 if ax["type"] in ("channel", "time") else
                               (64 if ax["name"] == "z" else 1024)) or 1
                           for n, ax in zip(arr.shape, axes))
            z = _create(root, str(i), arr.shape, arr.dtype, chunks)
            sources.append(arr.rechunk(chunks))
            targets.append(z)
            datasets.append({"path": str(i), "coordinateTransformations": [
                {"type": "scale", "scale": [float(f) ** i for f in factors]}]})
        root.attrs["multiscales"] = [{
            "version": "0.4", "name": name, "axes": axes, "datasets": datasets,
            "type": method,
            "metadata": {"method": "ndpool.pyramid", "version": __version__,
                         "kwargs": {"factor": factors, "method": method}}}]
        with progress_bar(progress):
            da.store(sources, targets, lock=False)
    return json.dumps(root.attrs["multiscales"][0]["axes"])


@contextlib.contextmanager
def progress_bar(enabled):
    """dask's progress bar on stderr while a graph runs (local schedulers)."""
    if not enabled:
        yield
        return
    from dask.diagnostics import ProgressBar
    import sys
    with ProgressBar(out=sys.stderr, minimum=1.0):
        yield
