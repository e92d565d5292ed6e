"""Hostile input for every public function (issue 7).

Every function in ``ndpool.__all__`` (called as its row in api_table.py says) meets
odd shapes, odd layouts, odd dtypes, extreme values and hand-typed parameters.
Each case must either

* return the correct result: the oracle's (api_table.py), or for layout-only
  changes the result of the same call on a C-contiguous native copy, or
* raise ValueError or TypeError whose message names the argument at fault,

and nothing may crash, hang (``watchdog``, conftest.py) or modify its input:
every array reachable from the arguments, view bases included, is hashed before
and after each call.  Known defects are listed in KNOWN, marked strict xfail, so
that the suite passes until they are fixed and fails once they are (remove the
entry then).  The number of calls tried per function is printed at the end.
"""
from __future__ import annotations

import hashlib
import inspect
import math
import re
import subprocess
import sys

import numpy as np
import pytest

import ndpool
from api_table import CASES, DROP, NOT_POOLING, ROWS, NoOracle, rows_for

pytestmark = pytest.mark.usefixtures("watchdog")

PUBLIC = [name for name in ndpool.__all__ if callable(getattr(ndpool, name, None))]
LIVE = rows_for(PUBLIC)

INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]
# One rounding of a wider result into the output type, with slack.
RTOL = {np.dtype(np.float16): 4e-3, np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}

# Words that name the array argument in an error about its shape or dtype.
ARRAY_WORDS = ("x", "array", "image", "input", "dtype", "dimension", "dimensions", "shape",
               "axis", "axes", "empty")

# "test_name[param id]" -> the defect (see the report in the issue).  Marked strict
# xfail, so a fix makes the test fail until its entry is removed; a defect that hangs
# or crashes the process ("hangs: ...", "crashes: ...") is skipped here instead, and
# reproduced by test_crashes_and_hangs in a child process.
D = {
    1: "D1 max_unpool returns byte-swapped garbage for non-native byte order",
    2: "D2 hangs: a kernel longer than the axis loops over every one of its taps",
    3: "D3 crashes: int64 overflow in roi_align's sample tables (heap overflow)",
    4: "D4 a huge output_size/sampling_ratio/stride/kernel gives MemoryError, OverflowError "
       "or NumPy's message instead of a ValueError naming the argument",
    5: "D5 per-axis length errors do not name the parameter",
    6: "D6 center_pool ignores workers (accepts anything)",
    7: "D7 rng=-1: NumPy's message does not name rng",
    8: "D8 power_mean_pool / lse_pool lose their p -> 0 / r -> 0 limits",
}


# "test_name[param id]" -> why the case is expected to fail (strict xfail; "*" matches
# anything).  Empty: every defect this suite found is fixed (see the git log).
KNOWN = {}


def _params(test, cases):
    """pytest params from (row, case id, payload) triples, with KNOWN defects marked.

    KNOWN is keyed by "test_name[param id]", as pytest prints ids; "*" matches anything.
    """
    out = []
    for row, case, payload in cases:
        test_id = f"{row.id}-{case}"
        full = f"{test}[{test_id}]"
        reason = next((why for pattern, why in KNOWN.items() if _matches(full, pattern)), None)
        if not reason:
            marks = []
        elif "hangs:" in reason or "crashes:" in reason:
            marks = [pytest.mark.skip(reason=f"DEFECT, {reason}")]
        else:
            marks = [pytest.mark.xfail(reason=f"DEFECT: {reason}", strict=True)]
        out.append(pytest.param(row, payload, id=test_id, marks=marks))
    return out


def _matches(test_id, pattern):
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), test_id) is not None


def _accepts(row, name):
    return name in inspect.signature(getattr(ndpool, row.func)).parameters


# Known crashes and hangs of test_crashes_and_hangs (strict xfail there); none left.
KNOWN_CHILD = {}


# ---- calling, fingerprinting, comparing --------------------------------------------------

