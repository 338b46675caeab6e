PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test bench docs lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[all]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/deepgrad train spiral --out runs/spiral

test: $(VENV)/.installed-test
	$(PY) -m pytest -q -p no:cacheprovider

docs: $(VENV)/.installed-test
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d build/site
	@echo "open build/site/index.html"

# Speed as a user gets it: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (a guard some machines set
# for old OpenBLAS builds) are unset for this command only, so OpenBLAS picks its own kernel;
# BENCH_THREADS threads (default: all cores) for NumPy and PyTorch alike.  Writes
# bench/results/latest.json and regenerates README.md's speed table.
BENCH_THREADS ?= $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) install --quiet -e ".[bench]"
	touch $@

bench: $(VENV)/.installed-bench
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
		OPENBLAS_NUM_THREADS=$(BENCH_THREADS) OMP_NUM_THREADS=$(BENCH_THREADS) \
		$(PY) bench/suite.py --threads $(BENCH_THREADS) --write-readme
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
		$(PY) bench/compile.py

clean:
	rm -rf $(VENV) runs build *.egg-info
