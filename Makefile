# Two commands do everything from a fresh clone: `make dev` and `make test`.
# Needs only Python 3.11+ and make: uv is installed into .tools/, the workspace into .venv/.

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
VENV   := .venv
# Never let uv download a Python of its own: the one that runs make is the one we use.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)

PACKAGES := common devtools testkit client $(wildcard services/*)

.PHONY: dev test images bench faults hostile lint deps typecheck pytest install clean lock

dev: install
	$(VENV)/bin/tix dev

test: install lint typecheck pytest

# Every figure beside its floor, one table (bench/README.md).
bench: install
	$(VENV)/bin/python -m bench

# Parts of `make test`, alone: crashes and outages under load; attacks and fuzzing.
faults: install
	$(VENV)/bin/pytest --no-skips tests/faults

hostile: install
	scripts/ensure-api-tools
	$(VENV)/bin/pytest --no-skips tests/hostile tests/api $(wildcard services/*/tests/test_*properties.py)

install: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(addsuffix /pyproject.toml,$(PACKAGES))
	$(UV) sync --locked --all-packages
	@touch $@

lock: $(UV)
	$(UV) lock

lint: install deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Every package declares what it imports, and imports what it declares (each one's [tool.deptry]).
deps: install
	@set -e; for package in $(PACKAGES); do \
		echo "deptry $$package"; (cd $$package && $(CURDIR)/$(VENV)/bin/deptry --no-ansi .); \
	done

# One run per package: every package has its own tests/conftest.py.
typecheck: install
	@set -e; for package in $(PACKAGES); do \
		echo "mypy $$package"; \
		MYPYPATH=$$package/src:$$package/tests $(VENV)/bin/mypy $$package/src $$package/tests; \
	done
	@echo "mypy tests"; MYPYPATH=tests/flows $(VENV)/bin/mypy --exclude tests/images tests
	@echo "mypy tests/images"; MYPYPATH=tests/images:infra/tests:infra $(VENV)/bin/mypy tests/images
	@echo "mypy bench"; $(VENV)/bin/mypy bench
	@echo "mypy infra"; MYPYPATH=infra/tests $(VENV)/bin/mypy infra

# The image tests have their own target (`make images`: they build six images, 2 to 4 minutes).
pytest: install
	scripts/ensure-chromium
	scripts/ensure-prometheus
	scripts/ensure-api-tools
	$(VENV)/bin/pytest --no-skips --ignore=tests/images $(PYTEST_ARGS)

# Every image built from the Dockerfile as infra/deploy.py builds it, run as its Deployment runs
# it, and the fleet driven through a purchase (tests/images; Podman, installed when missing).
images: install
	scripts/ensure-container-engine
	$(VENV)/bin/pytest --no-skips tests/images $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .dev .mypy_cache .ruff_cache
