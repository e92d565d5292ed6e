# The numeric types the kernels are specialised for, shared by every .pyx.
# bool is handled as uint8 and float16 as float32 by the facade (see _dtypes.py),
# so these ten cover the contract's twelve dtypes.
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t,
                          uint8_t, uint16_t, uint32_t, uint64_t)

ctypedef fused numeric:
    int8_t
    uint8_t
    int16_t
    uint16_t
    int32_t
    uint32_t
    int64_t
    uint64_t
    float
    double

# Accumulators for sums: exact 64-bit integers, or double for floats.
ctypedef fused accum:
    int64_t
    uint64_t
    double

# Float results of means of any input (float32 for float16/32 input, else float64).
ctypedef fused real:
    float
    double

# Rows of folded integer windows (window.pyx: int32 for 8- and 16-bit input).
ctypedef fused wide:
    int32_t
    int64_t
    uint64_t
    double
