"""Uniform variates for stochastic pooling, drawn on several threads.

``uniforms(rng, shape, nthreads)`` returns exactly ``rng.random(shape)`` and
leaves ``rng`` in exactly the state that call would: a seed reproduces a
sample for any ``workers``.  A float64 variate takes one 64-bit output of the
bit generator.  For NumPy's default bit generator, PCG64, and for PCG64DXSM,
the stream is computed here (``_kernels/_pcg.h``): the generator is a 128-bit
linear congruential one, so any draw's state is an affine map of the current
one, and each of ``nthreads`` threads computes its run of the output from the
state where the run starts.  Other bit generators draw in one NumPy call.

The same lets the sampling kernel draw the numbers itself, a row at a time
in each thread (``Draws``: no float64 array of the output's size), and a dask
task draw its own block of them.  ``take(rng, n)`` returns the stream's
description (``words``) and moves ``rng`` past the n draws of a whole
output; ``block(words, shape, start, size)`` computes
``rng.random(shape)[start : start + size]`` (per axis) where it is needed,
without the rest of the array.

Stochastic pooling of the catalogue input needs 2.1 million variates.  NumPy
draws them in 4.6 ms here (2.2 ns each, one thread); ``_pcg.h`` takes 1.4 ns
a PCG64 draw on one thread (four draws' chains of multiplications overlap)
and half that on two.
"""
import math
from dataclasses import dataclass

import numpy as np

from ._kernels import variates as _v
from ._threads import clamp

_NATIVE = {np.random.PCG64: 0, np.random.PCG64DXSM: 1} if _v.HAVE_PCG else {}
#: Draws a thread gets at least (about 20 microseconds).
GRAIN = 1 << 14
_LOW = (1 << 64) - 1


def take(rng, n):
    """The words describing ``rng``'s stream from its next float64 draw on (for
    _kernels.variates), and ``rng`` moved past n such draws; None, and ``rng``
    untouched, where the stream is not computed here (other bit generators)."""
    bg = rng.bit_generator
    dxsm = _NATIVE.get(type(bg))
    if dxsm is None:
        return None
    with bg.lock:
        start = bg.state
        s, inc = start["state"]["state"], start["state"]["inc"]
        words = np.array([s >> 64, s & _LOW, inc >> 64, inc & _LOW, dxsm], np.uint64)
        # rng goes on as after n float64 draws.  advance() drops the buffered
        # 32-bit half that a 32-bit draw may have left; a float64 draw does not
        # touch it.
        bg.advance(n)
        state = bg.state
        state["has_uint32"], state["uinteger"] = start["has_uint32"], start["uinteger"]
        bg.state = state
    return words


@dataclass(frozen=True)
class Draws:
    """The numbers ``rng.random(shape)`` would return after ``first`` float64 draws
    of the stream ``words`` describes (see ``take``), not drawn yet: the stochastic
    sampling kernel draws them itself as it goes (``array`` draws them here)."""
    words: np.ndarray
    first: int
    shape: tuple

    def array(self, nthreads):
        n = math.prod(self.shape)
        out = np.empty(n, np.float64)
        if n:
            _v.pcg_random(self.words, self.first, out, clamp(nthreads, n // GRAIN))
        return out.reshape(self.shape)


def uniforms(rng, shape, nthreads):
    """``rng.random(shape)`` (float64), drawn on up to ``nthreads`` threads."""
    n = math.prod(shape)
    words = take(rng, n) if n else None
    if words is None:
        return rng.random(shape)
    return Draws(words, 0, tuple(shape)).array(nthreads)


def block(words, shape, start, size, nthreads=1):
    """``u[start[0] : start[0] + size[0], ...]`` of the array ``u`` that
    ``rng.random(shape)`` returns right after ``take`` gave ``words``."""
    shape, start, size = tuple(shape), tuple(start), tuple(size)
    out = np.empty(size, np.float64)
    if out.size == 0:
        return out
    # The block is runs of C order: its trailing axes that span the whole array
    # join the last one it cuts, and each run starts at its flat index in u.
    # k: the last axis the block does not span whole (0 if it spans them all).
    k = len(shape) - 1
    while k > 0 and size[k] == shape[k]:
        k -= 1
    firsts = np.zeros(1, np.int64)
    if shape:
        grid = np.indices(size[:k]).reshape(k, math.prod(size[:k]))
        coords = [grid[a] + start[a] for a in range(k)]
        coords.append(np.full(grid.shape[1], start[k]))
        coords += [np.zeros(grid.shape[1], np.intp)] * (len(shape) - k - 1)
        firsts = np.ravel_multi_index(coords, shape).astype(np.int64)
    run = math.prod(size[max(k, 0):])
    _v.pcg_random_runs(words, firsts, out.reshape(-1, run),
                       clamp(nthreads, out.size // GRAIN))
    return out
