"""The dtype policy: which dtypes are accepted, what kernels see, what is returned.

* max / min / median keep the input dtype.
* sum follows ``np.sum``: bool and signed ints widen to int64, unsigned ints
  to uint64, floats keep their dtype.
* avg and other float-valued methods keep float16/32/64 and return float64 for
  bool and integer input (``np.mean``).
* Kernels see ten types (see _kernels/_fused.pxd): bool is viewed as uint8,
  float16 is computed in float32, byte-swapped data is converted to native.
  Sums accumulate in int64 / uint64 / float64, so an integer image never wraps
  before its result type does.
"""
import numpy as np

_KINDS = "biuf"


def check_dtype(x, name="x"):
    dt = x.dtype
    if dt.kind not in _KINDS or dt.itemsize > 8 or dt.fields is not None:
        raise TypeError(f"{name} must have a boolean, integer or float dtype "
                        f"(float16/32/64), got dtype {dt!s}")
    return dt


def as_array(x, name="x"):
    """``np.asarray`` plus the dtype check; the input is never modified."""
    arr = np.asarray(x)
    check_dtype(arr, name)
    if not arr.flags.aligned:
        # Kernels (and the compiler's vector loads) assume each element is aligned
        # to its size; a misaligned view (a byte buffer's offset) is copied first.
        arr = arr.copy()
    return arr


# The ten dtypes kernels take as they are (native byte order).
_KERNEL_TYPES = frozenset(np.dtype(t) for t in (
    np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
    np.int64, np.uint64, np.float32, np.float64))


def kernel_view(x):
    """A C-contiguous, native-endian array of one of the ten kernel types.

    Copies only when the kernels need it (non-contiguous, byte-swapped, float16).
    """
    dt = x.dtype
    if (type(x) is np.ndarray and dt in _KERNEL_TYPES and x.flags.c_contiguous
            and x.flags.aligned):
        return x
    if dt.kind == "f" and dt.itemsize == 2:
        return np.ascontiguousarray(x, dtype=np.float32)
    canonical = np.dtype(f"{'u' if dt.kind == 'b' else dt.kind}{dt.itemsize}")
    x = np.ascontiguousarray(x, dtype=dt.newbyteorder("="))
    if not x.flags.aligned:
        x = x.copy()
    return x.view(canonical)


def sum_dtype(dt):
    if dt.kind in "bi":
        return np.dtype(np.int64)
    if dt.kind == "u":
        return np.dtype(np.uint64)
    return dt.newbyteorder("=")


def mean_dtype(dt):
    return dt.newbyteorder("=") if dt.kind == "f" else np.dtype(np.float64)


def accum_dtype(dt):
    """The accumulator of a sum over elements of dtype ``dt``."""
    return np.dtype(np.float64) if dt.kind == "f" else sum_dtype(dt)


def extreme_values(dt):
    """(lowest, highest) of a dtype: the identities of max and min."""
    if dt.kind == "b":
        return False, True
    if dt.kind == "f":
        return -np.inf, np.inf
    info = np.iinfo(dt)
    return info.min, info.max
