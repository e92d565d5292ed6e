"""Uniform variates for stochastic pooling, drawn on several threads.

``uniforms(rng, shape, nthreads)`` returns exactly ``rng.random(shape)`` and
leaves ``rng`` in exactly the state that call would: a seed reproduces a
sample for any ``workers``.  A float64 variate takes one 64-bit output of the
bit generator.  For NumPy's default bit generator, PCG64, and for PCG64DXSM,
the stream is computed here (``_kernels/_pcg.h``): the generator is a 128-bit
linear congruential one, so any draw's state is an affine map of the current
one, and each of ``nthreads`` threads computes its run of the output from the
state where the run starts.  Other bit generators draw in one NumPy call.

Stochastic pooling of the catalogue input needs 2.1 million variates.  NumPy
draws them in 4.6 ms here (2.2 ns each, one thread); ``_pcg.h`` takes 1.4 ns
a PCG64 draw on one thread (four draws' chains of multiplications overlap)
and half that on two.
"""
import math

import numpy as np

from ._kernels import variates as _v
from ._threads import clamp

_NATIVE = {np.random.PCG64: 0, np.random.PCG64DXSM: 1} if _v.HAVE_PCG else {}
#: Draws a thread gets at least (about 20 microseconds).
GRAIN = 1 << 14
_LOW = (1 << 64) - 1


def uniforms(rng, shape, nthreads):
    """``rng.random(shape)`` (float64), drawn on up to ``nthreads`` threads."""
    n = math.prod(shape)
    bg = rng.bit_generator
    dxsm = _NATIVE.get(type(bg))
    if dxsm is None or n == 0:
        return rng.random(shape)
    with bg.lock:
        start = bg.state
        s, inc = start["state"]["state"], start["state"]["inc"]
        words = np.array([s >> 64, s & _LOW, inc >> 64, inc & _LOW, dxsm], np.uint64)
        out = np.empty(n, np.float64)
        _v.pcg_random(words, 0, out, clamp(nthreads, n // GRAIN))
        # rng goes on as after one call.  advance() drops the buffered 32-bit
        # half that a 32-bit draw may have left; a float64 draw does not touch it.
        bg.advance(n)
        state = bg.state
        state["has_uint32"], state["uinteger"] = start["has_uint32"], start["uinteger"]
        bg.state = state
    return out.reshape(shape)
