# The project's entry points. Every target sets itself up first: a fresh clone needs only `make run`
# or `make test`. A local copy of MNIST is used when MNIST_SOURCE names it (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp

.PHONY: setup setup-dev hub-proxy axe data run test lab app classroom bench clean

# Where several Python processes share the cores (Jupyter server, kernels, pytest), PyTorch's
# spin-waiting OpenMP threads slow each other down 5-40x; passive waiting avoids that. The benchmark
# runs alone and keeps the default.
run test lab app: export OMP_WAIT_POLICY := PASSIVE

# Two installs: the lessons and the app (requirements.txt), and the development tools on top
# (requirements-dev.txt: tests, browser, lint) for `make test` and `make bench`.
setup: $(STAMP)
setup-dev: $(DEV_STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -e .
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(DEV_STAMP)

# The JupyterHub test's proxy (npm configurable-http-proxy, pinned in deploy/proxy/package-lock.json).
PROXY_BIN := deploy/proxy/node_modules/.bin/configurable-http-proxy
hub-proxy: $(PROXY_BIN)

$(PROXY_BIN): deploy/proxy/package.json deploy/proxy/package-lock.json
	npm ci --prefix deploy/proxy --no-audit --no-fund --loglevel=error
	@touch $(PROXY_BIN)

# The accessibility tests' axe-core (npm, pinned in tests/axe/package-lock.json), injected into Chromium.
AXE_JS := tests/axe/node_modules/axe-core/axe.min.js
axe: $(AXE_JS)

$(AXE_JS): tests/axe/package.json tests/axe/package-lock.json
	npm ci --prefix tests/axe --no-audit --no-fund --loglevel=error
	@touch $(AXE_JS)

data: setup
	$(PY) -m mnistlib.data

# Full mode: the executed copies and this machine's computer times (build/run_times.json) go into the
# git-ignored build/, so a run leaves the work tree clean. After a full run of every lesson,
# `python -m tools.runner --record` writes them into the committed record (notebooks/run_times.json)
# and rewrites the lesson tables.
run: data
	$(PY) -m tools.runner

# Lint and format check of the whole tree first (seconds), then every test; `ruff format .` fixes the format.
test: data setup-dev hub-proxy axe
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MNISTLIB_SMOKE=1 $(PY) -m pytest

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

# The students' app (app/app.ipynb, the pad only) with a warm pool of kernels: one per student who
# may open the page at once plus spares for reloads (one per 10 students, at least 2), e.g.
# `make app STUDENTS=30` before class warms 33 (APP_POOL=N sets the pool itself). The pool, its
# refills, culling of idle kernels and the page template live in app/config/voila.py.
# `make app COLLECT=1` adds collect mode (notebook 06's class handwriting).
# The app serves this computer only; `make app HOST=0.0.0.0` serves the class's network and then
# requires a class code: one is made and printed with the students' link and a QR code (`CODE=...`
# chooses it, `CODE=none` goes without). See app/config/class_code.py and docs/class-server.md.
# app/serve.py runs one Voila per core (BACKENDS=N: that many) behind nginx, which serves the page's
# files itself; without nginx, one Voila as before.
# `make classroom STUDENTS=30 BROWSERS=3 [DELAY_MS=100]` measures a class opening it at once;
# RATE_MBIT=30 DELAY_MS=20 puts it behind a school's shared 30 Mbit/s link with a 20 ms round trip.
# SAVE_EVERY=5 has every student save each digit (collect mode); TEACHER=1 keeps the teacher's live
# view open meanwhile and measures how far behind the class store it stays (docs/live-view.md).
STUDENTS ?= 4
APP_POOL ?=
BACKENDS ?=
BROWSERS ?= 1
DELAY_MS ?= 0
RATE_MBIT ?= 0
SAVE_EVERY ?=
TEACHER ?= 0
COLLECT ?= 0
HOST ?=
CODE ?=
app classroom: export APP_STUDENTS := $(STUDENTS)
app classroom: export APP_POOL := $(APP_POOL)
app: export APP_BACKENDS := $(BACKENDS)

app: setup
	APP_COLLECT=$(COLLECT) APP_HOST=$(HOST) APP_CODE=$(CODE) $(PY) app/serve.py

classroom: setup-dev
	$(PY) -m tools.classroom --students $(STUDENTS) --browsers $(BROWSERS) $(if $(APP_POOL),--pool $(APP_POOL)) $(if $(BACKENDS),--backends $(BACKENDS)) --delay-ms $(DELAY_MS) --rate-mbit $(RATE_MBIT) $(if $(SAVE_EVERY),--save-every $(SAVE_EVERY)) $(if $(filter 1,$(TEACHER)),--teacher)

bench: data setup-dev
	$(PY) -m tools.bench

# build/ holds the executed notebooks and this machine's run times; the committed record stays.
clean:
	rm -rf build test-artifacts
