// The reply parser alone, for callgrind: `driver CORPUS ITERATIONS [borrowed]` feeds the benchmark
// corpus (short, long or realistic) in 16 KiB reads, as the benchmark's ParserLoop does, with
// `append` and `next()` or (borrowed) with `parse(_:_:)`.
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

let (bytes, replies): ([UInt8], Int) = switch CommandLine.arguments[1] {
case "short": { let corpus = ShortReplyCorpus.build(size: 1 << 20); return (corpus.bytes, corpus.replies) }()
case "long": LongReplyCorpus.build(size: 1 << 20)
default: ReplyCorpus.build(size: 1 << 20)
}
var loop = ParserLoop(parser: ReplyParser(parsesEnhancedStatusCodes: true))
for _ in 0..<Int(CommandLine.arguments[2])! {
    let borrowed = CommandLine.arguments.count > 3 && CommandLine.arguments[3] == "borrowed"
    precondition(bytes.withUnsafeBytes { borrowed ? loop.parseAllBorrowed($0) : loop.parseAll($0) } == replies)
}
print(replies)
