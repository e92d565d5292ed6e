"""``ndpool reduce`` and ``ndpool pyramid`` on real image files (PNG, JPEG, TIFF, .npy, Zarr).

Every file is written with imageio / tifffile into tmp_path; results are checked
against the library calls, and every failure must be one line on stderr, a non-zero
exit status, and no output (nor temporary) left behind.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

iio = pytest.importorskip("imageio.v3")
tifffile = pytest.importorskip("tifffile")

from ndpool import blockreduce  # noqa: E402
from ndpool.cli import main  # noqa: E402


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (101, 67, 3), dtype=np.uint8)
    grey16 = rng.integers(0, 65536, (50, 41), dtype=np.uint16)
    vol = rng.integers(0, 4096, (9, 40, 33), dtype=np.uint16)
    iio.imwrite(tmp_path / "rgb.png", rgb)
    iio.imwrite(tmp_path / "grey16.png", grey16)
    iio.imwrite(tmp_path / "photo.jpg", rgb, quality=95)
    tifffile.imwrite(tmp_path / "vol.tif", vol)
    tifffile.imwrite(tmp_path / "rgbf.tiff", rgb.astype(np.float32) / 255)
    np.save(tmp_path / "arr.npy", vol.astype(np.float64))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "text.tif").write_text("hello")
    return {"rgb": rgb, "grey16": grey16, "vol": vol, "dir": tmp_path,
            "jpg": iio.imread(tmp_path / "photo.jpg")}


def leftovers(folder):
    """Temporary files or folders the atomic writers could have left."""
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def as_image_dtype(values, dtype):
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max).astype(dtype)


# ---- reduce ---------------------------------------------------------------------------------

def test_reduce_png_rgb_mean(images, capsys):
    d = images["dir"]
    code, out, err = run(["reduce", d / "rgb.png", d / "small.png", "--block", 2, 2,
                          "--func", "mean", "--channel-axis", -1], capsys)
    assert code == 0, err
    got = iio.imread(d / "small.png")
    ref = blockreduce.block_reduce(images["rgb"], (2, 2), np.mean, channel_axis=-1)
    np.testing.assert_array_equal(got, as_image_dtype(ref, np.uint8))
    assert got.shape == (51, 34, 3)
    assert oct(os.stat(d / "small.png").st_mode & 0o777) != oct(0o600)   # not mkstemp's mode
    assert not leftovers(d)


def test_reduce_channel_axis_auto_on_rgb(images, capsys):
    d = images["dir"]
    code, _, err = run(["reduce", d / "rgb.png", d / "auto.png", "--block", 3], capsys)
    assert code == 0, err
    ref = blockreduce.block_reduce(images["rgb"], 3, np.mean, channel_axis=-1)
    np.testing.assert_array_equal(iio.imread(d / "auto.png"), as_image_dtype(ref, np.uint8))


@pytest.mark.parametrize("func", ["max", "min", "median", "sum", "nanmean"])
def test_reduce_tiff_volume_keeps_result_dtype(images, capsys, func):
    d = images["dir"]
    out = d / f"vol_{func}.tif"
    code, _, err = run(["reduce", d / "vol.tif", out, "--block", 2, 3, 2, "--func", func,
                        "--dtype", "result", "--boundary", "trim"], capsys)
    assert code == 0, err
    ref = blockreduce.block_reduce(images["vol"], (2, 3, 2), getattr(np, func),
                                   boundary="trim")
    got = tifffile.imread(out)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


def test_reduce_jpeg_and_16_bit_png(images, capsys):
    d = images["dir"]
    assert run(["reduce", d / "photo.jpg", d / "p.png", "--block", 4, "--func", "max"],
               capsys)[0] == 0
    ref = blockreduce.block_reduce(images["jpg"], 4, np.max, channel_axis=-1)
    np.testing.assert_array_equal(iio.imread(d / "p.png"), ref)
    assert run(["reduce", d / "grey16.png", d / "g.png", "--block", 2, "--func", "mean"],
               capsys)[0] == 0
    got = iio.imread(d / "g.png")
    assert got.dtype == np.uint16
    ref = blockreduce.block_reduce(images["grey16"], 2, np.mean)
    np.testing.assert_array_equal(got, as_image_dtype(ref, np.uint16))


def test_reduce_to_npy_and_zarr(images, capsys):
    zarr = pytest.importorskip("zarr")
    d = images["dir"]
    assert run(["reduce", d / "arr.npy", d / "r.npy", "--block", 2, "--dtype", "result"],
               capsys)[0] == 0
    ref = blockreduce.block_reduce(images["vol"].astype(np.float64), 2, np.mean)
    np.testing.assert_array_equal(np.load(d / "r.npy"), ref)
    assert run(["reduce", d / "vol.tif", d / "r.zarr", "--block", 2, "--func", "max"],
               capsys)[0] == 0
    np.testing.assert_array_equal(zarr.open(str(d / "r.zarr"), mode="r")[...],
                                  blockreduce.block_reduce(images["vol"], 2, np.max))


def test_reduce_large_input_goes_through_dask(images, capsys, monkeypatch):
    """Inputs above the lazy threshold are reduced chunk by chunk, with the same result."""
    from ndpool import _imageio
    monkeypatch.setattr(_imageio, "LAZY_BYTES", 1024)
    monkeypatch.setattr(_imageio.read_image, "__defaults__", (1024,))
    d = images["dir"]
    code, _, err = run(["reduce", d / "vol.tif", d / "lazy.tif", "--block", 2, "--func",
                        "mean", "--progress"], capsys)
    assert code == 0, err
    ref = blockreduce.block_reduce(images["vol"], 2, np.mean)
    np.testing.assert_array_equal(tifffile.imread(d / "lazy.tif"),
                                  as_image_dtype(ref, np.uint16))


# ---- pyramid ---------------------------------------------------------------------------------

def test_pyramid_to_folder_of_pngs(images, capsys):
    d = images["dir"]
    code, _, err = run(["pyramid", d / "rgb.png", d / "levels", "--factor", 2,
                        "--method", "mean"], capsys)
    assert code == 0, err
    ref = blockreduce.pyramid(images["rgb"], 2, "mean", channel_axis=-1)
    files = sorted((d / "levels").iterdir(), key=lambda p: int(p.stem.split("_")[1]))
    assert [p.name for p in files] == [f"level_{i}.png" for i in range(len(ref))]
    for p, level in zip(files, ref):
        np.testing.assert_array_equal(iio.imread(p), level)
    assert not leftovers(d)


def test_pyramid_to_ome_zarr(images, capsys):
    zarr = pytest.importorskip("zarr")
    d = images["dir"]
    code, _, err = run(["pyramid", d / "rgb.png", d / "rgb.zarr", "--factor", 2,
                        "--method", "max"], capsys)
    assert code == 0, err
    root = zarr.open_group(str(d / "rgb.zarr"), mode="r")
    ms = dict(root.attrs)["multiscales"][0]
    assert ms["version"] == "0.4"
    assert [a["name"] for a in ms["axes"]] == ["c", "y", "x"]
    assert ms["axes"][0]["type"] == "channel"
    ref = blockreduce.pyramid(images["rgb"], 2, "max", channel_axis=-1)
    assert [ds["path"] for ds in ms["datasets"]] == [str(i) for i in range(len(ref))]
    for i, (ds, level) in enumerate(zip(ms["datasets"], ref)):
        assert ds["coordinateTransformations"][0]["scale"] == [1.0, 2.0 ** i, 2.0 ** i]
        np.testing.assert_array_equal(root[ds["path"]][...], np.moveaxis(level, -1, 0))
    # zarr v2 format on disk, which OME-NGFF 0.4 readers expect
    assert (d / "rgb.zarr" / ".zattrs").exists()
    zarray = json.loads((d / "rgb.zarr" / "0" / ".zarray").read_text())
    assert zarray["dimension_separator"] == "/"           # required by OME-NGFF 0.4
    assert (d / "rgb.zarr" / "0" / "0" / "0" / "0").exists()


def test_pyramid_volume_zarr_and_levels(images, capsys):
    zarr = pytest.importorskip("zarr")
    d = images["dir"]
    code, _, err = run(["pyramid", d / "vol.tif", d / "vol.zarr", "--factor", 1, 2, 2,
                        "--levels", 3, "--method", "median", "--channel-axis", "none"], capsys)
    assert code == 0, err
    root = zarr.open_group(str(d / "vol.zarr"), mode="r")
    ms = dict(root.attrs)["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["z", "y", "x"]
    ref = blockreduce.pyramid(images["vol"], (1, 2, 2), "median", levels=3)
    assert len(ms["datasets"]) == 3
    for ds, level in zip(ms["datasets"], ref):
        np.testing.assert_array_equal(root[ds["path"]][...], level)
    # Existing output: refused without --overwrite, replaced with it.
    code, _, err = run(["pyramid", d / "vol.tif", d / "vol.zarr"], capsys)
    assert code != 0 and "--overwrite" in err
    assert run(["pyramid", d / "vol.tif", d / "vol.zarr", "--overwrite", "--levels", 2,
                "--channel-axis", "none"], capsys)[0] == 0
    assert len(dict(zarr.open_group(str(d / "vol.zarr"), mode="r").attrs)
               ["multiscales"][0]["datasets"]) == 2
    assert not leftovers(d)


# ---- failures: one line, non-zero, nothing left behind ---------------------------------------

@pytest.mark.parametrize("argv, needle", [
    (["reduce", "missing.png", "out.png"], "no such file"),
    (["reduce", "broken.png", "out.png"], "cannot read"),
    (["reduce", "text.tif", "out.tif"], "cannot read"),
    (["reduce", "rgb.png", "out.xyz"], "unknown output format"),
    (["reduce", "rgb.png", "no/such/dir/out.png"], "does not exist"),
    (["reduce", "rgb.png", "out.png", "--block", "2", "2", "2", "2"], "block_size"),
    (["reduce", "rgb.png", "out.png", "--block", "0"], "--block"),
    (["reduce", "rgb.png", "out.png", "--func", "mode"], "--func"),
    (["reduce", "rgb.png", "out.png", "--boundary", "exact", "--block", "2"], "divisible"),
    (["reduce", "rgb.png", "out.jpg", "--dtype", "result"], "cannot hold"),
    (["reduce", "vol.tif", "out.png", "--channel-axis", "none"], "holds 2-D"),
    (["reduce", "rgb.png", "out.png", "--channel-axis", "7"], "out of range"),
    (["reduce", "rgb.png", "out.png", "--channel-axis", "x"], "--channel-axis"),
    (["pyramid", "rgb.png", "out", "--factor", "1"], "factor"),
    (["pyramid", "rgb.png", "out", "--method", "mode"], "--method"),
    (["pyramid", "rgb.png", "out", "--format", "xyz"], "format 'xyz'"),
    (["pyramid", "missing.tif", "out.zarr"], "no such file"),
    (["pyramid", "vol.tif", "out", "--format", "png", "--channel-axis", "none"], "holds 2-D"),
    (["pyramid", "rgb.png", "rgb.png"], "already exists"),
])
def test_errors_are_one_line_and_leave_nothing(images, capsys, argv, needle):
    d = images["dir"]
    before = sorted(p.name for p in d.iterdir())
    argv = [a if a.startswith("-") or a[0].isdigit() or a in ("reduce", "pyramid", "none",
                                                              "mean", "mode", "png", "xyz",
                                                              "exact", "result", "x")
            else str(d / a) for a in argv]
    with pytest.raises(SystemExit) if needle.startswith("--") else _no_exit() as exc:
        code, _, err = run(argv, capsys)
    if needle.startswith("--"):                          # argparse: bad options
        code = exc.value.code
        err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    assert lines[0].startswith("ndpool ")
    assert sorted(p.name for p in d.iterdir()) == before      # nothing written, no temp


def test_existing_output_survives_a_failed_run(images, capsys):
    d = images["dir"]
    (d / "keep.png").write_bytes(b"previous")
    code, _, _ = run(["reduce", d / "broken.png", d / "keep.png"], capsys)
    assert code != 0
    assert (d / "keep.png").read_bytes() == b"previous"
    assert not leftovers(d)


def test_interrupted_write_leaves_no_partial_file(images, capsys, monkeypatch):
    """A failure while writing removes the temporary file and keeps the target absent."""
    from ndpool import _imageio

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(tifffile, "imwrite", boom)
    d = images["dir"]
    code, _, err = run(["reduce", d / "vol.tif", d / "v.tif"], capsys)
    assert code != 0 and "disk full" in err and len(err.strip().splitlines()) == 1
    assert not (d / "v.tif").exists()
    assert not leftovers(d)
    assert _imageio.kind_of("v.TIF") == "tiff"


def test_console_script_exit_status(images):
    """The real entry point: a bad path exits non-zero with one line on stderr."""
    d = images["dir"]
    proc = subprocess.run([sys.executable, "-m", "ndpool", "reduce", str(d / "nope.png"),
                           str(d / "o.png")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (d / "o.png").exists()


class _no_exit:
    """A context manager that expects no SystemExit (so both branches share one `with`)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
