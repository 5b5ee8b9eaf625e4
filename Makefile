# Riverbed's two commands: `make demo` (the main job) and `make test` (every test).
# Both set up everything on a fresh machine: uv, the Python environment, the local stack.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3

.PHONY: setup stack test lint lint-only check unit integration containers demo clean helm helm-background deploy-check

# The container test (tests/containers): the Dockerfile built on stand-in bases and every
# app service of docker-compose.yml run under podman against the local stack. Its images
# stay in podman's storage (/var/lib/containers) between runs.
CONTAINER_TEST = $(UV) run pytest -m containers tests/containers -p no:cacheprovider

setup:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	npm ci --prefix dashboard --no-audit --no-fund --silent
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q chromium; } || \
		echo "chromium is missing: the browser test needs it (apt-get install chromium)"
	@command -v promtool >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q --no-install-recommends prometheus; } || \
		echo "promtool is missing: the alert-rule tests need it (apt-get install prometheus)"
	@{ command -v podman && command -v runc && command -v debootstrap; } >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q podman runc debootstrap; } || \
		echo "podman, runc or debootstrap is missing: make test leaves out the container test"
	@command -v go >/dev/null && $(UV) run python -m tests.compose_spec >/dev/null || \
		echo "the Compose Specification schema is not cached: the compose test downloads it"

stack: setup
	$(UV) run riverbed stack up

lint: setup lint-only

lint-only:
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

# The fast offline check: lint, types and unit tests with no services and no network,
# from the environment `make setup` made once (uv reads only its cache). About 30 s.
check:
	@test -d .venv || { echo "make check: no .venv yet; run 'make setup' once (it needs the network)"; exit 2; }
	UV_OFFLINE=1 $(UV) run --frozen ruff check .
	UV_OFFLINE=1 $(UV) run --frozen ruff format --check .
	UV_OFFLINE=1 $(UV) run --frozen mypy
	UV_OFFLINE=1 $(UV) run --frozen pytest -m unit -q -p no:cacheprovider

unit: setup
	$(UV) run pytest -m unit

integration: stack
	$(UV) run pytest -m integration

# Helm for the chart tests (tests/deploy), built once from its Go module into
# ~/.cache/riverbed/helm-<version>/ (about 3.5 min cold, nothing when cached).
helm: setup
	$(UV) run riverbed deploy helm >/dev/null

# The charts offline: helm lint/template, the rendered objects checked, custom resources
# against their operators' CRD schemas (from the operators' Go modules). No cluster.
deploy-check: helm
	$(UV) run riverbed deploy plan
	$(UV) run pytest -m deploy tests/deploy

# Helm's cold build (3.5 min) in a detached process: the chart tests run last and wait.
helm-background: setup
	@$(UV) run riverbed deploy helm --background

# `make test`: set-up once, Helm's build started, the stack, then pytest alone, then the
# lint beside the container test. Not beside pytest: on two cores mypy's cold run
# (~1.5 min of CPU) slowed the timing-sensitive tests that run early (a fresh clone's run
# saw the viewing lag test at 2.006 s against its 2 s bound, and the quick bench's
# PostgreSQL row counters not yet published, while both passed alone). A failed lint
# still fails `make test`, with its output printed at the end. The plain `pytest` runs
# tests/deploy too (the deploy check). The container test runs where podman is
# installed (make setup installs it as root), after the rest passed.
test: setup helm-background stack
	@mkdir -p .riverbed; status=0; \
	$(UV) run pytest || status=$$?; \
	( $(MAKE) --no-print-directory lint-only > .riverbed/lint.log 2>&1; echo $$? > .riverbed/lint.rc ) & \
	lint=$$!; \
	if [ $$status = 0 ]; then \
		if command -v podman >/dev/null; then $(CONTAINER_TEST) || status=$$?; \
		else echo "make test: podman is missing, so the container test did not run (make containers)"; fi; \
	fi; \
	wait $$lint; cat .riverbed/lint.log; \
	if [ "$$(cat .riverbed/lint.rc)" != 0 ]; then echo "make test: the lint failed (above)"; status=1; fi; \
	exit $$status

# Cold (no image cached): a few minutes; warm: see BENCHMARKS.md.
containers: stack
	$(CONTAINER_TEST)

demo: stack
	$(UV) run riverbed demo

clean:
	-$(UV) run riverbed stack down --wipe
