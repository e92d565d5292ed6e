# cython: freethreading_compatible = True
"""Non-separable window reductions: gather each N-D window, then reduce it.

Median, SoftPool, log-sum-exp, stochastic pooling and learned (weighted)
windows cannot be computed one axis at a time.  These kernels visit every
output position of a C-contiguous input, copy its window's valid taps into a
per-thread buffer in row-major order, and reduce the buffer.

Every axis is described the same way: output length ``oshape[a]``, and per
output position ``o`` a first valid tap ``starts[a, o]``, a tap count
``counts[a, o]`` and a dilation ``dil[a]``.  An unpooled axis is simply a
window of one tap starting at ``o``, so one odometer serves every layout
(channels-first, channels-last, any batch axes).  ``skips[a, o]`` is how many
kernel taps were clipped before the first valid one, so weighted windows know
which kernel weight each tap meets.  The facade plans all of this; nothing here
validates or raises.
"""
from cython.parallel cimport parallel, prange
from libc.math cimport exp, expm1, fabs, floor, fmod, log, log1p, pow, INFINITY, NAN
from libc.stdlib cimport free, malloc

from ndpool._kernels._fused cimport numeric
from ndpool._kernels._rows cimport chunk_count

ctypedef Py_ssize_t intp

# Reduction codes shared with ndpool/_gather.py.
cdef enum:
    SOFTPOOL = 0
    LSE = 1
    STOCH_EXPECT = 2
    LP = 3            # (sum |x|^p)^(1/p)
    POWER_MEAN = 4    # (mean x^p)^(1/p)


cdef struct Geometry:
    intp ndim
    intp width            # row length of the (ndim, width) plan tables
    const intp* oshape
    const intp* starts
    const intp* counts
    const intp* skips
    const intp* dil
    const intp* istride   # input strides in elements
    const intp* kstride   # strides of the full kernel's taps (0 on unpooled axes)
    const intp* pstride   # strides of the pooled sub-shape (0 on unpooled axes)


cdef Geometry make_geometry(const intp[::1] oshape, const intp[:, ::1] starts,
                            const intp[:, ::1] counts, const intp[:, ::1] skips,
                            const intp[::1] dil, const intp[::1] istride,
                            const intp[::1] kstride, const intp[::1] pstride):
    cdef Geometry g
    g.ndim = oshape.shape[0]
    g.width = starts.shape[1]
    g.oshape = &oshape[0]
    g.starts = &starts[0, 0]
    g.counts = &counts[0, 0]
    g.skips = &skips[0, 0]
    g.dil = &dil[0]
    g.istride = &istride[0]
    g.kstride = &kstride[0]
    g.pstride = &pstride[0]
    return g


cdef inline void decode(intp r, const Geometry* g, intp* o) noexcept nogil:
    """Flat output index -> multi-index."""
    cdef intp a
    for a in range(g.ndim - 1, -1, -1):
        o[a] = r % g.oshape[a]
        r = r // g.oshape[a]


cdef inline void advance(const Geometry* g, intp* o) noexcept nogil:
    """Next output multi-index in C order."""
    cdef intp a = g.ndim - 1
    while a >= 0:
        o[a] = o[a] + 1
        if o[a] < g.oshape[a]:
            return
        o[a] = 0
        a = a - 1


cdef inline intp gather(const numeric* x, const Geometry* g, const intp* o,
                        intp* j, numeric* buf, intp* ktap) noexcept nogil:
    """Copy the valid taps of window ``o`` into ``buf`` (row-major); return how many.

    If ``ktap`` is not NULL it receives, per tap, its index in the full kernel.
    """
    cdef intp a, n = 0, off = 0, kt = 0, c, row
    for a in range(g.ndim):
        row = a * g.width + o[a]
        if g.counts[row] == 0:
            return 0
        j[a] = 0
        off = off + g.starts[row] * g.istride[a]
        kt = kt + g.skips[row] * g.kstride[a]
    while True:
        buf[n] = x[off]
        if ktap != NULL:
            ktap[n] = kt
        n = n + 1
        a = g.ndim - 1
        while a >= 0:
            c = g.counts[a * g.width + o[a]]
            j[a] = j[a] + 1
            off = off + g.dil[a] * g.istride[a]
            kt = kt + g.kstride[a]
            if j[a] < c:
                break
            off = off - c * g.dil[a] * g.istride[a]
            kt = kt - c * g.kstride[a]
            j[a] = 0
            a = a - 1
        if a < 0:
            return n


