// libFuzzer entry point for the body-encoder target.
// Invariant: arbitrary body bytes in arbitrary chunks, in each mode (DATA, BDAT text, binary): the
// result does not depend on the chunking; a refusal is the first problem a reference scan finds;
// otherwise decoding the wire as a strict server does (CRLF lines, dot un-stuffing) gives back the
// normalized body exactly, and the end-of-data sequence appears only at the end.
// The full statement is on FuzzHarness.bodyEncoder(_:) in Sources/SMTPFuzzing and in Fuzz/README.md.
import FuzzReplay
import SMTPFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.bodyEncoder(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if !FUZZING
/// Built without libFuzzer: replay the files named on the command line.
@main
struct Replay {
    static func main() { FuzzReplay.main(.bodyEncoder) }
}
#endif
