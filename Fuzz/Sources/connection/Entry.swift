// libFuzzer entry point for the connection target.
// Invariant: the engine inside ClientConnection, over a scripted transport (server replies from a
// small grammar, raw bytes, splits, closes, resets, write failures, time, drains, messages queued
// mid-session, content that fails), gives every message exactly one outcome, and every outcome
// agrees with the replies on the wire: a recipient reported delivered had its RCPT and its end of
// data answered 2xx; a refusal carries a reply the server sent after that recipient's RCPT; the
// status follows from the recipients and `failure` is nil exactly when delivered.
// The full statement is on FuzzHarness.connection(_:) in Sources/SMTPFuzzing and in Fuzz/README.md.
import FuzzReplay
import SMTPFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.connection(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !FUZZING
/// Built without libFuzzer: replay the files named on the command line.
@main
struct Replay {
    static func main() { FuzzReplay.main(.connection) }
}
#endif