cdef inline intp pooled_index(const Geometry* g, const intp* o, intp t) noexcept nogil:
    """Flat index in the pooled sub-shape of the ``t``-th valid tap of window ``o``."""
    cdef intp a, c, row, idx = 0
    for a in range(g.ndim - 1, -1, -1):
        row = a * g.width + o[a]
        c = g.counts[row]
        idx = idx + (g.starts[row] + (t % c) * g.dil[a]) * g.pstride[a]
        t = t // c
    return idx


# ---- median ---------------------------------------------------------------------

cdef inline void swap(numeric* v, intp i, intp k) noexcept nogil:
    cdef numeric t = v[i]
    v[i] = v[k]
    v[k] = t


cdef numeric select(numeric* v, intp n, intp k) noexcept nogil:
    """The k-th smallest of v[0:n] (Hoare's quickselect, median-of-three pivot)."""
    cdef intp lo = 0, hi = n - 1, i, m, store
    cdef numeric pivot
    while hi > lo:
        m = lo + (hi - lo) // 2
        if v[m] < v[lo]:
            swap(v, m, lo)
        if v[hi] < v[lo]:
            swap(v, hi, lo)
        if v[hi] < v[m]:
            swap(v, hi, m)
        pivot = v[m]
        swap(v, m, hi)
        store = lo
        for i in range(lo, hi):
            if v[i] < pivot:
                swap(v, i, store)
                store = store + 1
        swap(v, store, hi)
        if store == k:
            return v[k]
        if store < k:
            lo = store + 1
        else:
            hi = store - 1
    return v[k]


cdef inline numeric midpoint(numeric a, numeric b) noexcept nogil:
    """(a + b) / 2: np.median's rounding for floats; integers round down, never overflowing."""
    if numeric is float or numeric is double:
        return (a + b) / 2
    else:
        return (a >> 1) + (b >> 1) + (a & b & 1)


