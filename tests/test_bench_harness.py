"""The benchmark harness's own logic (``ndpool._bench``): how it times and how it judges.

No timing is asserted here: the callables are counters, and the ratios are given.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ndpool import _bench


def test_measure_in_turns_times_every_call_of_a_block_but_the_first():
    order = []
    fns = {name: (lambda name=name: order.append(name)) for name in ("copy", "torch", "nd")}
    times = _bench.measure_in_turns(fns, budget=0.0, block=2)
    turns = len(order) // 9
    assert turns == 3 and len(order) == 9 * turns          # at least 3 turns, even at budget 0
    assert order[:9] == ["copy"] * 3 + ["torch"] * 3 + ["nd"] * 3   # blocks, in turn
    for name in fns:
        t = times[name]
        assert t["runs"] == 2 * turns                     # the first call of a block is untimed
        assert 0 <= t["min"] <= t["median"]


def test_measure_in_turns_stops_at_max_turns():
    calls = []
    times = _bench.measure_in_turns({"a": lambda: calls.append(1)}, budget=60.0, block=1,
                                    max_turns=5)
    assert len(calls) == 10 and times["a"]["runs"] == 5


def test_measure_in_turns_prepares_each_block_untimed():
    order = []
    fns = {("f", 1): lambda: order.append("f1"), ("f", 2): lambda: order.append("f2")}
    prepare = {("f", 2): lambda: order.append("set 2")}
    times = _bench.measure_in_turns(fns, budget=0.0, block=1, prepare=prepare)
    assert order[:5] == ["f1", "f1", "set 2", "f2", "f2"]
    assert times["f", 1]["runs"] == times["f", 2]["runs"] == 3


def _row(name, workers, ratios, t=None, digest="d", copy=None):
    times = {"ndpool": {"min": t}} if t is not None else {}
    if copy is not None:
        times["copy"] = {"min": copy}
    return {"name": name, "workers": workers, "ratios": ratios, "digest": digest,
            "times": times}


def test_targets_judge_each_ratio_by_its_own_bound():
    rows = [_row("max2 f32 nchw", 1, {"nd/copy": 0.8}, t=2.0),     # at the bound: PASS
            _row("max2 f32 nchw", 2, {"nd/copy": 0.81}, t=1.0),    # above: FAIL
            _row("br max u8 image", 1, {"nd/copy": 1.0, "skimage/nd": 99.9}),
            _row("max2 f32 tiny", 1, {"torch/nd": None})]
    found = {t["what"]: t["status"] for t in _bench.targets(rows)}
    assert found["max2 f32 nchw, w=1: nd/copy"] == "PASS"
    assert found["max2 f32 nchw, w=2: nd/copy"] == "FAIL"
    assert found["br max u8 image, w=1: nd/copy"] == "PASS"
    assert found["br max u8 image, w=1: skimage/nd"] == "FAIL"    # >= 100 asked
    assert found["max2 f32 tiny, w=1: torch/nd"] == "-"           # not measured
    # target 5: 2.0 / 1.0 = 2 >= 1.7 with the same digest
    assert found["max2 f32 nchw: t(w=1)/t(w=2), bit-identical: True"] == "PASS"


@pytest.mark.parametrize("digests, ok", [(("a", "a"), True), (("a", "b"), False)])
def test_scaling_target_needs_identical_bits(digests, ok):
    rows = [_row("avg2 f32 nhwc", 1, {"nd/copy": 0.5}, t=3.0, digest=digests[0], copy=5.0),
            _row("avg2 f32 nhwc", 2, {"nd/copy": 0.5}, t=1.0, digest=digests[1], copy=4.0)]
    (five,) = [t for t in _bench.targets(rows) if t["target"] == 5]
    assert five["measured"] == pytest.approx(3.0)
    assert five["what"].endswith(", copy 1.25")          # the copy's own 1 / 2 thread ratio
    assert five["status"] == ("PASS" if ok else "FAIL")


def test_catalogue_target_reports_the_excepted_methods():
    catalogue = {"results": [{"method": "softpool", "vs_max_pool": 3.01},
                             {"method": "lp_pool", "vs_max_pool": 2.99},
                             {"method": "median_pool", "vs_max_pool": 30.0}]}
    found = {t["what"].split(":")[0]: t["status"] for t in _bench.targets([], catalogue)}
    assert found == {"softpool": "FAIL", "lp_pool": "PASS", "median_pool": "reported"}


def test_catalogue_target_shows_the_region_pools_per_covered_element():
    catalogue = {"results": [{"method": "roi_pool", "vs_max_pool": 5.0, "coverage": 5.0,
                              "per_covered_element": 1.0}]}
    (found,) = _bench.targets([], catalogue)
    assert found["what"] == "roi_pool: time / max_pool (per element the boxes cover: 1.00)"
    assert found["status"] == "FAIL"         # judged on the ratio itself, not per element


def test_catalogue_coverage_counts_the_boxes_area_per_level():
    """Boxes that tile each image once cover it once; at scales 1 and 1/2 the
    second level adds a quarter."""
    catalogue = _catalogue_module()
    x = np.zeros((2, 3, 8, 12), np.float32)
    tiles = [[n, c, r, c + 4, r + 4] for n in range(2) for r in (0, 4) for c in (0, 4, 8)]
    rois = np.array(tiles, np.float32)
    assert catalogue.coverage(x, rois) == 1.0
    assert catalogue.coverage(x, rois, (1, 0.5)) == 1.25
    assert catalogue.coverage(x, rois[:3]) == 0.25


def _catalogue_module():
    spec = importlib.util.spec_from_file_location(
        "catalogue", Path(__file__).parents[1] / "benchmarks" / "catalogue.py")
    catalogue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(catalogue)
    return catalogue


def test_catalogue_numpy_versions_agree_with_ndpool():
    """Every catalogue method has a NumPy version, and it computes what ndpool's
    call computes (the docstring's tolerance), on one image of 4 channels."""
    catalogue = _catalogue_module()
    x = np.random.default_rng(3).standard_normal((1, 4, 128, 128)).astype(np.float32)
    calls, numpy = catalogue.cases(x, 1), catalogue.numpy_versions(x)
    assert set(numpy) == set(calls)
    for name, call in calls.items():
        got, want = call(), numpy[name]()
        parts = (zip(got, want) if isinstance(got, (list, tuple)) else [(got, want)])
        for g, w in parts:
            assert g.shape == np.shape(w), name
            assert np.allclose(g, w, rtol=1e-4, atol=1e-6), name
