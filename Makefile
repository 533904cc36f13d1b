# batchlane: every command installs what it needs first (idempotent, stamp files under .stamps/).
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
FLYTE_PY := .venv-flyte/bin/python
RUFF := .venv/bin/ruff
MYPY := .venv/bin/mypy
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
export AWS_CDK_CLI_TELEMETRY_DISABLED := 1
# Lambda functions run on arm64 python3.12; the layer is built for exactly that platform.
LAYER_PLATFORM := manylinux2014_aarch64
CONFIG ?= dev

.PHONY: demo test test-e2e test-flyte lint ruff mypy setup synth bench clean

demo: .stamps/venv  ## the main job: the narrated demo on the local sandbox (no AWS account, ~45 s)
	.venv/bin/batchlane sandbox demo

# Installs and static checks two at a time (the machine's two cores): .venv beside npm; then ruff, mypy and
# the layer beside .venv-flyte (not beside .venv: both editable installs write batchlane.egg-info here).
# mypy takes ~115 s of one core with a cold cache (as in CI), most of it in aws_cdk's types. Then the tests on
# two workers (every CDK synth test on one of them, tests/conftest.py), then the Flyte tests in their venv.
test:  ## install everything and lint, then run all tests (the Flyte ones in their own venv)
	$(MAKE) --no-print-directory -j2 --output-sync=target .stamps/venv .stamps/npm
	$(MAKE) --no-print-directory -j2 --output-sync=target lint .stamps/layer .stamps/venv-flyte
	$(PY) -m pytest -n 2 --dist loadgroup
	$(FLYTE_PY) -m pytest tests/flyte

lint: ruff mypy  ## static checks: ruff's lint and format check, mypy (config in pyproject.toml)

ruff: .stamps/venv
	$(RUFF) check .
	$(RUFF) format --check .

mypy: .stamps/venv
	$(MYPY)

test-flyte: .stamps/venv-flyte  ## the connector's tests with the real flytekit
	$(FLYTE_PY) -m pytest tests/flyte

test-e2e: .stamps/venv  ## end-to-end tests through the sandbox only
	$(PY) -m pytest -m e2e

setup: .stamps/venv .stamps/npm .stamps/layer

synth: setup
	npx --no-install cdk synth -c config=$(CONFIG)

bench: setup
	$(PY) bench/launch_bench.py
	$(PY) bench/status_bench.py
	$(PY) bench/fault_matrix_bench.py
	$(PY) bench/client_status_bench.py
	$(PY) bench/import_bench.py
	$(PY) bench/load_bench.py
	$(PY) bench/scale_bench.py --children 1000000 --max-concurrency 200000 --no-outputs --max-seconds 300
	$(PY) bench/scale_bench.py --children 2000 --chunk-size 500 --max-concurrency 1000
	$(PY) bench/scale_bench.py --limits --sample 2000 --chunk-size 1000

.stamps/venv: requirements.txt requirements-dev.txt lambdas/requirements.txt pyproject.toml
	@mkdir -p .stamps
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install -q -r requirements-dev.txt
	$(PIP) install -q --no-deps -e .
	@touch $@

# flytekit cannot share .venv: its aiobotocore pins an older botocore (requirements-flyte.txt).
.stamps/venv-flyte: requirements-flyte.txt pyproject.toml
	@mkdir -p .stamps
	test -x $(FLYTE_PY) || python3 -m venv .venv-flyte
	.venv-flyte/bin/pip install -q -r requirements-flyte.txt
	.venv-flyte/bin/pip install -q --no-deps -e .
	@touch $@

.stamps/npm: package.json package-lock.json
	@mkdir -p .stamps
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Runtime dependencies of every function, every one pinned (lambdas/requirements.txt). No bin/: console
# scripts carry this checkout's path in their shebang, and the layer's hash would follow the checkout.
.stamps/layer: lambdas/requirements.txt .stamps/venv
	rm -rf build/layer && mkdir -p build/layer/python
	$(PIP) install -q --target build/layer/python --platform $(LAYER_PLATFORM) --no-deps \
	  --implementation cp --python-version 3.12 --only-binary=:all: -r lambdas/requirements.txt
	rm -rf build/layer/python/bin
	find build/layer -name __pycache__ -prune -exec rm -rf {} +
	@touch $@

clean:
	rm -rf .venv .venv-flyte node_modules build cdk.out .stamps
