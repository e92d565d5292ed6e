"""Arrays that end against an unreadable page: a read or write past the end faults."""
import ctypes
import mmap

import numpy as np


def guarded(nbytes):
    """A writable uint8 array of ``nbytes`` whose last byte ends a page, the next page
    unreadable: a read or write past its end faults."""
    page = mmap.PAGESIZE
    span = -(-nbytes // page) * page
    buf = mmap.mmap(-1, span + page)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    anchor = ctypes.c_char.from_buffer(buf)
    base = ctypes.addressof(anchor)
    del anchor                                  # (an export would keep buf from closing)
    assert libc.mprotect(base + span, page, 0) == 0, ctypes.get_errno()     # PROT_NONE
    return np.frombuffer(buf, np.uint8, nbytes, span - nbytes), buf


def guarded_empty(shape, dtype):
    """An uninitialised C-contiguous array that ends against an unreadable page.  Its
    mapping is released with the array (and every view of it), like any other."""
    dtype = np.dtype(dtype)
    raw, _ = guarded(int(np.prod(shape)) * dtype.itemsize)
    return raw.view(dtype).reshape(shape)


def guarded_copy(values):
    """A C-contiguous copy of ``values`` that ends against an unreadable page."""
    values = np.asarray(values)
    x = guarded_empty(values.shape, values.dtype)
    x[...] = values
    return x
