# The two entry points README.md gives a newcomer. Both set the machine up first (scripts/setup).
BASE ?= netqmail-1.06
BACKEND ?= local
PYTEST_ARGS ?=
FUZZ_SECONDS ?= 60

.PHONY: build test setup lint fuzz

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

# libFuzzer targets of the DKIM verifier and signer (clang, ASan+UBSan): the kept crash inputs
# replayed, then each target fuzzed for FUZZ_SECONDS from the test suite's seed messages.
fuzz:
	scripts/setup --test
	.venv/bin/python tests/integration/fuzzseeds.py build/fuzz-seeds
	.venv/bin/patchkit fuzz --seconds $(FUZZ_SECONDS) --seeds build/fuzz-seeds \
		--regressions tests/fuzz-regressions