def _arrays(obj, seen=None):
    """Every ndarray reachable from obj (lists, tuples, dicts, view bases)."""
    if isinstance(obj, np.ndarray):
        while isinstance(obj, np.ndarray):
            yield obj
            obj = obj.base
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _arrays(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _arrays(item)
    elif hasattr(obj, "__array__") and hasattr(obj, "dask"):   # a dask array: its chunks
        yield from _arrays(list(obj.dask.values()))


def fingerprint(obj):
    """A digest of the bytes, dtype, shape, strides and flags of every reachable array."""
    h = hashlib.sha256()
    for a in _arrays(obj):
        h.update(repr((a.dtype.str, a.shape, a.strides, a.flags.writeable)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


class Outcome:
    def __init__(self, value=None, error=None):
        self.value, self.error = value, error

    def __repr__(self):
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        return f"result {_describe(self.value)}"


def _describe(v):
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_describe(i) for i in v) + "]"
    v = np.asarray(v)
    return f"{v.dtype}{v.shape}"


def attempt(row, x, *, modifies=(), **changes):
    """Call ``row`` on ``x`` with ``changes``; the input must come back untouched.

    ``modifies`` names keywords the call may write (``out``).  Only ValueError and
    TypeError count as answers; any other exception fails the test.
    """
    kw = row.keywords(x, **changes)
    first = row.first_arg(x)
    watched = [first, {k: v for k, v in kw.items() if k not in modifies}]
    before = fingerprint(watched)
    CASES[row.func] += 1
    try:
        outcome = Outcome(value=getattr(ndpool, row.func)(first, **kw))
    except (ValueError, TypeError) as e:
        outcome = Outcome(error=e)
    except Exception as e:   # noqa: BLE001 (the point: nothing else may escape)
        pytest.fail(f"{row.id}{_show(changes)} raised {type(e).__name__} "
                    f"(not ValueError/TypeError): {e}")
    if "x" not in modifies:
        assert fingerprint(watched) == before, f"{row.id}{_show(changes)} modified its input"
    return outcome


def _show(changes):
    return "(" + ", ".join(f"{k}={_short(v)}" for k, v in changes.items()) + ")"


def _short(v):
    return _describe(v) if isinstance(v, np.ndarray) else repr(v)


def names(error, candidates):
    """Does the error message name one of the candidates (as a word; "output size"
    names output_size)?"""
    msg = str(error)
    words = set(candidates) | {c.replace("_", " ") for c in candidates}
    words |= {w[:-2] if w.endswith("es") else w[:-1] for w in words if w.endswith("s")}
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(c)}(?![A-Za-z0-9])", msg)
               for c in words)


def expected(row, x, **changes):
    """The oracle's result for the call, or None if it does not model it."""
    if row.oracle is None:
        return None
    try:
        return row.oracle(row.first_arg(np.asarray(x)), row.keywords(x, **changes))
    except NoOracle:
        return None


def assert_same(got, want, *, x=None, exact=True, what="", any_byte_order=False, rtol=1.0):
    """Same type, dtype and shape; values equal (NaN == NaN), floats within tolerance.

    Float tolerance: RTOL of the result dtype relative to the value, plus the same
    relative to the largest finite input magnitude (for sums that cancel).
    """
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), \
            f"{what}: got {_describe(got)}, want {_describe(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, x=x, exact=exact, what=f"{what}[{i}]",
                        any_byte_order=any_byte_order, rtol=rtol)
        return
    got, want = np.asarray(got), np.asarray(want)
    if any_byte_order:
        got, want = (a.astype(a.dtype.newbyteorder("=")) for a in (got, want))
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, want {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, want {want.shape}"
    if want.dtype.kind != "f" or (exact and x is None):
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    rtol = rtol * RTOL.get(want.dtype.newbyteorder("="), 1e-12)
    scale = 0.0
    if x is not None and np.asarray(x).dtype.kind in "biuf" and np.asarray(x).size:
        mag = np.abs(np.asarray(x, dtype=np.float64))
        scale = float(mag[np.isfinite(mag)].max(initial=0.0))
    tiny = float(np.finfo(want.dtype).smallest_subnormal)    # oracles round subnormals
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                               atol=max(8 * rtol * scale, 4 * tiny), equal_nan=True,
                               err_msg=what)


def check_result(row, x, outcome, *, must_fail=False, blame=(), **changes):
    """The common verdict: an error naming one of ``blame``, or the oracle's result."""
    if outcome.error is not None:
        assert names(outcome.error, blame), \
            f"{row.id}{_show(changes)}: message does not name {blame}: {outcome}"
        return
    assert not must_fail, f"{row.id}{_show(changes)} was accepted: {outcome}"
    want = expected(row, x, **changes)
    if want is not None:
        assert_same(outcome.value, want, x=x, what=f"{row.id}{_show(changes)}", rtol=row.rtol)


