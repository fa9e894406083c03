import Benchmark
import SMTPCore

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
                                           warmupIterations: 3, maxDuration: .seconds(3), maxIterations: 1_000_000)

    // MARK: Reply parser

    let corpus = ReplyCorpus.build(size: 1 << 20)
    Benchmark("ReplyParser: 1 MiB of realistic replies (16 KiB reads)",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p90: 0])])) { benchmark in
        var parser = ReplyParser(parsesEnhancedStatusCodes: true)
        // Steady state: the buffer has grown once before measurement starts.
        parser.append(contentsOf: corpus.bytes.prefix(16 * 1024 + 256))
        while (try? parser.next()) != nil {}
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var replies = 0
            corpus.bytes.withUnsafeBytes { all in
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
            }
            precondition(replies == corpus.replies)
        }
    }

    // MARK: Sessions

    for (pipelining, chunking) in [(false, false), (true, false), (true, true), (false, true)] {
        for size in [1024, 1 << 20] where size == 1024 || (pipelining && !chunking) {
            let name = "Session: 1,000 messages of \(size == 1024 ? "1 KB" : "1 MB"), "
                + (pipelining ? "pipelining" : "no pipelining") + (chunking ? ", BDAT" : ", DATA")
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
    for (name, content) in [("plain text", plain), ("leading dots", dotted), ("bare LFs", bareLF)] {
        Benchmark("BodyEncoder: 1 MB of \(name) (64 KiB chunks)",
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
