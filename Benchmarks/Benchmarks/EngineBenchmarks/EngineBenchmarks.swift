import Benchmark
import SMTPCore

/// Feeds `bytes` in 16 KiB reads and pulls every reply, as the engine does with its parser (a
/// stored property used in place, not a variable captured by a closure, which Swift copies).
struct ParserLoop {
    var parser: ReplyParser

    @inline(never)
    mutating func parseAll(_ all: UnsafeRawBufferPointer) -> Int {
        var replies = 0
        var offset = 0
        while offset < all.count {
            let end = min(all.count, offset + 16 * 1024)
            parser.append(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
            offset = end
            while let reply = try! parser.next() {
                blackHole(reply.code)
                replies += 1
            }
        }
        return replies
    }

    /// The same reads through `parse(_:_:)`: each reply lent where it lies in the read.
    @inline(never)
    mutating func parseAllBorrowed(_ all: UnsafeRawBufferPointer) -> Int {
        var replies = 0
        var offset = 0
        while offset < all.count {
            let end = min(all.count, offset + 16 * 1024)
            try! parser.parse(UnsafeRawBufferPointer(rebasing: all[offset..<end])) { reply in
                blackHole(reply.code)
                replies += 1
            }
            offset = end
        }
        return replies
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
                                           warmupIterations: 3, maxDuration: .seconds(3), maxIterations: 1_000_000)

    // MARK: Reply parser

    let corpus = ReplyCorpus.build(size: 1 << 20)
    Benchmark("ReplyParser-1MiB-realistic-replies",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])) { benchmark in
        var loop = ParserLoop(parser: ReplyParser(parsesEnhancedStatusCodes: true))
        // Steady state: the buffer has grown once before measurement starts.
        _ = corpus.bytes.withUnsafeBytes { loop.parseAll($0) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let replies = corpus.bytes.withUnsafeBytes { loop.parseAll($0) }
            precondition(replies == corpus.replies)
        }
    }

    // The short replies of a pipelined session (ShortReplyCorpus), and in the same run the memchr
    // line scan over the same bytes (LineScanLoop): the parser's fraction of the physical limit of a
    // scan is the ratio of their throughputs. The reply count is in the name for the report.
    let short = ShortReplyCorpus.build(size: 1 << 20)
    Benchmark("ReplyParser-1MiB-short-pipelined-replies-\(short.replies)-replies",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])) { benchmark in
        var loop = ParserLoop(parser: ReplyParser(parsesEnhancedStatusCodes: true))
        _ = short.bytes.withUnsafeBytes { loop.parseAll($0) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let replies = short.bytes.withUnsafeBytes { loop.parseAll($0) }
            precondition(replies == short.replies)
        }
    }
    // The same replies lent by `parse(_:_:)` instead of copied in with `append` and pulled with
    // `next()` (the engine's way).
    Benchmark("ReplyParser-borrowed-1MiB-short-pipelined-replies-\(short.replies)-replies",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])) { benchmark in
        var loop = ParserLoop(parser: ReplyParser(parsesEnhancedStatusCodes: true))
        _ = short.bytes.withUnsafeBytes { loop.parseAllBorrowed($0) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let replies = short.bytes.withUnsafeBytes { loop.parseAllBorrowed($0) }
            precondition(replies == short.replies)
        }
    }
    Benchmark("LineScan-memchr-1MiB-short-pipelined-replies-\(short.lines)-lines",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])) { benchmark in
        for _ in benchmark.scaledIterations {
            let lines = short.bytes.withUnsafeBytes { LineScanLoop.countLines($0) }
            precondition(lines == short.lines)
            blackHole(lines)
        }
    }

    // Long replies: one 50-line reply (a large EHLO or HELP answer) after another.
    let long = LongReplyCorpus.build(size: 1 << 20)
    Benchmark("ReplyParser-1MiB-50-line-replies",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])) { benchmark in
        var loop = ParserLoop(parser: ReplyParser(parsesEnhancedStatusCodes: true))
        _ = long.bytes.withUnsafeBytes { loop.parseAll($0) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let replies = long.bytes.withUnsafeBytes { loop.parseAll($0) }
            precondition(replies == long.replies)
        }
    }
    Benchmark("ReplyParser-borrowed-1MiB-50-line-replies",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])) { benchmark in
        var loop = ParserLoop(parser: ReplyParser(parsesEnhancedStatusCodes: true))
        _ = long.bytes.withUnsafeBytes { loop.parseAllBorrowed($0) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let replies = long.bytes.withUnsafeBytes { loop.parseAllBorrowed($0) }
            precondition(replies == long.replies)
        }
    }

    // MARK: Sessions

    for (pipelining, chunking) in [(false, false), (true, false), (true, true), (false, true)] {
        for size in [1024, 1 << 20] where size == 1024 || (pipelining && !chunking) {
            let name = "Session-1000-messages-\(size == 1024 ? "1KB" : "1MB")-"
                + (pipelining ? "pipelining" : "no-pipelining") + (chunking ? "-BDAT" : "-DATA")
            let runner = SessionRunner(pipelining: pipelining, chunking: chunking, messages: 1000, bodySize: size)
            Benchmark(name, configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                                 maxDuration: .seconds(size == 1024 ? 3 : 6))) { benchmark in
                for _ in benchmark.scaledIterations {
                    let delivered = runner.run()
                    precondition(delivered == 1000, "delivered \(delivered)")
                }
            }
        }
    }

    // MARK: Body encoder

    let plain = Array(String(repeating: "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\r\n", count: 12_000).utf8)
    let dotted = Array(String(repeating: ".leading dot on every line of this text, which a server must see once.\r\n", count: 14_000).utf8)
    let bareLF = Array(String(repeating: "a line that ends in a bare line feed, as files from Unix do\n", count: 17_000).utf8)
    for (name, content) in [("plain-text", plain), ("leading-dots", dotted), ("bare-LFs", bareLF)] {
        Benchmark("BodyEncoder-1MB-\(name)-64KiB-chunks",
                  configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal])) { benchmark in
            var output: [UInt8] = []
            output.reserveCapacity(2 * 64 * 1024 + 16)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                var encoder = BodyEncoder(mode: .dotStuffed, allowsEightBit: false)
                content.withUnsafeBufferPointer { all in
                    var offset = 0
                    while offset < all.count {
                        let end = min(all.count, offset + 64 * 1024)
                        output.removeAll(keepingCapacity: true)
                        try! encoder.encode(UnsafeBufferPointer(rebasing: all[offset..<end]), into: &output)
                        offset = end
                    }
                }
                encoder.finish(into: &output)
                blackHole(output.count)
            }
        }
    }
}
