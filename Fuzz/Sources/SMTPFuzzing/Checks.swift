/// The harnesses' invariant checks. A broken invariant stops the process (the fuzzer reports it
/// as a crash) and prints its message in optimized builds too, where the standard
/// `precondition` traps silently. Named apart from the standard library's, so nothing else in
/// this module changes meaning.
func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
               file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError("invariant broken: " + message(), file: file, line: line) }
}

func invariantFailure(_ message: @autoclosure () -> String = String(),
                      file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("invariant broken: " + message(), file: file, line: line)
}
