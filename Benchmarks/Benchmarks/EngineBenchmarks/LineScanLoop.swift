#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The baseline the reply parser is measured against: the least any line splitter can do over
/// the same bytes, in the same 16 KiB reads. From each line start it calls the C library's
/// memchr for the next LF and counts the line; a line split between reads is counted in the read
/// that holds its LF. It checks nothing (no CR before the LF, no codes, no limits), builds
/// nothing, and reads the input where it lies, whereas the parser also copies each read into its
/// own buffer. So the parser's bytes per second over this pass's is its fraction of the physical
/// limit of one scan.
enum LineScanLoop {
    @inline(never)
    static func countLines(_ all: UnsafeRawBufferPointer) -> Int {
        guard let base = all.baseAddress else { return 0 }
        var lines = 0
        var offset = 0
        while offset < all.count {
            let end = min(all.count, offset + 16 * 1024)
            var cursor = base + offset
            let stop = base + end
            while cursor < stop, let found = memchr(cursor, 10, stop - cursor) {
                lines += 1
                cursor = UnsafeRawPointer(found) + 1
            }
            offset = end
        }
        return lines
    }
}
