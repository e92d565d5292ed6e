# How the kernels share out rows among threads.  A prange runs over chunk_count
# chunks of rows, chunk ch covering rows [ch * rows // n, (ch + 1) * rows // n).
# The fused sweeps (window.pyx, smooth.pyx) start a chunk at (b, od, oh) =
# row_at(r, ...) and count on with next_row, with no division per (short) row.
# row_at returns a C tuple, so the caller assigns the three names itself and
# Cython's prange keeps them private to the thread.

cdef inline Py_ssize_t chunk_count(Py_ssize_t rows, int nthreads) noexcept nogil:
    """Enough chunks to balance threads, few enough to amortise their setup."""
    cdef Py_ssize_t n = 8 * <Py_ssize_t>nthreads
    return rows if rows < n else n


cdef inline (Py_ssize_t, Py_ssize_t, Py_ssize_t) row_at(
        Py_ssize_t r, Py_ssize_t ho, Py_ssize_t do) noexcept nogil:
    """Output row r of a (outer, Do, Ho) grid in C order -> (b, od, oh)."""
    return r // (do * ho), (r // ho) % do, r % ho


cdef inline void next_row(Py_ssize_t* oh, Py_ssize_t* od, Py_ssize_t* b,
                          Py_ssize_t ho, Py_ssize_t do) noexcept nogil:
    """(b, od, oh) -> the next output row of a (outer, Do, Ho) grid, in C order."""
    oh[0] = oh[0] + 1
    if oh[0] == ho:
        oh[0] = 0
        od[0] = od[0] + 1
        if od[0] == do:
            od[0] = 0
            b[0] = b[0] + 1
