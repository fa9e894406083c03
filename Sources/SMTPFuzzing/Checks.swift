/// The harnesses' `precondition` and `preconditionFailure`. They shadow the standard ones inside
/// this module and behave the same (a broken invariant stops the process, which the fuzzer
/// reports as a crash), except that they print their message in optimized builds too: the
/// fuzzer's builds are `-O`, where the standard `precondition` traps silently.
func precondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
                  file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("invariant broken: " + message(), file: file, line: line) }
}

func preconditionFailure(_ message: @autoclosure () -> String = String(),
                         file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("invariant broken: " + message(), file: file, line: line)
}
