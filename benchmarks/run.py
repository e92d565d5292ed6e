"""Run the ndpool benchmark and keep its results.

    python benchmarks/run.py [--quick] [--workers 1 2] [--cases SUBSTR ...] [--budget S]

The arguments go to ``ndpool._bench.main`` (see ``ndpool bench --help``). The JSON goes to
``benchmarks/results/<YYYY-MM-DD>-<cpu>-<cores>c[-quick].json`` and is copied to
``benchmarks/results/latest.json``.
"""
import datetime
import re
import shutil
import sys
import time
from pathlib import Path

from ndpool import _bench

RESULTS = Path(__file__).resolve().parent / "results"


def result_path(quick):
    # The CPU names the machine better than a hostname: ours are throwaway VMs ("vm").
    info = _bench.machine_info()
    cpu = re.sub(r"[^a-z0-9]+", "-", info["cpu"].lower()).strip("-")
    suffix = "-quick" if quick else ""
    return RESULTS / f"{datetime.date.today():%Y-%m-%d}-{cpu}-{info['usable_cores']}c{suffix}.json"


def main(argv):
    path = result_path("--quick" in argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.time()
    code = _bench.main([*argv, "--json", str(path)])
    if path.exists() and path.stat().st_mtime >= started:  # not written for --list
        shutil.copyfile(path, RESULTS / "latest.json")
        print(f"results: {path.relative_to(RESULTS.parent.parent)} (and latest.json)")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
