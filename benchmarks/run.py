"""Run the ndpool benchmark and keep its results.

    python benchmarks/run.py [--quick] [--workers 1 2] [--cases SUBSTR ...] [--budget S]

The arguments go to ``ndpool._bench.main`` (see ``ndpool bench --help``). The JSON goes to
``benchmarks/results/<YYYY-MM-DD>-<cpu>-<cores>c[-quick].json`` and is copied to
``benchmarks/results/latest.json``.  A run of every case (no ``--cases``) then times the
catalogue (``catalogue.py``, stored as ``catalogue-<same name>`` and
``catalogue-latest.json``) and prints issue 6's targets, 1 to 7, each with its measured
ratio and PASS or FAIL; they are stored under "targets" in the run's JSON.
"""
import datetime
import json
import re
import shutil
import sys
import time
from pathlib import Path

from ndpool import _bench

import catalogue   # benchmarks/catalogue.py, next to this file

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
    if not (path.exists() and path.stat().st_mtime >= started):  # --list: nothing ran
        return code
    if "--cases" not in argv:   # a whole run also times the catalogue: target 7
        print("\ncatalogue (issue 3; target 7): every method / max_pool, same input")
        cat_path = path.with_name("catalogue-" + path.name)
        workers = ["--workers", str(max(_bench.usable_cores(), 1))]
        catalogue.main([*(["--quick"] if "--quick" in argv else []), *workers,
                        "--json", str(cat_path)])
        shutil.copyfile(cat_path, RESULTS / "catalogue-latest.json")
        with open(path) as f:
            run = json.load(f)
        with open(cat_path) as f:
            run["targets"] = _bench.targets(run["results"], json.load(f))
        with open(path, "w") as f:
            json.dump(run, f, indent=1, default=str)
        _bench.print_targets(run["targets"])
    shutil.copyfile(path, RESULTS / "latest.json")
    print(f"results: {path.relative_to(RESULTS.parent.parent)} (and latest.json)")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
