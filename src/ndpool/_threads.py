"""Thread counts: resolved in Python to an int >= 1 before a kernel starts."""
import os
import time

from ._planning import as_size


def _cores():
    """Cores this process may run on (asked again at most every 0.1 s)."""
    now = time.monotonic()
    if now - _AFFINITY[1] > 0.1:
        _AFFINITY[:] = [_affinity(), now]
    return _AFFINITY[0]


def _affinity():
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# [cores, when asked]: the system call is a tenth of a small call's cost, and
# the answer changes only when someone calls sched_setaffinity.
_AFFINITY = [1, -1.0]


def available_cores():
    """Cores this process may use, capped by OMP_NUM_THREADS when it is set."""
    n = _cores()
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        n = min(n, int(env))
    return max(n, 1)


def resolve_workers(workers):
    """``None`` or -1: every available core; n >= 1: at most n threads.

    An explicit n is honoured over OMP_NUM_THREADS but capped at the cores the
    process may run on: more threads than cores only add switching to these
    compute-bound loops, and ``workers=10**6`` must not start a million threads.
    """
    if workers is None or (not isinstance(workers, bool) and workers == -1):
        return available_cores()
    return min(as_size(workers, "workers"), _cores())


def clamp(nthreads, work):
    """No more threads than independent pieces of work (and at least one)."""
    return int(max(1, min(nthreads, work)))


# Below this many elements per thread, starting and joining threads costs more
# than it saves (and on a busy machine a late thread stalls the whole call).
GRAIN = 32768


def threads_for(nthreads, elements):
    """Threads for a pass touching ``elements`` input elements: at least GRAIN each."""
    return clamp(nthreads, elements // GRAIN)
