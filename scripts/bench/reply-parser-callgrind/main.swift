// The reply parser alone, for callgrind: `driver CORPUS ITERATIONS [borrowed]` feeds the benchmark
// corpus (short, long or realistic) in 16 KiB reads, as the benchmark's ParserLoop does, with
// `append` and `next()` or (borrowed) with `parse(_:_:)` (ParserLoop.swift beside this folder).
import SMTPCore

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
