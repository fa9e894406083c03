import SMTPCore

/// Harness functions shared by the libFuzzer targets in `Fuzz/` and by the regression replay in
/// the normal test suite. Each takes raw fuzzer bytes and traps (via `precondition`) when its
/// invariant breaks. Pure Swift: no Foundation.
public enum FuzzHarness {}
