// The machine's speeds, for the reply parser's benchmark: `probe ITERATIONS` times, one after
// another in each iteration, the parser over the short-reply corpus through append and next(),
// the same through parse(_:_:), the memchr line scan (LineScanLoop) and a latency-bound multiply
// chain over the same bytes, and prints JSON: each loop's times, and which iterations ran fast.
// If the parser's two loops slow down and speed up together while the other two hold steady, the
// spread is the machine's, not the parser's.
import Glibc
import SMTPCore

@inline(never) func keep<T>(_ value: T) { withExtendedLifetime(value) {} }

/// FNV-1a over the bytes: each step waits for the last multiply, so it is bound by latency and
/// barely by how many instructions the core can issue.
@inline(never) func multiplyChain(_ all: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in all { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}

func microseconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) * 1e6 + Double(now.tv_nsec) / 1e3
}

let corpus = ShortReplyCorpus.build(size: 1 << 20)
let iterations = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1500
var pulled = ParserLoop(parser: ReplyParser(parsesEnhancedStatusCodes: true))
var lent = ParserLoop(parser: ReplyParser(parsesEnhancedStatusCodes: true))
var times: [String: [Double]] = ["next": [], "parse": [], "memchr": [], "multiply": []]
corpus.bytes.withUnsafeBytes { all in
    _ = pulled.parseAll(all) // the buffers grow once, before timing
    _ = lent.parseAllBorrowed(all)
    let quarter = UnsafeRawBufferPointer(rebasing: all[0..<(all.count / 4)])
    for _ in 0..<iterations {
        var start = microseconds()
        precondition(pulled.parseAll(all) == corpus.replies)
        times["next"]!.append(microseconds() - start)
        start = microseconds()
        precondition(lent.parseAllBorrowed(all) == corpus.replies)
        times["parse"]!.append(microseconds() - start)
        start = microseconds()
        precondition(LineScanLoop.countLines(all) == corpus.lines)
        times["memchr"]!.append(microseconds() - start)
        start = microseconds()
        keep(multiplyChain(quarter))
        times["multiply"]!.append(microseconds() - start)
    }
}
let names = ["next", "parse", "memchr", "multiply"]
let json = names.map { name in "\"\(name)\": [\(times[name]!.map { String(Double(Int($0 * 10)) / 10) }.joined(separator: ","))]" }
print("{\"replies\": \(corpus.replies), \"lines\": \(corpus.lines), \(json.joined(separator: ", "))}")
