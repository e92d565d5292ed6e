"""Dask scale-out benchmark: an image larger than one call may hold, on memory-limited workers.

A 16384 x 16384 x 3 uint8 image (768 MiB) is built lazily (structured, never in the
client) and, on a ``dask.distributed.LocalCluster`` of 2 worker processes with one
thread and a 400 MiB memory limit each:

* reduced with ``block_reduce(..., (2, 2, 1), np.mean)`` (the float64 result is
  1.5 GiB: twice the input), summed so that every block is computed;
* pyramided with ``pyramid(..., 2, "mean")`` down to 1 x 1 (15 levels), every level
  summed;
* pyramided and written as an OME-NGFF multiscale Zarr into a temporary folder (what
  ``ndpool pyramid IN OUT.zarr`` does).

For each case: wall time, input throughput, the peak RSS of each worker process
(``getrusage`` in the worker; workers are restarted between cases so each peak is the
case's own), the cluster's process memory sampled by ``distributed``'s
MemorySampler, and whether any worker was restarted (a worker the nanny kills past
its limit).  For contrast, the same reduction as one in-memory call in a subprocess
and its peak RSS.

    python benchmarks/dask_bench.py                       # the full size, ~1-3 minutes
    python benchmarks/dask_bench.py --size 4096 --chunk 1024
    python benchmarks/dask_bench.py --json benchmarks/results/dask-latest.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def structured_image(n, chunk):
    import dask.array as da
    i = (da.arange(n, chunks=chunk, dtype=np.int64) * 7 % 256).astype(np.uint8)
    j = (da.arange(n, chunks=chunk, dtype=np.int64) * 3 % 256).astype(np.uint8)
    c = da.from_array(np.array([0, 50, 100], np.uint8), chunks=3)
    return i[:, None, None] + j[None, :, None] + c[None, None, :]


def _peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss():
    import psutil
    return psutil.Process().memory_info().rss


def _warm():
    import ndpool  # noqa: F401
    import ndpool._dask  # noqa: F401
    from ndpool import blockreduce  # noqa: F401
    return os.getpid()


def start_cluster(memory_limit):
    import distributed
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, memory_limit=memory_limit, silence_logs=50)
    return cluster, distributed.Client(cluster)


def run_case(memory_limit, label, build, nbytes):
    """One case on a fresh cluster, so that each worker's peak RSS is this case's."""
    from distributed.diagnostics import MemorySampler
    cluster, client = start_cluster(memory_limit)
    try:
        client.run(_warm)
        pids = client.run(os.getpid)
        base = client.run(_rss)
        sampler = MemorySampler()
        t0 = time.perf_counter()
        with sampler.sample(label, client=client, interval=0.1):
            build(client)
        wall = time.perf_counter() - t0
        peaks = client.run(_peak_rss)
        restarted = client.run(os.getpid) != pids
        sampled = max((v for _, v in sampler.samples[label]), default=float("nan"))
    finally:
        client.close()
        cluster.close()
    return {
        "case": label, "wall_s": round(wall, 2),
        "input_MiB_per_s": round(nbytes / 2**20 / wall, 1),
        "worker_peak_rss_MiB": [round(p / 2**20, 1) for p in peaks.values()],
        "worker_baseline_rss_MiB": [round(b / 2**20, 1) for b in base.values()],
        "cluster_sampled_peak_MiB": round(sampled / 2**20, 1),
        "worker_restarted": restarted,
    }


SINGLE_CALL = """
import resource, time, numpy as np
from ndpool import blockreduce
n = {n}
i = (np.arange(n, dtype=np.int64) * 7 % 256).astype(np.uint8)
j = (np.arange(n, dtype=np.int64) * 3 % 256).astype(np.uint8)
x = i[:, None, None] + j[None, :, None] + np.array([0, 50, 100], np.uint8)
t = time.perf_counter()
y = blockreduce.block_reduce(x, (2, 2, 1), np.mean)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
      y.nbytes)
"""


def single_call(n):
    env = dict(os.environ, OMP_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", SINGLE_CALL.format(n=n)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    wall, peak, out_bytes = float(out[0]), int(out[1]), int(out[2])
    return {"case": "in-memory block_reduce (one process)", "wall_s": round(wall, 2),
            "input_MiB_per_s": round(n * n * 3 / 2**20 / wall, 1),
            "peak_rss_MiB": round(peak / 2**20, 1), "result_MiB": round(out_bytes / 2**20, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--chunk", type=int, default=2048)
    parser.add_argument("--memory-limit", default="400MiB")
    parser.add_argument("--no-single", action="store_true",
                        help="skip the in-memory single call (needs ~2.5 GiB)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from ndpool import _imageio, blockreduce
    from ndpool._dask import dask_aware

    n, nbytes = args.size, args.size * args.size * 3
    results = []

    def reduce_mean(client):
        x = structured_image(n, args.chunk)
        y = dask_aware(blockreduce.block_reduce)(x, (2, 2, 1), np.mean)
        return client.compute(y.sum(), sync=True)

    def pyramid_sums(client):
        x = structured_image(n, args.chunk)
        levels = dask_aware(blockreduce.pyramid)(x, 2, "mean", channel_axis=-1)
        return client.compute([lv.sum() for lv in levels[1:]], sync=True)

    def pyramid_zarr(client):
        x = structured_image(n, args.chunk)
        levels = dask_aware(blockreduce.pyramid)(x, 2, "mean", channel_axis=-1)
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
            _imageio.write_ngff(os.path.join(tmp, "bench.zarr"), levels,
                                factor_per_axis=[2, 2, 1], channel=2, method="mean",
                                name="bench", progress=False)

    depth = len(dask_aware(blockreduce.pyramid)(structured_image(n, args.chunk), 2, "mean",
                                                  channel_axis=-1))
    for label, build in [("block_reduce (2,2,1) mean -> sum", reduce_mean),
                         (f"pyramid mean, {depth} levels -> sums", pyramid_sums),
                         ("pyramid mean -> OME-Zarr on disk", pyramid_zarr)]:
        results.append(run_case(args.memory_limit, label, build, nbytes))
        print(json.dumps(results[-1]), flush=True)
    if not args.no_single:
        results.append(single_call(n))
        print(json.dumps(results[-1]), flush=True)
    report = {
        "image": f"{n} x {n} x 3 uint8 ({nbytes / 2**20:.0f} MiB), chunks {args.chunk}",
        "cluster": f"LocalCluster: 2 worker processes x 1 thread, memory_limit "
                   f"{args.memory_limit} each",
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "load_average": os.getloadavg()},
        "results": results,
    }
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    print(json.dumps(report, indent=2))
    bad = [r for r in results if r.get("worker_restarted")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