def sample(shape, dtype=np.float64, seed=0):
    """Small, mostly distinct values of ``dtype``."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        lo = 0 if dt.kind == "u" else -60
        return rng.integers(lo, lo + 120, shape).astype(dt)
    return (8 * rng.standard_normal(shape)).astype(dt)


# ---- coverage -----------------------------------------------------------------------------

def test_every_public_function_has_a_row():
    """A new public function needs a row in api_table.py (how to call it, its oracle)."""
    missing = [n for n in PUBLIC if n not in NOT_POOLING and not any(r.func == n for r in ROWS)]
    assert not missing, f"add rows to tests/api_table.py for {missing}"


def test_minimal_calls_match_their_oracles():
    """Every row's minimal call is valid and equals its oracle (the baseline of the rest)."""
    for row in LIVE:
        for dtype in (np.float64, np.float32, np.int32, np.uint8, np.bool_):
            x = sample(row.shape, dtype)
            got = attempt(row, x)
            assert got.error is None, f"{row.id} on {np.dtype(dtype)}: {got}"
            want = expected(row, x)
            if want is not None:
                assert_same(got.value, want, x=x, what=f"{row.id} {np.dtype(dtype)}",
                            rtol=row.rtol)


# ---- layouts: the same values, seen differently --------------------------------------------

