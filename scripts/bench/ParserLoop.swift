// The reply parser fed as the benchmark's ParserLoop feeds it (16 KiB reads), shared by the
// callgrind driver and the phase probe: `append` and `next()`, or `parse(_:_:)`.
import SMTPCore

struct ParserLoop {
    var parser: ReplyParser

    @inline(never)
    mutating func parseAll(_ all: UnsafeRawBufferPointer) -> Int {
        var replies = 0
        var offset = 0
        var codes = 0
        while offset < all.count {
            let end = min(all.count, offset + 16 * 1024)
            parser.append(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
            offset = end
            while let reply = try! parser.next() {
                codes &+= Int(reply.code.rawValue)
                replies += 1
            }
        }
        if codes == 42 { print("") } // keeps the codes alive
        return replies
    }

    #if NO_BORROWED // a source tree from before parse(_:_:)
    mutating func parseAllBorrowed(_ all: UnsafeRawBufferPointer) -> Int { fatalError("no parse(_:_:) in this tree") }
    #else
    /// The same through `parse(_:_:)`, replies lent where they lie.
    @inline(never)
    mutating func parseAllBorrowed(_ all: UnsafeRawBufferPointer) -> Int {
        var replies = 0
        var offset = 0
        var codes = 0
        while offset < all.count {
            let end = min(all.count, offset + 16 * 1024)
            try! parser.parse(UnsafeRawBufferPointer(rebasing: all[offset..<end])) { reply in
                codes &+= Int(reply.code.rawValue)
                replies += 1
            }
            offset = end
        }
        if codes == 42 { print("") } // keeps the codes alive
        return replies
    }
    #endif
}
