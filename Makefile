# The two entry points README.md gives a newcomer. Both set the machine up first (scripts/setup).
BASE ?= netqmail-1.06
BACKEND ?= local
PYTEST_ARGS ?=

.PHONY: build test setup lint

build:
	scripts/setup
	.venv/bin/patchkit build --base $(BASE) --backend $(BACKEND)

test:
	scripts/setup --test
	.venv/bin/ruff check patchkit tests benchmarks
	.venv/bin/mypy
	.venv/bin/lint-imports
	.venv/bin/pytest $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check patchkit tests benchmarks
	.venv/bin/mypy
	.venv/bin/lint-imports
