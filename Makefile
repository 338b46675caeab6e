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

bench: $(VENV)/.installed
	$(PY) bench/overhead.py
	$(PY) bench/memory.py
	$(PY) bench/cnn.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) bench/compile.py

clean:
	rm -rf $(VENV) runs build *.egg-info
