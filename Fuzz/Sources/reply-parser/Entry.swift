// libFuzzer entry point for the reply-parser target.
// Invariant: any bytes, fed whole and again split at fuzzer-chosen points (replies pulled after
// every piece, or lazily), give the same sequence of replies or the same protocol error; nothing
// traps; every reply is well-formed and within the configured (fuzzed) limits, and while the
// parser waits for more bytes it holds at most maxReplySize unreturned bytes.
// The full statement is on FuzzHarness.replyParser(_:) in Sources/SMTPFuzzing and in Fuzz/README.md.
import FuzzReplay
import SMTPFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.replyParser(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !FUZZING
/// Built without libFuzzer: replay the files named on the command line.
@main
struct Replay {
    static func main() { FuzzReplay.main(.replyParser) }
}
#endif
