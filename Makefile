# cxr-study: `make study` runs the whole study on the embedded synthetic demo, `make test` runs the tests.
# Both create the virtual environment .venv on first use (Python 3.10-3.13, pip, no conda needed).

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= params/demo.yaml
SET     ?=

.PHONY: study test test-fast sync lab bench clean clean-env gpu-pack gpu-study

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e ".[notebook,test]"
	touch $@

## study: run the notebooks for PROFILE (default: synthetic demo) and render reports/<run_name>/index.html
study: $(VENV)/.installed
	$(PY) -m cxrlib run $(PROFILE) $(SET)

## test: the full test suite (the same command CI runs); then the Grad-CAM and input tests again under JAX
test: $(VENV)/.installed
	$(PY) -m pytest -q
	KERAS_BACKEND=jax $(PY) -m pytest -q tests/test_gradcam.py tests/test_inputs.py

## test-fast: the tests without the end-to-end notebook runs
test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

## sync: pair notebooks/*.py with .ipynb copies and bring the older side up to date (jupytext)
sync: $(VENV)/.installed
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

## lab: open the notebooks in JupyterLab; a double-click opens a .py notebook as a notebook (jupytext's viewer,
## set as the default for .py files in this environment's JupyterLab settings overrides: cxrlib.report.browser.LAB_OVERRIDES,
## which tests/test_browser.py checks in a browser)
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_OVERRIDES): $(VENV)/.installed cxrlib/report/browser.py
	$(PY) -c 'from cxrlib.report.browser import write_lab_overrides; write_lab_overrides("$(dir $@)")'

lab: $(LAB_OVERRIDES)
	$(VENV)/bin/jupyter lab notebooks/

## bench: the speed and memory benchmarks (print tables)
bench: $(VENV)/.installed
	$(PY) benchmarks/preprocess.py
	$(PY) benchmarks/train.py

## clean: remove caches, checkpoints and models (data/work) and the demo report; keeps .venv and data you fetched
clean:
	rm -rf data/work reports/demo .pytest_cache

## gpu-pack: fill .gpu/ with what the GPU run carries (data, float16 weights, wheels) and print the device calls
gpu-pack: $(VENV)/.installed
	$(PY) -m cxrlib gpu pack

## gpu-study: on the GPU machine (JAX, no TensorFlow, no internet): the paper's regime, report copied to $$OUT
gpu-study:
	python3 -m cxrlib gpu run --out "$${OUT:-gpu-report}"

clean-env:
	rm -rf $(VENV)
