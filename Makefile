# The two entry points the README promises: `make test` and (once the drivers land) `make demo`.
# Every target installs what it needs, idempotently, so a fresh Debian machine needs nothing else.

SWIFT ?= swift

.PHONY: test unit-test deps

## Run the whole test suite.
test: deps unit-test

## The engine's own tests (pure, no network).
unit-test:
	$(SWIFT) build --build-tests
	$(SWIFT) test

deps:
	@scripts/install-deps.sh
