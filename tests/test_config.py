import os
import subprocess
import sys

import numpy as np
import pytest

import ndpool


def test_show_config(capsys):
    cfg = ndpool.show_config()
    printed = capsys.readouterr().out
    assert cfg["version"] == ndpool.__version__ in printed
    assert "openmp" in printed and cfg["threads"] >= 1
    assert f"native build: {'yes' if cfg['native_build'] else 'no'}" in printed


@pytest.mark.skipif(os.environ.get("NDPOOL_NO_OPENMP") == "1",
                    reason="serial build requested on purpose")
def test_build_has_openmp():
    # A build that silently lost OpenMP runs everything on one core.
    with open(os.devnull, "w") as devnull:
        assert ndpool.show_config(file=devnull)["openmp"]


def test_public_names_are_documented():
    for name in ndpool.__all__:
        func = getattr(ndpool, name)
        assert func.__doc__ and "Examples" in func.__doc__, name


def _modules_with_examples():
    """Every module of the package whose source holds a docstring example."""
    import importlib
    import inspect
    import pkgutil
    found = []
    for info in pkgutil.iter_modules(ndpool.__path__):
        if info.ispkg or info.name == "__main__":        # importing __main__ runs the CLI
            continue
        module = importlib.import_module(f"ndpool.{info.name}")
        if ">>>" in inspect.getsource(module):
            found.append(info.name)
    return found


def test_every_module_with_examples_is_found():
    assert {"window", "blockreduce", "adaptive", "corner", "fractional", "mixing", "rank",
            "roi", "second_order", "smooth", "spectral"} <= set(_modules_with_examples())


@pytest.mark.parametrize("name", _modules_with_examples())
def test_docstring_examples(name):
    """Every docstring example of the package runs and prints what it shows."""
    import doctest
    import importlib
    module = importlib.import_module(f"ndpool.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    # _docs holds the shared parameter texts: its ">>>" are in templates, not tests
    assert result.attempted > 0 or name == "_docs"


def test_cli_info_and_errors(tmp_path):
    run = [sys.executable, "-m", "ndpool"]
    out = subprocess.run(run + ["info"], capture_output=True, text=True)
    assert out.returncode == 0 and "openmp" in out.stdout
    bad = subprocess.run(run + ["nonsense"], capture_output=True, text=True)
    assert bad.returncode != 0 and "invalid choice" in bad.stderr



def test_cli_bench_passes_its_options_on():
    """``ndpool bench`` hands everything after it to the harness, options first
    included (README: ``ndpool bench --list``)."""
    run = [sys.executable, "-m", "ndpool", "bench"]
    out = subprocess.run(run + ["--list", "--cases", "tiny"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "max2 f32 tiny" in out.stdout and "nchw" not in out.stdout
    none = subprocess.run(run + ["--cases", "no such case"], capture_output=True, text=True)
    assert none.returncode == 2 and "no case matches" in none.stdout
    helped = subprocess.run(run + ["--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--cases" in helped.stdout

def test_cli_demo_writes_figure(tmp_path):
    pytest.importorskip("skimage")
    pytest.importorskip("matplotlib")
    fig = tmp_path / "demo.png"
    out = subprocess.run([sys.executable, "-m", "ndpool", "demo", "-o", str(fig),
                          "--repeat", "1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert fig.stat().st_size > 10_000 and "MISMATCH" not in out.stdout
    assert np.frombuffer(fig.read_bytes()[:8], np.uint8).tolist()[:4] == [137, 80, 78, 71]
