"""The book and the exercises, checked without building anything.

Building the book and running the notebooks is `make book`; the browser check
is `make book-check`.  These tests keep the sources honest in every `make test`:
each public function has a chapter, the table of contents and the files agree,
notebooks are committed without outputs and every exercise has a solution.
"""
import json
import re
from pathlib import Path

import pytest

import ndpool

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = ROOT / "notebooks"

# Public names whose chapter is not `<name without _pool>.md`: families share one.
CHAPTER = {
    "max_unpool": "unpooling", "show_config": "performance",
    "adaptive_avg_pool": "adaptive", "adaptive_max_pool": "adaptive",
    "global_avg_pool": "global", "global_max_pool": "global",
    "gated_pool": "mixed", "tree_pool": "mixed",
    "center_pool": "corner", "cascade_corner_pool": "corner",
    "fractional_max_pool": "fractional",
    "block_reduce": "scikit_image", "pyramid": "scikit_image",
    "roi_pool": "roi", "roi_align": "roi", "adaptive_feature_pool": "roi",
    "blur_pool": "blur", "max_blur_pool": "blur",
}

# Chapters still to be written.  Remove one when it lands (the test fails if a
# listed chapter exists); a new public method needs a chapter or a line here.
PENDING = set()


def chapter_of(name):
    return CHAPTER.get(name, name.removesuffix("_pool"))


def toc_files():
    return re.findall(r"^\s*(?:-\s*)?(?:file|root):\s*(\S+)", (BOOK / "_toc.yml").read_text(),
                      re.MULTILINE)


@pytest.mark.parametrize("name", sorted(ndpool.__all__))
def test_every_public_function_has_a_chapter(name):
    chapter = BOOK / f"{chapter_of(name)}.md"
    if chapter.stem in PENDING:
        assert not chapter.exists(), f"{chapter.name} exists: remove {chapter.stem!r} from PENDING"
        pytest.skip(f"{chapter.name} (for {name}) not written yet")
    assert chapter.exists(), (f"ndpool.{name} has no chapter: write book/{chapter.name} "
                              f"(start from book/_template/method.md)")
    assert chapter_of(name) in toc_files(), f"{chapter.name} is not listed in book/_toc.yml"
    assert f"ndpool.{name}" in chapter.read_text(), f"{chapter.name} never shows ndpool.{name}"


def test_toc_and_chapters_agree():
    listed = set(toc_files())
    on_disk = {p.stem for p in BOOK.glob("*.md") if p.name != "README.md"}
    assert listed == on_disk, (f"in _toc.yml but missing: {sorted(listed - on_disk)}; "
                               f"not in _toc.yml: {sorted(on_disk - listed)}")


def test_equations_do_not_come_from_a_cdn():
    config = (BOOK / "_config.yml").read_text()
    path = re.search(r"^\s*mathjax_path:\s*(\S+)", config, re.MULTILINE)
    assert path and not re.match(r"https?://", path.group(1)), "mathjax_path must be local"


NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: clear the outputs of cells {dirty}"


def test_every_exercise_has_a_solution():
    exercises = [p for p in NOTEBOOK_FILES if not p.stem.endswith("_solution")]
    assert exercises, "no exercise notebooks found"
    for path in exercises:
        assert path.with_name(f"{path.stem}_solution.ipynb").exists(), f"{path.name} has no solution"
