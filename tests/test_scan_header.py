"""_kernels/_scan.h, compiled on its own: the vector row scans equal the serial
scan bit for bit, NaN payloads included (through corner pooling's sums a NaN's
payload is the compiler's choice, so test_corner.py cannot see it)."""
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

import ndpool

HEADER_DIR = Path(ndpool.__file__).parent / "_kernels"
CHECK = Path(__file__).parent / "scan_check.c"


def _compiler():
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or shutil.which("cc")


@pytest.mark.skipif(_compiler() is None, reason="no C compiler")
@pytest.mark.parametrize("flags", [["-O2"], ["-O0"]])
def test_blocked_row_scans_equal_the_serial_scan(tmp_path, flags):
    exe = tmp_path / "scan_check"
    subprocess.run([_compiler(), *flags, "-I", str(HEADER_DIR), str(CHECK), "-o", str(exe)],
                   check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert int(out) == 0, f"{out.strip()} of 4000 random cases differ"