def _strided(a):
    big = np.zeros(tuple(2 * n + 1 for n in a.shape), a.dtype)
    view = big[tuple(slice(1, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def _unaligned(a):
    if a.dtype.itemsize == 1:
        return a.copy()
    buf = np.zeros(a.nbytes + 1, np.uint8)
    view = buf[1:].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


def _read_only_copy(a):
    c = np.array(a)
    c.flags.writeable = False
    return c


def _read_only(a):
    c = a.copy()
    c.flags.writeable = False
    return c


def _dask(a):
    da = pytest.importorskip("dask.array")
    ragged = tuple(tuple(c for c in (1, n - 1) if c) if n > 1 else (n,) for n in a.shape)
    return da.from_array(a, chunks=ragged)


LAYOUTS = {
    "fortran": np.asfortranarray,
    "reversed": lambda a: np.flip(np.flip(a).copy()),              # negative strides
    "strided": _strided,
    "swapped": lambda a: a.astype(a.dtype.newbyteorder()),          # non-native byte order
    "read-only": _read_only,
    "unaligned": _unaligned,
    "broadcast": lambda a: np.broadcast_to(a[:1], a.shape),         # zero stride, read-only
    "broadcast-scalar": lambda a: np.broadcast_to(a.flat[0], a.shape),
    "list": lambda a: a.tolist(),
    "matrix": lambda a: np.asmatrix(a) if a.ndim == 2 else a,
    "dask-ragged": _dask,
}
LAYOUT_DTYPES = [np.float64, np.float32, np.float16, np.int16, np.uint32, np.int64,
                 np.uint64, np.uint8, np.bool_]


@pytest.mark.parametrize("row,layout", _params("test_layouts",
    [(r, name, name) for r in LIVE for name in LAYOUTS]))
def test_layouts(row, layout):
    """Any layout gives the result of the same call on a C-contiguous native copy."""
    for dtype in LAYOUT_DTYPES:
        if layout == "list" and np.dtype(dtype) not in (np.dtype(np.float64),
                                                        np.dtype(np.int64), np.dtype(bool)):
            continue
        x = LAYOUTS[layout](sample(row.shape, dtype))
        native = np.ascontiguousarray(np.asarray(x), np.asarray(x).dtype.newbyteorder("="))
        base = attempt(row, native)
        got = attempt(row, x)
        what = f"{row.id} {layout} {np.dtype(dtype)}"
        assert (got.error is None) == (base.error is None), f"{what}: {got} vs {base}"
        if got.error is None:
            value = got.value
            if hasattr(value, "compute"):
                value = value.compute()
            # (pyramid's level 0 is its input itself, in the input's byte order)
            assert_same(value, base.value, exact=row.exact, x=None if row.exact else native,
                        what=what, any_byte_order=True, rtol=row.rtol)


# ---- shapes --------------------------------------------------------------------------------

def _shape_cases(shape):
    cases = {"0-d": (), "1-D": shape[-1:], "batch": (2,) + shape, "empty-batch": (0,) + shape,
             "all-ones": (1,) * len(shape)}
    for i in range(len(shape)):
        cases[f"empty-axis{i}"] = shape[:i] + (0,) + shape[i + 1:]
        cases[f"one-axis{i}"] = shape[:i] + (1,) + shape[i + 1:]
        cases[f"odd-axis{i}"] = shape[:i] + (shape[i] + 3,) + shape[i + 1:]
    cases["all-empty"] = (0,) * len(shape)
    return cases


@pytest.mark.parametrize("row,shape", _params("test_shapes",
    [(r, name, s) for r in LIVE for name, s in _shape_cases(r.shape).items()]))
def test_shapes(row, shape):
    """Empty, 0-d, size-1 and odd shapes: the oracle's result, or an error about x.

    Window functions pool an empty axis to an empty axis (DESIGN), even where
    PyTorch's length rule (the oracle's) would give a window in the padding.
    """
    window_family = _accepts(row, "kernel_size")
    for dtype in (np.float64, np.uint8):
        x = sample(shape, dtype)
        got = attempt(row, x)
        want = expected_or_none(row, x)
        what = f"{row.id} on {np.dtype(dtype)}{shape}"
        if got.error is not None:
            assert names(got.error, (row.first,) + ARRAY_WORDS + tuple(row.keywords(x))), \
                f"{what}: the message names no argument: {got}"
            assert not (window_family and x.size == 0 and want is not None), \
                f"{what} raised {got}; an empty input must give an empty result"
        elif window_family and x.size == 0 and want is not None and _size(want):
            assert _size(got.value) == 0, f"{what}: got {_describe(got.value)}"
        elif want is not None:
            assert_same(got.value, want, x=x, what=what, rtol=row.rtol)


def _size(result):
    if isinstance(result, (list, tuple)):
        return sum(_size(r) for r in result)
    return np.asarray(result).size


def expected_or_none(row, x, **changes):
    try:
        return expected(row, x, **changes)
    except Exception:   # noqa: BLE001 (an oracle that cannot pool this shape)
        return None


# ---- integer parameters -----------------------------------------------------------------------

SIZE_ATTACKS = {
    "2**40": 2**40, "2**62": 2**62, "2**63": 2**63, "2**64": 2**64, "-2**63": -2**63, "-1": -1, "0": 0,
    "2.5": 2.5, "2.0": 2.0, "True": True, "False": False, "nan": math.nan, "inf": math.inf,
    "'2'": "2", "None": None, "1+0j": 1 + 0j, "np.int64(2)": np.int64(2),
    "np.uint8(2)": np.uint8(2), "np.bool_": np.bool_(True), "np.float64(2)": np.float64(2),
    "0-d-array": np.array(2), "too-many": "too-many", "empty-list": [],
    "[2,2.5]": [2, 2.5], "[2,True]": [2, True], "larger-than-input": "larger",
}
# Values that may be accepted: None where it has a meaning, -1 for every core.
ALSO_VALID = {"stride": (None,), "divisor_override": (None,), "workers": (None, -1),
              "output_size": (None,), "levels": (None,)}
LISTS_OF_SIZES = {"levels"}   # a list is several values, not one per pooled axis


def _size_value(row, name, key):
    if key == "too-many":
        return [2] * (len(row.shape) + 1)
    if key == "larger-than-input":
        return max(row.shape) + 1
    return SIZE_ATTACKS[key]


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


@pytest.mark.parametrize("row,attack", _params("test_size_parameters",
    [(r, f"{name}={key}", (name, key)) for r in LIVE for name in r.sizes
    for key in SIZE_ATTACKS]))
def test_size_parameters(row, attack):
    """Integer parameters: rejected by name unless a valid int, then correct.

    Not an integer (bool, float, str, NaN...) or below the least valid value:
    ValueError/TypeError naming the parameter.  A NumPy integer: the plain int's
    result.  Any other int: the oracle's result, or an error naming some argument.
    """
    name, key = attack
    x = sample(row.shape)
    value = _size_value(row, name, key)
    got = attempt(row, x, **{name: value})
    if _is_int(value) and not isinstance(value, int) or key == "0-d-array":
        # NumPy integers: what the plain int gives (0-d arrays may also be refused by name).
        plain = attempt(row, x, **{name: int(value)})
        if key == "0-d-array" and got.error is not None:
            assert names(got.error, (name,)), got
            return
        assert (got.error is None) == (plain.error is None), f"{got} vs int: {plain}"
        if got.error is None:
            assert_same(got.value, plain.value, what=f"{row.id}({name}={key})")
        return
    entries = value if isinstance(value, list) else [value]
    valid_alone = any(value is v or _is_int(value) and value == v
                      for v in ALSO_VALID.get(name, ())) or (
        (key != "too-many" or name in LISTS_OF_SIZES) and len(entries) > 0
        and all(_is_int(v) and v >= row.sizes[name] for v in entries))
    if not valid_alone:
        check_result(row, x, got, must_fail=True, blame=(name,), **{name: value})
    else:
        check_result(row, x, got, blame=tuple(row.keywords(x)) + (name, row.first),
                     **{name: value})


# ---- real parameters ----------------------------------------------------------------------

REAL_ATTACKS = {
    "nan": math.nan, "np.float32(nan)": np.float32("nan"), "inf": math.inf,
    "-inf": -math.inf, "-1": -1.0, "0": 0.0, "True": True, "'1'": "1", "None": None,
    "1+0j": 1 + 0j, "1e308": 1e308, "1e-320": 1e-320, "2**62": 2**62, "[0.5,0.5]": [0.5, 0.5],
    "np.float16(0.5)": np.float16(0.5), "object": object(),
}
# (must be rejected) non-numbers, NaN and complex never make sense as these parameters.
REAL_REJECT = {"nan", "np.float32(nan)", "True", "'1'", "1+0j", "object"}
OPTIONAL_REALS = {"eps"}   # None means "not given"


@pytest.mark.parametrize("row,attack", _params("test_real_parameters",
    [(r, f"{name}={key}", (name, key)) for r in LIVE for name in r.reals for key in REAL_ATTACKS]))
def test_real_parameters(row, attack):
    """p, r, alpha, eps...: NaN and non-numbers rejected by name; other values correct."""
    name, key = attack
    x = sample(row.shape)
    value = REAL_ATTACKS[key]
    got = attempt(row, x, **{name: value})
    must_fail = key in REAL_REJECT or (key == "None" and name not in OPTIONAL_REALS)
    check_result(row, x, got, must_fail=must_fail, blame=(name,), **{name: value})


# ---- other parameters: axes, channel_axis, flags, rng ------------------------------------------

AXIS_ATTACKS = {"ndim": "ndim", "-ndim-1": "-ndim-1", "2**62": 2**62, "2.5": 2.5, "True": True, "'0'": "0",
                "[0,0]": [0, 0], "[]": [], "[0,1,2]": [0, 1, 2], "[0,2.0]": [0, 2.0],
                "-1": -1, "(0,)": (0,), "np.int8(1)": np.int8(1), "None": None}
AXIS_VALID = {"-1", "(0,)", "np.int8(1)", "None"}


@pytest.mark.parametrize("row,attack", _params("test_axis_parameters",
    [(r, f"{name}={key}", (name, key)) for r in LIVE for name in ("axes", "channel_axis")
    if _accepts(r, name) and not r.variant for key in AXIS_ATTACKS]))
def test_axis_parameters(row, attack):
    name, key = attack
    if name == "channel_axis" and key in ("(0,)", "[]", "[0,0]", "[0,1,2]", "[0,2.0]"):
        pytest.skip("channel_axis is one axis")
    x = sample(row.shape)
    value = {"ndim": x.ndim, "-ndim-1": -x.ndim - 1}.get(key, AXIS_ATTACKS[key])
    got = attempt(row, x, **{name: value})
    if key in AXIS_VALID:
        if got.error is not None:   # a valid axis may still make the call invalid
            assert names(got.error, (name, "axes", "axis", row.first) + tuple(row.keywords(x))), got
        return
    check_result(row, x, got, must_fail=True, blame=(name, "axis", "axes"), **{name: value})


FLAGS = ("ceil_mode", "count_include_pad", "return_indices", "keepdims", "overlapping",
         "pseudo_random", "combine", "normalize", "aligned")
FLAG_ATTACKS = {"np.bool_(True)": np.bool_(True), "1": 1, "0": 0, "'yes'": "yes",
                "None": None, "2.5": 2.5, "[True]": [True]}


@pytest.mark.parametrize("row,attack", _params("test_flag_parameters",
    [(r, f"{name}={key}", (name, key)) for r in LIVE for name in FLAGS
    if _accepts(r, name) and not r.variant for key in FLAG_ATTACKS]))
def test_flag_parameters(row, attack):
    """Booleans: np.bool_ works; anything else is rejected by name or read as its truth."""
    name, key = attack
    x = sample(row.shape)
    value = FLAG_ATTACKS[key]
    got = attempt(row, x, **{name: value})
    truth = attempt(row, x, **{name: bool(value)})
    if got.error is not None:
        assert names(got.error, (name,)), f"message does not name {name}: {got}"
        assert key != "np.bool_(True)" or truth.error is not None, got
        return
    assert truth.error is None, truth
    assert_same(got.value, truth.value, what=f"{row.id}({name}={key}) vs bool")


class _LegacyRandom(np.random.RandomState):
    pass


RNG_ATTACKS = {"-1": -1, "2.5": 2.5, "True": True, "'seed'": "seed",
               "RandomState": _LegacyRandom(0), "2**200": 2**200,
               "SeedSequence": np.random.SeedSequence(1), "Generator": "generator",
               "np.int64(5)": np.int64(5)}
RNG_VALID = {"2**200", "SeedSequence", "Generator", "np.int64(5)"}


@pytest.mark.parametrize("row,attack", _params("test_rng_parameter",
    [(r, f"rng={key}", key) for r in LIVE if r.random for key in RNG_ATTACKS]))
def test_rng_parameter(row, attack):
    x = sample(row.shape)
    value = RNG_ATTACKS[attack]
    if value == "generator":
        value = np.random.default_rng(5)
    got = attempt(row, x, rng=value)
    if attack in RNG_VALID:
        assert got.error is None, got
        return
    check_result(row, x, got, must_fail=True, blame=("rng",), rng=value)


# ---- array arguments besides x: indices, gates, samples, boxes -------------------------------

ARRAY_LAYOUTS = {"fortran": np.asfortranarray, "reversed": lambda a: np.flip(np.flip(a).copy()),
                 "swapped": lambda a: a.astype(a.dtype.newbyteorder()),
                 "read-only": _read_only_copy, "list": lambda a: a.tolist()}


def _spoil(a, how):
    a = np.array(a)
    if how in ("nan", "inf", "-inf"):
        a = a.astype(np.float64)
        a.flat[0] = float(how)
        return a
    return {"complex": lambda: a.astype(np.complex128), "object": lambda: a.astype(object),
            "string": lambda: a.astype(str), "bool": lambda: a != 0,
            "extra-axis": lambda: np.stack([a, a]), "empty": lambda: a[:0],
            "0-d": lambda: a.reshape(-1)[0].copy(), "huge": lambda: a * 1e30,
            "negative": lambda: -np.abs(a) - 1}[how]()


SPOILS = ["nan", "inf", "-inf", "complex", "object", "string", "bool", "extra-axis", "empty",
          "0-d", "huge", "negative"]


def _array_args(row):
    return list(row.arrays(sample(row.shape))) if row.arrays else []


@pytest.mark.parametrize("row,case", _params("test_array_arguments",
    [(r, f"{arg}-{how}", (arg, how)) for r in LIVE for arg in _array_args(r)
     for how in list(ARRAY_LAYOUTS) + SPOILS]))
def test_array_arguments(row, case):
    """Another layout of the same values: the same result.  Spoilt values or shapes: an
    error naming the argument, or (where they are still valid) the oracle's result."""
    arg, how = case
    x = sample(row.shape)
    good = row.keywords(x)[arg]
    base = attempt(row, x)
    assert base.error is None, base
    if how == "list" and arg == "boxes":
        pytest.skip("a list of boxes means one (L, 4) array per image (documented)")
    if how in ARRAY_LAYOUTS:
        got = attempt(row, x, **{arg: ARRAY_LAYOUTS[how](good)})
        assert got.error is None, f"{row.id}({arg} {how}): {got}"
        assert_same(got.value, base.value, what=f"{row.id}({arg} {how})")
        return
    value = _spoil(good, how)
    got = attempt(row, x, **{arg: value})
    check_result(row, x, got, must_fail=how in ("nan", "complex", "object", "string"),
                 blame=(arg,), **{arg: value})


# ---- dtypes ---------------------------------------------------------------------------------

def _unsupported(shape):
    base = sample(shape)
    cases = {
        "complex64": base.astype(np.complex64), "complex128": base.astype(np.complex128),
        "object-floats": base.astype(object), "object-none": np.full(shape, None, object),
        "structured": np.zeros(shape, [("a", "f4"), ("b", "i2")]),
        "datetime64": np.zeros(shape, "M8[s]"), "timedelta64": np.zeros(shape, "m8[s]"),
        "str": np.full(shape, "ab", "U2"), "bytes": np.full(shape, b"ab", "S2"),
        "void": np.zeros(shape, "V4"),
    }
    if np.dtype(np.longdouble).itemsize > 8:
        cases["longdouble"] = base.astype(np.longdouble)
    return cases


@pytest.mark.parametrize("row,dtype", _params("test_unsupported_dtypes",
    [(r, name, name) for r in LIVE for name in _unsupported(r.shape)]))
def test_unsupported_dtypes(row, dtype):
    x = _unsupported(row.shape)[dtype]
    got = attempt(row, x)
    if row.any_dtype and got.error is not None:      # fine if the oracle fails alike
        try:
            expected(row, x)
        except type(got.error):
            return
    check_result(row, x, got, must_fail=not row.any_dtype, blame=(row.first, "dtype"))


def _extremes(dtype, shape, pattern):
    if np.dtype(dtype).kind == "b":
        return np.full(shape, pattern == "max", bool) if pattern != "mixed" else \
            (np.indices(shape).sum(axis=0) % 2 == 0)
    info = np.iinfo(dtype)
    if pattern in ("min", "max"):
        return np.full(shape, getattr(info, pattern), dtype)
    checker = np.indices(shape).sum(axis=0) % 2 == 0
    return np.where(checker, info.min, info.max).astype(dtype)


@pytest.mark.parametrize("row,case", _params("test_integer_extremes",
    [(r, f"{np.dtype(d).name}-{p}", (d, p)) for r in LIVE for d in INTS + [np.bool_]
    for p in ("min", "max", "mixed")]))
def test_integer_extremes(row, case):
    """iinfo.min / iinfo.max in every integer dtype: exact where the result is an integer."""
    dtype, pattern = case
    x = _extremes(dtype, row.shape, pattern)
    check_result(row, x, attempt(row, x), blame=(row.first, "dtype"))


@pytest.mark.parametrize("row,case", _params("test_float16_overflow",
    [(r, name, v) for r in LIVE for name, v in
    {"60000": 60000.0, "max": 65504.0, "+-60000": "alternate"}.items()]))
def test_float16_overflow(row, case):
    """float16 sums overflow float16; averages and float-valued methods must not."""
    if case == "alternate":
        x = np.where(np.indices(row.shape).sum(axis=0) % 2 == 0, 60000, -60000)
        x = x.astype(np.float16)
    else:
        x = np.full(row.shape, case, np.float16)
    check_result(row, x, attempt(row, x), blame=(row.first,))


SPECIAL = {
    "all-nan": lambda s: np.full(s, np.nan),
    "all-neginf": lambda s: np.full(s, -np.inf),
    "all-posinf": lambda s: np.full(s, np.inf),
    "nan-and-neginf": lambda s: np.where(np.indices(s).sum(axis=0) % 2 == 0, np.nan, -np.inf),
    "posinf-and-neginf": lambda s: np.where(np.indices(s).sum(axis=0) % 2 == 0,
                                            np.inf, -np.inf),
    "nan-last": lambda s: np.where(np.indices(s)[-1] % 2 == 1, np.nan, 1.0),
    "huge": lambda s: np.full(s, 1e300),
    "tiny": lambda s: np.full(s, 5e-324),
}


@pytest.mark.parametrize("row,case", _params("test_special_windows",
    [(r, f"{name}-{np.dtype(d).name}", (name, d)) for r in LIVE for name in SPECIAL
    for d in FLOATS]))
def test_special_windows(row, case):
    """All-NaN, all-(-inf), inf - inf windows...: the oracle's values (and indices)."""
    name, dtype = case
    with np.errstate(over="ignore", under="ignore"):
        x = SPECIAL[name](row.shape).astype(dtype)
    check_result(row, x, attempt(row, x), blame=(row.first,))


# ---- out= -------------------------------------------------------------------------------------

def _out_cases(row):
    if not _accepts(row, "out") or row.variant:
        return []
    return ["wrong-shape", "wrong-dtype", "swapped-dtype", "read-only", "list", "strided",
            "fortran", "aliases-x", "overlaps-x", "0-d"]


SAME_SHAPE = {"kernel_size": 3, "stride": 1, "padding": 1}   # the output is x-shaped


@pytest.mark.parametrize("row,case", _params("test_out",
    [(r, c, c) for r in LIVE for c in _out_cases(r)]))
def test_out(row, case):
    """out= of the wrong shape/dtype/kind is rejected by name; valid ones get the result."""
    base = sample((4, 7))
    x = base[:, :6] if case == "overlaps-x" else base[:, :6].copy()
    ref = attempt(row, x.copy(), **SAME_SHAPE)
    assert ref.error is None, ref
    want = ref.value
    if case == "aliases-x":
        out = x
    elif case == "overlaps-x":
        out = base[:, 1:]
    elif case == "strided":
        out = np.zeros((2 * want.shape[0], want.shape[1]), want.dtype)[::2]
    elif case == "fortran":
        out = np.zeros(want.shape, want.dtype, order="F")
    elif case == "wrong-shape":
        out = np.zeros((want.shape[0] + 1,) + want.shape[1:], want.dtype)
    elif case == "wrong-dtype":
        out = np.zeros(want.shape, np.int8 if want.dtype != np.int8 else np.float32)
    elif case == "swapped-dtype":
        out = np.zeros(want.shape, want.dtype.newbyteorder())
    elif case == "read-only":
        out = _read_only(np.zeros(want.shape, want.dtype))
    elif case == "list":
        out = np.zeros(want.shape, want.dtype).tolist()
    else:
        out = np.zeros((), want.dtype)
    valid = case in ("strided", "fortran", "aliases-x", "overlaps-x")
    modifies = ("out", "x") if case in ("aliases-x", "overlaps-x") else ("out",)
    got = attempt(row, x, modifies=modifies, out=out, **SAME_SHAPE)
    if not valid:
        if case == "swapped-dtype" and got.error is None:   # also acceptable: converted
            np.testing.assert_array_equal(out, want)
            return
        assert got.error is not None, f"{row.id}(out={case}) was accepted"
        assert names(got.error, ("out",)), f"message does not name out: {got}"
        return
    assert got.error is None, f"{row.id}(out={case}): {got}"
    assert got.value is out, "out= must be returned"
    assert_same(np.asarray(out), want, what=f"{row.id}(out={case})")


# ---- documented limits that float arithmetic can break -------------------------------------------

def test_documented_limits():
    """lse_pool: r -> 0 is average pooling, r -> inf max pooling; power_mean_pool:
    p -> 0 is the geometric mean (their docstrings)."""
    x = np.array([1.0, 3.0, -2.0, 6.0])
    for r in (1e-8, 1e-12, 1e-17, 1e-30, 1e-300, 5e-324):
        got = ndpool.lse_pool(x, r, 2)
        np.testing.assert_allclose(got, [2.0, 2.0], rtol=1e-6, err_msg=f"r={r}")
    np.testing.assert_allclose(ndpool.lse_pool(x, 1e30, 2), [3.0, 6.0])
    y = np.array([1.0, 4.0, 2.0, 8.0, 0.0, 5.0])
    for p in (1e-8, 1e-12, 1e-20, 1e-300, 5e-324):
        got = ndpool.power_mean_pool(y, p, 2)
        np.testing.assert_allclose(got, [2.0, 4.0, 0.0], rtol=1e-6, err_msg=f"p={p}")


# ---- crashes and hangs, reproduced in a child process -------------------------------------------

PRELUDE = """
import numpy as np, ndpool
x = np.random.default_rng(0).standard_normal((4, 6))
maps = np.random.default_rng(0).standard_normal((2, 3, 6, 8))
boxes = np.array([[0, 0.5, 1.0, 5.0, 4.0], [1, 2.0, -1.5, 9.4, 5.6]])
"""
# name -> (public function, call).  Each must return, or raise ValueError/TypeError,
# within a minute: never crash or hang.
CHILD_CASES = {
    "max_pool-kernel_size=2**62-padding=2**61": ("max_pool", "ndpool.max_pool(x, 2**62, padding=2**61)"),
    "avg_pool-kernel_size=2**62-padding=same": ("avg_pool", "ndpool.avg_pool(x, 2**62, padding='same')"),
    "block_reduce-block_size=2**62": ("block_reduce", "ndpool.block_reduce(x, 2**62)"),
    "pyramid-factor=2**40": ("pyramid", "ndpool.pyramid(x, 2**40)"),
    "roi_align-sampling_ratio=2**62": (
        "roi_align", "ndpool.roi_align(maps, boxes, 2, sampling_ratio=2**62)"),
    "roi_align-output_size=2**62": (
        "roi_align", "ndpool.roi_align(maps, boxes, 2**62, sampling_ratio=2)"),
    "adaptive_feature_pool-sampling_ratio=2**62": (
        "adaptive_feature_pool",
        "ndpool.adaptive_feature_pool([maps], boxes, 2, spatial_scale=1.0, sampling_ratio=2**62)"),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.xfail(
    reason=f"DEFECT: {KNOWN_CHILD[n]}", strict=True)] if n in KNOWN_CHILD else [])
    for n, (f, _) in CHILD_CASES.items() if f in PUBLIC])
def test_crashes_and_hangs(name):
    func, call = CHILD_CASES[name]
    code = PRELUDE + f"""
try:
    {call}
    print("returned")
except (ValueError, TypeError) as e:
    print("raised", type(e).__name__, e)
"""
    CASES[func] += 1
    try:
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{call} hung (no answer in 60 s)")
    assert child.returncode == 0, \
        f"{call} crashed (exit status {child.returncode}): {child.stderr[-1500:]}"
