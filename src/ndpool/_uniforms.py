"""Uniform variates for stochastic pooling, drawn on several threads.

``uniforms(rng, shape, nthreads)`` returns exactly ``rng.random(shape)`` and
leaves ``rng`` in exactly the state that call would: a seed reproduces a
sample for any ``workers``.  A float64 variate takes one 64-bit output of the
bit generator, so when the bit generator can jump ahead (``advance``: PCG64,
NumPy's default, and PCG64DXSM) the draw is cut into ``nthreads`` runs: run k
comes from a copy of the generator advanced past the runs before it, and the
copies fill their parts of the output at the same time (NumPy releases the
GIL while it fills an array).  Other bit generators draw in one call.

Stochastic pooling of the catalogue input needs 2.1 million variates: 4.8 ms
on one thread here (2.3 ns each, a seventh of the call), 3.3 ms on two.
"""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_JUMPABLE = (np.random.PCG64, np.random.PCG64DXSM)
SPLIT_MIN = 1 << 18          # fewer variates a thread: one call is quicker


def uniforms(rng, shape, nthreads):
    """``rng.random(shape)`` (float64), drawn on up to ``nthreads`` threads."""
    n = math.prod(shape)
    bg = rng.bit_generator
    parts = min(nthreads, n // SPLIT_MIN)
    if parts < 2 or type(bg) not in _JUMPABLE:
        return rng.random(shape)
    start = bg.state
    cuts = [k * n // parts for k in range(parts + 1)]
    out = np.empty(n, np.float64)

    def fill(k):
        copy = type(bg)()
        copy.state = start
        if cuts[k]:
            copy.advance(cuts[k])
        np.random.Generator(copy).random(out=out[cuts[k]:cuts[k + 1]])

    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(fill, range(parts)))
    # rng goes on as after one call.  advance() drops the buffered 32-bit half
    # that a 32-bit draw may have left; a float64 draw does not touch it.
    end = type(bg)()
    end.state = start
    end.advance(n)
    state = end.state
    state["has_uint32"], state["uinteger"] = start["has_uint32"], start["uinteger"]
    bg.state = state
    return out.reshape(shape)
