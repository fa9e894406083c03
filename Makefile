# The README's entry points. Each installs what it needs (apt-get, pip) idempotently, so a fresh
# Debian machine with Swift needs nothing else.

.PHONY: demo test unit-test docs fuzz-smoke bench bench-gate rig-start rig-stop

## Send the seed's message through a throwaway local Postfix with STARTTLS, verbosely.
demo:
	@scripts/demo.sh

## Everything: engine, drivers against real servers, fuzz regressions, smtp-send end to end.
test:
	@scripts/test.sh

## The engine's own tests only (no servers, no system packages beyond Swift).
unit-test:
	swift test --filter SMTPCoreTests

## The DocC documentation of every module, with no warning, and every public symbol documented.
docs:
	@scripts/docs.sh

## Each libFuzzer target for about a minute (CI runs this after the tests).
fuzz-smoke:
	@Fuzz/smoke.sh 60

## Regenerate BENCHMARKS.md and its chart (about 10 minutes).
bench:
	@scripts/bench.sh

## CI gate: malloc counts per reply and per message must not exceed the recorded thresholds.
bench-gate:
	@scripts/bench-gate.sh

rig-start:
	@scripts/rig/rig.sh start

rig-stop:
	@scripts/rig/rig.sh stop
