// libFuzzer entry point for the capabilities target.
// Invariant: an arbitrary EHLO reply never traps and always yields a well-formed capability set:
// only known flags, each exactly when an independent reading of the lines finds its keyword; SIZE
// nil or positive and only with its flag; AUTH names unique, upper case, RFC 4422 syntax; and the
// engine given that reply reports the same set and acts on STARTTLS as the TLS policy says.
// The full statement is on FuzzHarness.capabilities(_:) in Sources/SMTPFuzzing and in Fuzz/README.md.
import FuzzReplay
import SMTPFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.capabilities(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !FUZZING
/// Built without libFuzzer: replay the files named on the command line.
@main
struct Replay {
    static func main() { FuzzReplay.main(.capabilities) }
}
#endif