cdef numeric median_of(numeric* v, intp n) noexcept nogil:
    cdef intp i
    cdef numeric lower, upper
    if numeric is float or numeric is double:
        for i in range(n):
            if v[i] != v[i]:
                return v[i]
    lower = select(v, n, (n - 1) // 2)
    if n % 2:
        return lower
    upper = v[n // 2]
    for i in range(n // 2 + 1, n):    # the upper median is the smallest above the cut
        if v[i] < upper:
            upper = v[i]
    return midpoint(lower, upper)


def median(const numeric[::1] x, numeric[::1] out,
           const intp[::1] oshape, const intp[:, ::1] starts, const intp[:, ::1] counts,
           const intp[:, ::1] skips, const intp[::1] dil, const intp[::1] istride,
           const intp[::1] kstride, const intp[::1] pstride,
           intp max_taps, int nthreads):
    """out[r] = median of window r (np.median; integers rounded down). Empty -> 0."""
    cdef Geometry g = make_geometry(oshape, starts, counts, skips, dil, istride,
                                    kstride, pstride)
    cdef intp total = out.shape[0], nchunks = chunk_count(total, nthreads)
    cdef intp ch, r, r1, n
    cdef intp* o
    cdef intp* j
    cdef numeric* buf
    with nogil, parallel(num_threads=nthreads):
        o = <intp*>malloc(2 * g.ndim * sizeof(intp))
        j = o + g.ndim
        buf = <numeric*>malloc(max_taps * sizeof(numeric))
        for ch in prange(nchunks, schedule="static"):
            r = ch * total // nchunks
            r1 = (ch + 1) * total // nchunks
            decode(r, &g, o)
            while r < r1:
                n = gather(&x[0], &g, o, j, buf, NULL)
                out[r] = median_of(buf, n) if n else 0
                advance(&g, o)
                r = r + 1
        free(buf)
        free(o)


# ---- float-valued reductions --------------------------------------------------------

cdef double infinite_power_mean(numeric* v, intp n, double p) noexcept nogil:
    """The power mean when an element is infinite: the infinite elements dominate.

    (+inf)^p = +inf; (-inf)^p is -inf for odd integer p and +inf for even p
    (non-integer p with a negative value was answered NaN by the caller).
    """
    cdef intp i
    cdef bint pos = False, neg = False
    cdef bint odd = floor(p) == p and fmod(p, 2) == 1
    for i in range(n):
        if <double>v[i] == INFINITY:
            pos = True
        elif <double>v[i] == -INFINITY:
            neg = True
    if neg and odd:
        return NAN if pos else -INFINITY
    return INFINITY


cdef double small_power_mean(numeric* v, intp n, double big, double p) noexcept nogil:
    """(mean t^p)^(1/p) of t = v / big in [0, 1], for 0 < p < 1 (no negative v).

    With y = log t: t^p = 1 + expm1(p y), and the power mean is
    exp(log1p(mean(expm1(p y))) / p), which keeps its digits as p -> 0, where
    pow(mean, 1 / p) raises a rounded 1 to a huge power.  Once p max|y| < 1e-17,
    the second-order term is below the double precision and the limit, the
    geometric mean exp(mean(y)), is the answer.
    """
    cdef intp i
    cdef double y, ymax = 0, s = 0
    for i in range(n):
        y = -log(<double>v[i] / big)
        if y > ymax:
            ymax = y
    if p * ymax < 1e-17:
        for i in range(n):
            s = s + log(<double>v[i] / big)
        return exp(s / n)
    for i in range(n):
        s = s + expm1(p * log(<double>v[i] / big))
    return exp(log1p(s / n) / p)


cdef double power_reduce(numeric* v, intp n, bint absolute, double p) noexcept nogil:
    """Lp norm or power mean, computed on x / max|x| so x^p neither overflows nor underflows."""
    cdef intp i
    cdef double big = 0, a, t, s = 0, mean
    if not absolute and floor(p) != p:  # a negative value has no real non-integer power
        for i in range(n):
            if <double>v[i] < 0:
                return NAN
    for i in range(n):                  # NaN was handled by the caller
        a = fabs(<double>v[i])
        if a > big:
            big = a
    if big == 0:
        return 0.0
    if big == INFINITY:
        return INFINITY if absolute else infinite_power_mean(v, n, p)
    if p == 1:
        # The plain sum rounds as avg_pool / sum_pool do (power_mean_pool(x, 1) is
        # avg_pool exactly); only if it overflows is the scaled sum below needed.
        for i in range(n):
            s = s + (fabs(<double>v[i]) if absolute else <double>v[i])
        if fabs(s) != INFINITY:
            return s if absolute else s / n
        s = 0
    if not absolute and p < 1:
        return big * small_power_mean(v, n, big, p)
    for i in range(n):
        t = <double>v[i] / big
        if absolute:
            t = fabs(t)
        s = s + (t * t if p == 2 else (t if p == 1 else pow(t, p)))
    if absolute:
        return big * pow(s, 1 / p)
    mean = s / n
    if mean < 0 and floor(p) == p and fmod(p, 2) == 1:   # odd p: a real, negative root
        return -big * pow(-mean, 1 / p)
    return big * pow(mean, 1 / p)


cdef double reduce_float(numeric* v, intp n, int method, double param) noexcept nogil:
    cdef intp i
    cdef double m = -INFINITY, s0 = 0, s1 = 0, a, e
    for i in range(n):
        a = <double>v[i]
        if a != a:
            return NAN
        if a > m:
            m = a
    if method == LP or method == POWER_MEAN:
        return power_reduce(v, n, method == LP, param)
    if method == STOCH_EXPECT:
        # Zeiler & Fergus: p_i = a_i / sum(a) over the rectified activations, so
        # the expectation is sum(a^2) / sum(a); computed on a / max(a), which
        # neither overflows nor underflows.  +inf takes all the mass.
        if m == INFINITY or m <= 0:
            return m if m > 0 else 0.0
        for i in range(n):
            a = <double>v[i]
            if a > 0:
                a = a / m
                s0 = s0 + a
                s1 = s1 + a * a
        return m * (s1 / s0)
    if m == INFINITY or m == -INFINITY:
        return m
    for i in range(n):
        a = <double>v[i]
        if method == SOFTPOOL:       # sum(e^a a) / sum(e^a), shifted by the max
            e = exp(a - m)
            if e > 0:                # a = -inf weighs nothing (not 0 * -inf)
                s0 = s0 + e
                s1 = s1 + e * a
        else:                        # LSE: m + log1p(mean(expm1(r (a - m)))) / r
            s0 = s0 + expm1(param * (a - m))
            if m - a > s1:           # (s1: the largest distance to the max)
                s1 = m - a
    if method == SOFTPOOL:
        return s1 / s0
    # expm1 / log1p keep the digits that exp / log lose as r -> 0; once r max(m - a)
    # < 1e-17 the mean (the r -> 0 limit) is exact to double precision.
    if param * s1 < 1e-17:
        s0 = 0
        for i in range(n):
            s0 = s0 + (<double>v[i] - m)
        return m + s0 / n
    return m + log1p(s0 / n) / param


def float_reduce(const numeric[::1] x, double[::1] out, int method, double param,
                 const intp[::1] oshape, const intp[:, ::1] starts,
                 const intp[:, ::1] counts, const intp[:, ::1] skips,
                 const intp[::1] dil, const intp[::1] istride, const intp[::1] kstride,
                 const intp[::1] pstride, intp max_taps, int nthreads):
    """out[r] = softpool / lse / stochastic expectation of window r. Empty -> 0."""
    cdef Geometry g = make_geometry(oshape, starts, counts, skips, dil, istride,
                                    kstride, pstride)
    cdef intp total = out.shape[0], nchunks = chunk_count(total, nthreads)
    cdef intp ch, r, r1, n
    cdef intp* o
    cdef intp* j
    cdef numeric* buf
    with nogil, parallel(num_threads=nthreads):
        o = <intp*>malloc(2 * g.ndim * sizeof(intp))
        j = o + g.ndim
        buf = <numeric*>malloc(max_taps * sizeof(numeric))
        for ch in prange(nchunks, schedule="static"):
            r = ch * total // nchunks
            r1 = (ch + 1) * total // nchunks
            decode(r, &g, o)
            while r < r1:
                n = gather(&x[0], &g, o, j, buf, NULL)
                out[r] = reduce_float(buf, n, method, param) if n else 0.0
                advance(&g, o)
                r = r + 1
        free(buf)
        free(o)


def float_reduce_at(const numeric[::1] x, double[::1] out, const intp[::1] which,
                    int method, double param,
                    const intp[::1] oshape, const intp[:, ::1] starts,
                    const intp[:, ::1] counts, const intp[:, ::1] skips,
                    const intp[::1] dil, const intp[::1] istride, const intp[::1] kstride,
                    const intp[::1] pstride, intp max_taps, int nthreads):
    """out[k] = float_reduce's value of window which[k] (flat output indices).

    For the few windows a faster path could not compute exactly."""
    cdef Geometry g = make_geometry(oshape, starts, counts, skips, dil, istride,
                                    kstride, pstride)
    cdef intp total = which.shape[0], nchunks = chunk_count(total, nthreads)
    cdef intp ch, k, k1, n
    cdef intp* o
    cdef intp* j
    cdef numeric* buf
    with nogil, parallel(num_threads=nthreads):
        o = <intp*>malloc(2 * g.ndim * sizeof(intp))
        j = o + g.ndim
        buf = <numeric*>malloc(max_taps * sizeof(numeric))
        for ch in prange(nchunks, schedule="static"):
            k = ch * total // nchunks
            k1 = (ch + 1) * total // nchunks
            while k < k1:
                decode(which[k], &g, o)
                n = gather(&x[0], &g, o, j, buf, NULL)
                out[k] = reduce_float(buf, n, method, param) if n else 0.0
                k = k + 1
        free(buf)
        free(o)


def stochastic_sample(const numeric[::1] x, numeric[::1] out, intp[::1] index,
                      const double[::1] u,
                      const intp[::1] oshape, const intp[:, ::1] starts,
                      const intp[:, ::1] counts, const intp[:, ::1] skips,
                      const intp[::1] dil, const intp[::1] istride,
                      const intp[::1] kstride, const intp[::1] pstride,
                      intp max_taps, int nthreads):
    """Draw one tap per window with probability a_i / sum(a), a = max(x, 0).

    ``u[r]`` in [0, 1) is the uniform variate of window r, drawn by the caller,
    so the result does not depend on the thread count.  A window whose
    activations are all <= 0 draws uniformly and outputs 0; +inf activations
    hold all the mass (one of them is drawn).  NaN -> NaN.
    """
    cdef Geometry g = make_geometry(oshape, starts, counts, skips, dil, istride,
                                    kstride, pstride)
    cdef intp total = out.shape[0], nchunks = chunk_count(total, nthreads)
    cdef intp ch, r, r1, n, i, pick, ninf, k
    cdef double s, target, a
    cdef bint has_nan
    cdef intp* o
    cdef intp* j
    cdef numeric* buf
    with nogil, parallel(num_threads=nthreads):
        o = <intp*>malloc(2 * g.ndim * sizeof(intp))
        j = o + g.ndim
        buf = <numeric*>malloc(max_taps * sizeof(numeric))
        for ch in prange(nchunks, schedule="static"):
            r = ch * total // nchunks
            r1 = (ch + 1) * total // nchunks
            decode(r, &g, o)
            while r < r1:
                n = gather(&x[0], &g, o, j, buf, NULL)
                s = 0
                has_nan = False
                pick = -1
                ninf = 0
                for i in range(n):
                    a = <double>buf[i]
                    if a != a:
                        has_nan = True
                        pick = i
                    elif a == INFINITY:
                        ninf = ninf + 1
                    elif a > 0:
                        s = s + a
                if ninf and not has_nan:
                    # Infinite activations hold all the mass: draw one of them.
                    k = <intp>(u[r] * ninf)
                    for i in range(n):
                        if <double>buf[i] == INFINITY:
                            if k == 0:
                                pick = i
                                break
                            k = k - 1
                if n == 0:
                    out[r] = 0
                    index[r] = -1
                else:
                    if not has_nan and not ninf:
                        if s > 0:
                            target = u[r] * s
                            s = 0
                            for i in range(n):
                                a = <double>buf[i]
                                if a > 0:
                                    s = s + a
                                    pick = i   # ends on the last positive tap if
                                    if target < s:   # rounding never crosses target
                                        break
                        else:
                            pick = <intp>(u[r] * n)
                            if pick >= n:
                                pick = n - 1
                    out[r] = buf[pick] if (has_nan or ninf or s > 0) else 0
                    index[r] = pooled_index(&g, o, pick)
                advance(&g, o)
                r = r + 1
        free(buf)
        free(o)


def weighted(const numeric[::1] x, double[:, ::1] out, const double[:, ::1] weights,
             const intp[::1] oshape, const intp[:, ::1] starts,
             const intp[:, ::1] counts, const intp[:, ::1] skips,
             const intp[::1] dil, const intp[::1] istride, const intp[::1] kstride,
             const intp[::1] pstride, intp max_taps, int nthreads):
    """out[r, k] = sum over the valid taps t of window r of weights[k, kernel tap of t] * x_t.

    Padding taps meet their weight with a zero, as in a convolution.
    """
    cdef Geometry g = make_geometry(oshape, starts, counts, skips, dil, istride,
                                    kstride, pstride)
    cdef intp total = out.shape[0], nk = weights.shape[0]
    cdef intp nchunks = chunk_count(total, nthreads)
    cdef intp ch, r, r1, n, i, k
    cdef double acc
    cdef intp* o
    cdef intp* j
    cdef intp* ktap
    cdef numeric* buf
    with nogil, parallel(num_threads=nthreads):
        o = <intp*>malloc((2 * g.ndim + max_taps) * sizeof(intp))
        j = o + g.ndim
        ktap = j + g.ndim
        buf = <numeric*>malloc(max_taps * sizeof(numeric))
        for ch in prange(nchunks, schedule="static"):
            r = ch * total // nchunks
            r1 = (ch + 1) * total // nchunks
            decode(r, &g, o)
            while r < r1:
                n = gather(&x[0], &g, o, j, buf, ktap)
                for k in range(nk):
                    acc = 0
                    for i in range(n):
                        acc = acc + weights[k, ktap[i]] * <double>buf[i]
                    out[r, k] = acc
                advance(&g, o)
                r = r + 1
        free(buf)
        free(o)
