// libFuzzer entry point for the capabilities target. The invariant it checks is documented on
// FuzzHarness.capabilities(_:) in Sources/SMTPFuzzing and summarized in Fuzz/README.md.
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
