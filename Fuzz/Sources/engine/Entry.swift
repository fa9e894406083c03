// libFuzzer entry point for the engine target.
// Invariant: arbitrary server bytes, timeouts, TLS outcomes and EOF, driven through a full session
// (fixed envelopes, each TLS policy, pipelining and chunking on and off, SMTP and LMTP, with and
// without AUTH) end in a defined state without trapping, and a strict observer of the client's
// bytes never sees a command the protocol forbids at that point: nothing before the greeting,
// MAIL only after a 2xx to EHLO/HELO (and after TLS/AUTH where required), AUTH never without TLS
// unless allowed, no plaintext byte after the STARTTLS 220, no pipelining without PIPELINING,
// nothing after a fatal error but one QUIT, DATA content that cannot end early.
// The full statement is on FuzzHarness.engine(_:) in Sources/SMTPFuzzing and in Fuzz/README.md.
import FuzzReplay
import SMTPFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.engine(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !FUZZING
/// Built without libFuzzer: replay the files named on the command line.
@main
struct Replay {
    static func main() { FuzzReplay.main(.engine) }
}
#endif
