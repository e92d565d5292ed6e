# ndpool: every target builds what it needs, starting from nothing but python3.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
KERNELS := $(wildcard src/ndpool/_kernels/*.pyx src/ndpool/_kernels/*.pxd src/ndpool/_kernels/*.h)
PYTEST_ARGS ?=

.PHONY: all install build demo test debug-test asan fuzz bench book book-check clean help

all: test

help:
	@echo "make demo        pool the bundled cat image with every method, time it"
	@echo "make test        build, then run the test suite (torch and skimage oracles)"
	@echo "make debug-test  rebuild with bounds checks on, run the suite, rebuild release"
	@echo "make asan        rebuild with AddressSanitizer + UBSan, run ASAN_TESTS, rebuild release"
	@echo "make fuzz        the differential and hostile suites with 50x the examples, slow"
	@echo "                 tests included, for at most FUZZ_SECONDS (default 1800)"
	@echo "make bench       run the benchmark harness, store results in benchmarks/results/"
	@echo "make book        build the book (book/_build/html) and run the notebooks"
	@echo "make book-check  the built book in headless Chromium: console, images, links, equations"
	@echo "make clean       remove build outputs and the virtual environment"

# The environment: build tools first, so the package builds without isolation.
$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "setuptools>=68" wheel "Cython>=3.0" "numpy>=1.25"
	$(BIN)/pip install -q --no-build-isolation -e ".[test,demo,book,dask,io]"
	touch $@

# The compiled kernels, rebuilt in place whenever a .pyx/.pxd or setup.py changes.
$(VENV)/.built: $(VENV)/.deps $(KERNELS) setup.py
	$(PY) setup.py -q build_ext --inplace -j 2
	touch $@

install build: $(VENV)/.built

demo: $(VENV)/.built
	$(BIN)/ndpool demo

test: $(VENV)/.built
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Bounds checks, wraparound and initialisation checks on; the release build
# is restored afterwards whether or not the tests pass.
debug-test: $(VENV)/.deps
	NDPOOL_DEBUG=1 $(PY) setup.py -q build_ext --inplace -j 2
	$(PY) -c "import ndpool, sys; sys.exit(not ndpool.show_config()['debug_build'])"
	$(PY) -m pytest -q -x $(PYTEST_ARGS); status=$$?; \
	  $(PY) setup.py -q build_ext --inplace -j 2; touch $(VENV)/.built; exit $$status

# AddressSanitizer and UBSan: an out-of-bounds read or write, a use after free or
# undefined behaviour in a kernel aborts the run with a report.  NumPy's buffers come
# from the sanitizer's malloc (it is preloaded), so they get red zones too.  Leak
# detection is off: CPython keeps its interned objects until exit.
ASAN_TESTS ?= tests/test_hostile.py tests/test_window_semantics.py tests/test_vs_reference.py \
	tests/test_catalogue.py tests/test_fractional.py tests/test_corner.py tests/test_roi.py \
	tests/test_second_order.py tests/test_block_reduce.py tests/test_pyramid.py tests/test_threads.py \
	tests/test_bands.py
asan: $(VENV)/.deps
	NDPOOL_SANITIZE=1 $(PY) setup.py -q build_ext --inplace -j 2
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(PY) -m pytest -q -x -p no:cacheprovider $(ASAN_TESTS); \
	  status=$$?; $(PY) setup.py -q build_ext --inplace -j 2; touch $(VENV)/.built; exit $$status

# Fuzzing: 50x the hypothesis examples (the `fuzz` profile, random seeds) and the slow
# tests (2**31+ elements, 10,000 calls per function), stopped after FUZZ_SECONDS.  A
# failure stops it at once (exit 1); running out of time with none is success.
FUZZ_SECONDS ?= 1800
FUZZ_TESTS ?= tests/test_large.py tests/test_hostile.py tests/test_vs_torch.py \
	tests/test_vs_reference.py tests/test_catalogue.py tests/test_block_reduce.py \
	tests/test_fractional.py tests/test_roi.py tests/test_spectral.py tests/test_threads.py
fuzz: $(VENV)/.built
	HYPOTHESIS_PROFILE=fuzz NDPOOL_TEST_TIMEOUT=$(FUZZ_SECONDS) timeout -s INT $(FUZZ_SECONDS) \
	  $(PY) -m pytest -q -x --runslow $(FUZZ_TESTS); status=$$?; \
	  if [ $$status -eq 124 ]; then echo "fuzz: $(FUZZ_SECONDS) s spent, no failure"; exit 0; fi; \
	  exit $$status

bench: $(VENV)/.built
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# MathJax 3 from the npm registry, vendored so equations render offline.
MATHJAX := book/_vendor/static/mathjax
$(MATHJAX)/tex-chtml.js:
	npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix book/_vendor/npm mathjax@3.2.2
	rm -rf $(MATHJAX) && mkdir -p $(dir $(MATHJAX))
	cp -r book/_vendor/npm/node_modules/mathjax/es5 $(MATHJAX)

# Every chapter executed (--all: chapters import book/poolbook.py, which Sphinx
# does not track), warnings are errors; then every notebook, solutions included.
book: $(VENV)/.built $(MATHJAX)/tex-chtml.js
	$(BIN)/jupyter-book build book --all -W -n --keep-going
	$(PY) -m pytest -q -p no:cacheprovider --nbmake notebooks/

book-check: book
	$(PY) book/check_site.py

clean:
	rm -rf build $(VENV) src/*.egg-info book/_build book/_vendor
	rm -f src/ndpool/_kernels/*.c src/ndpool/_kernels/*.so src/ndpool/_kernels/*.html
