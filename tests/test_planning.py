"""Per-axis planning: output lengths and padding limits against PyTorch, windows by brute force."""
import itertools

import numpy as np
import pytest

from ndpool._planning import as_size, per_axis, plan_axis


def brute_windows(n, k, s, before, d, out):
    """Valid taps of every window, enumerated one by one."""
    wins = []
    for o in range(out):
        taps = [o * s - before + j * d for j in range(k)]
        wins.append([t for t in taps if 0 <= t < n])
    return wins


GRID = list(itertools.product(range(1, 11), range(1, 6), range(1, 5), range(0, 4),
                              range(1, 4), (False, True)))


def test_output_length_and_limits_match_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    checked = 0
    for n, k, s, p, d, ceil in GRID:
        try:
            expect = F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d, ceil).shape[-1]
        except RuntimeError:
            expect = None
        try:
            got = plan_axis(n, k, s, p, d, ceil, axis=0).out
        except ValueError:
            got = None
        assert got == expect, (n, k, s, p, d, ceil)
        checked += 1
    assert checked == len(GRID) > 2000


@pytest.mark.parametrize("n,k,s,p,d,ceil", GRID[::7])
def test_windows_match_brute_force(n, k, s, p, d, ceil):
    try:
        plan = plan_axis(n, k, s, p, d, ceil, axis=0)
    except ValueError:
        return
    for o, taps in enumerate(brute_windows(n, k, s, p, d, plan.out)):
        assert plan.count[o] == len(taps)
        if taps:
            assert plan.start[o] == taps[0]
        padded = [o * s - p + j * d for j in range(k)]
        assert plan.padded[o] == sum(-p <= t < n + p for t in padded)


@pytest.mark.parametrize("n", range(1, 14))
@pytest.mark.parametrize("k,s,d", [(1, 1, 1), (2, 2, 1), (3, 2, 1), (3, 1, 2), (4, 3, 1), (5, 4, 2)])
def test_same_padding_is_tensorflow(n, k, s, d):
    plan = plan_axis(n, k, s, "same", d, False, axis=0)
    assert plan.out == -(-n // s)
    eff = d * (k - 1) + 1
    total = max((plan.out - 1) * s + eff - n, 0)
    assert (plan.before, plan.after) == (total // 2, total - total // 2)
    for o, taps in enumerate(brute_windows(n, k, s, plan.before, d, plan.out)):
        assert plan.count[o] == len(taps)


def test_valid_padding_is_zero():
    assert plan_axis(7, 3, 2, "valid", 1, False, axis=0).out == 3


def test_huge_sizes_are_exact_not_wrapped():
    k = 2**62
    plan = plan_axis(5, k, 1, 2**61, 1, False, axis=0)
    assert plan.out == 6
    assert list(plan.count) == [5] * 6
    assert plan.padded[0] == 2**62   # every tap of window 0 is inside [-2**61, 5 + 2**61)
    with pytest.raises(ValueError, match="does not fit"):
        plan_axis(5, k, 1, 0, 1, False, axis=0)


def test_empty_axis_pools_to_empty():
    assert plan_axis(0, 2, 2, 0, 1, False, axis=0).out == 0


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                     (True, TypeError), ("2", ValueError), (None, TypeError),
                                     (np.float64(2), TypeError)])
def test_as_size_rejects(bad, exc):
    with pytest.raises(exc, match="kernel_size"):
        per_axis(bad, 2, "kernel_size")


def test_per_axis_length_and_numpy_ints():
    assert per_axis(np.int16(3), 2, "stride") == (3, 3)
    assert per_axis([1, np.uint8(2)], 2, "stride") == (1, 2)
    with pytest.raises(ValueError, match="one entry per pooled axis"):
        per_axis((1, 2, 3), 2, "stride")
    assert as_size(0, "padding", minimum=0) == 0
