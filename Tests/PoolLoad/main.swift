import Glibc
import Logging
import SMTPConnection
import SMTPCore
import SMTPMessage
import SMTPMessageContent
import SMTPNIOClient
import SMTPNIODriver
import SMTPSocketDriver
import SMTPTLS
import SMTPUVDriver

// The async client under load, for `make bench` and the malloc gate (not a product: a tool of
// this repository's, built with the main package's tests).
//
//   PoolLoad load PORT MESSAGES TASKS CONNECTIONS RUN-ID [CA-FILE]
//     MESSAGES sends from TASKS concurrent tasks through one SMTPAsyncClient (at most CONNECTIONS
//     connections; STARTTLS verified against CA-FILE as "localhost" when given, else plaintext).
//     Message i carries Message-ID <pool-i.RUN-ID@bench.test>. Prints one JSON object: counts,
//     seconds, messages per second, peak connections, handshakes, and each delivered message's
//     index with the reply to its data (which holds the server's queue id).
//   PoolLoad stream socket|uv|nio PORT FILE USER PASSWORD CA-FILE
//     Sends FILE (FileContent, streamed) through the driver named, STARTTLS verified as
//     "localhost" and AUTH, and prints the outcome and how much this process's peak resident
//     memory grew while it did. A process of its own, so no other test's memory is counted
//     (DriverTests' constant-memory test runs it).
//   PoolLoad attachment PORT FILE MARKER USER PASSWORD CA-FILE
//     Builds a message (MessageBuilder) with FILE attached as "große Datei.bin" and the header
//     X-Test-Marker: MARKER, sends it with the socket driver (STARTTLS verified as "localhost",
//     AUTH), and prints the outcome, the built size and how much the peak resident memory grew
//     from before the build (SMTPMessageTests' constant-memory test runs it).
//   PoolLoad log-calls
//     Allocations per log call below the logger's level (the client's call shapes), 0 expected.
//   PoolLoad mallocs PORT WARMUP MESSAGES [LEVEL]
//     Sends WARMUP messages one after another on one pooled connection, then MESSAGES more, and
//     prints the allocations of the second part per message. LEVEL (default info): the client's
//     logger level, with a handler that drops every line it is given (so "debug" and "trace" show
//     what the log calls cost when they are on, "info" what they cost when they are off). Needs the counting interposer
//     (LD_PRELOAD, scripts/ci/malloc-count.c); without it, exits 2.

func fail(_ text: String, status: Int32 = 1) -> Never {
    let line = Array("PoolLoad: \(text)\n".utf8)
    line.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    exit(status)
}

func message(_ index: Int, run: String) -> OutgoingMessage {
    let text = "From: load@example.org\r\nTo: sink@example.net\r\nSubject: pool \(index)\r\n"
        + "Message-ID: <pool-\(index).\(run)@bench.test>\r\n\r\n"
        + String(repeating: "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?\r\n", count: 15)
    return OutgoingMessage(from: "load@example.org", to: ["sink@example.net"], content: Array(text.utf8))
}

func options(port: UInt16, caFile: String?) -> ClientOptions {
    guard let caFile else { return ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .off) }
    return ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .required,
                         tls: TLSConfiguration(caFile: caFile, serverName: "localhost"))
}

func json(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func load(port: UInt16, messages: Int, tasks: Int, connections: Int, run: String, caFile: String?) async throws {
    let client = try SMTPAsyncClient(options: options(port: port, caFile: caFile),
                                     pool: SMTPPoolConfiguration(maxConnections: connections),
                                     logger: Logger(label: "pool-load"))
    let started = now()
    let results = try await withThrowingTaskGroup(of: [(Int, MessageOutcome)].self) { group in
        for task in 0..<tasks {
            group.addTask {
                var mine: [(Int, MessageOutcome)] = []
                var index = task
                while index < messages {
                    mine.append((index, try await client.send(message(index, run: run))))
                    index += tasks
                }
                return mine
            }
        }
        var all: [(Int, MessageOutcome)] = []
        for try await part in group { all += part }
        return all
    }
    let seconds = now() - started
    let statistics = await client.statistics()
    await client.shutdown()
    let delivered = results.filter { $0.1.status == .delivered }
    var lines = ["{", "  \"messages\": \(messages), \"tasks\": \(tasks), \"max_connections\": \(connections),",
                 "  \"outcomes\": \(results.count), \"delivered\": \(delivered.count),",
                 "  \"seconds\": \(seconds), \"msgs_per_s\": \(Double(delivered.count) / seconds),",
                 "  \"peak_connections\": \(statistics.peakConnections), \"connections_opened\": \(statistics.connectionsOpened),",
                 "  \"tls_full\": \(statistics.tlsFullHandshakes), \"tls_resumed\": \(statistics.tlsResumedHandshakes),",
                 "  \"failures\": [" + results.filter { $0.1.status != .delivered }.prefix(20).map { json("\($0.0): \($0.1)") }.joined(separator: ", ") + "],",
                 "  \"delivered_replies\": {"]
    lines.append(delivered.sorted { $0.0 < $1.0 }.map { "    \"\($0.0)\": " + json($0.1.dataReply.map { "\($0)" } ?? "") }.joined(separator: ",\n"))
    lines.append("  }")
    lines.append("}")
    print(lines.joined(separator: "\n"))
}

typealias Counter = @convention(c) () -> UInt64

/// Takes every line and drops it: the cost of logging when on, without any output.
struct DroppingHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {}
}

func mallocs(port: UInt16, warmup: Int, messages: Int, level: Logger.Level) async throws {
    guard let symbol = dlsym(nil, "malloc_count_total") else { // nil: RTLD_DEFAULT on glibc
        fail("the malloc-counting interposer is not loaded (LD_PRELOAD)", status: 2)
    }
    let count = unsafeBitCast(symbol, to: Counter.self)
    let client = try SMTPAsyncClient(options: options(port: port, caFile: nil),
                                     pool: SMTPPoolConfiguration(maxConnections: 1),
                                     logger: Logger(label: "pool-mallocs") { _ in DroppingHandler(logLevel: level) })
    let one = message(0, run: "mallocs")
    for _ in 0..<warmup {
        guard try await client.send(one).status == .delivered else { fail("a warm-up message was not delivered") }
    }
    let before = count()
    for _ in 0..<messages {
        guard try await client.send(one).status == .delivered else { fail("a message was not delivered") }
    }
    let after = count()
    let statistics = await client.statistics()
    await client.shutdown()
    print("{\"level\": \"\(level)\", \"messages\": \(messages), \"mallocs\": \(after - before), \"per_message\": \(Double(after - before) / Double(messages)), \"connections_opened\": \(statistics.connectionsOpened)}")
}

/// The client's log calls, in their shapes (a message, metadata built from values), made with the
/// logger's level at info: the lines are below it. Returns the allocations per call (0 expected:
/// swift-log takes the message and the metadata as autoclosures, evaluated only when logged).
func logCallsBelowTheLevel(_ calls: Int) -> Double {
    guard let symbol = dlsym(nil, "malloc_count_total") else {
        fail("the malloc-counting interposer is not loaded (LD_PRELOAD)", status: 2)
    }
    let count = unsafeBitCast(symbol, to: Counter.self)
    var logger = Logger(label: "pool-log-calls") { _ in DroppingHandler(logLevel: .info) }
    logger[metadataKey: "smtp.connection"] = "7"
    let outcome = MessageOutcome.notAttempted(message(0, run: "log").envelope, because: .cancelled(.cancelled))
    let before = count()
    for id in 0..<calls {
        logger.debug("SMTP send finished", metadata: ["smtp.message": "\(id)", "smtp.outcome": "\(outcome)"])
        logger.trace("SMTP transcript", metadata: ["smtp.line": "C: MAIL FROM:<load@example.org> \(id)"])
    }
    return Double(count() - before) / Double(calls * 2)
}

/// Peak and current resident memory of this process, in KiB (/proc/self/status).
func memory() -> (peak: Int, resident: Int) {
    guard let file = fopen("/proc/self/status", "r") else { return (0, 0) }
    defer { fclose(file) }
    var peak = 0, resident = 0
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let value = Int(text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        if text.hasPrefix("VmHWM:") { peak = value }
        if text.hasPrefix("VmRSS:") { resident = value }
    }
    return (peak, resident)
}

func stream(driver: String, port: UInt16, path: String, user: String, password: String, caFile: String) throws {
    let options = ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .required,
                                tls: TLSConfiguration(caFile: caFile, serverName: "localhost"), heloName: "client.test.local",
                                authentication: .passwordWithCrypto(username: user, password: password),
                                timeouts: Timeouts(all: .seconds(20)), connectTimeout: .seconds(5))
    let message = OutgoingMessage(envelope: Envelope(sender: "sender@test.local", recipients: ["rcpt@example.net"]),
                                  content: try FileContent(path: path))
    // Everything a send needs is loaded and made before the measurement starts.
    let before = memory()
    let outcome: MessageOutcome
    switch driver {
    case "socket": outcome = try SMTPClient.send(message, options: options)
    case "uv": outcome = try UVBatchSender(options: options, connections: 1, maxAttempts: 1).send([message])[0]
    case "nio": outcome = try NIOBatchSender(options: options, connections: 1, maxAttempts: 1).send([message])[0]
    default: fail("unknown driver \(driver)", status: 2)
    }
    let after = memory()
    print("{\"status\": \"\(outcome.status)\", \"outcome\": \(json("\(outcome)")), \"grew_kib\": \(after.peak - before.resident)}")
}

func attachment(port: UInt16, path: String, marker: String, user: String, password: String, caFile: String) throws {
    let options = ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .required,
                                tls: TLSConfiguration(caFile: caFile, serverName: "localhost"), heloName: "client.test.local",
                                authentication: .passwordWithCrypto(username: user, password: password),
                                timeouts: Timeouts(all: .seconds(30)), connectTimeout: .seconds(5))
    let before = memory()
    var builder = MessageBuilder(from: Mailbox("sender@test.local"), to: [Mailbox("rcpt@example.net")],
                                 subject: "fifty megabytes", date: MessageDate(secondsSince1970: 1_700_000_000, utcOffsetMinutes: -300),
                                 text: "attached\n")
    builder.headers = [HeaderField("X-Test-Marker", marker)]
    builder.attachments = [try Attachment.file(path, filename: "große Datei.bin")]
    let built = try builder.build()
    let session = try BlockingSession(options: options)
    let outcome = session.send(built.outgoing)
    session.close()
    let after = memory()
    print("{\"status\": \"\(outcome.status)\", \"outcome\": \(json("\(outcome)")), \"size\": \(built.size), "
          + "\"grew_kib\": \(after.peak - before.resident)}")
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: PoolLoad load|mallocs ...", status: 2) }
switch arguments[1] {
case "load" where arguments.count >= 7:
    guard let port = UInt16(arguments[2]), let messages = Int(arguments[3]), let tasks = Int(arguments[4]),
          let connections = Int(arguments[5]), messages > 0, tasks > 0, connections > 0 else { fail("bad numbers", status: 2) }
    try await load(port: port, messages: messages, tasks: tasks, connections: connections, run: arguments[6],
                   caFile: arguments.count > 7 ? arguments[7] : nil)
case "stream" where arguments.count == 8:
    guard let port = UInt16(arguments[3]) else { fail("bad port", status: 2) }
    try stream(driver: arguments[2], port: port, path: arguments[4], user: arguments[5], password: arguments[6],
               caFile: arguments[7])
case "attachment" where arguments.count == 8:
    guard let port = UInt16(arguments[2]) else { fail("bad port", status: 2) }
    try attachment(port: port, path: arguments[3], marker: arguments[4], user: arguments[5], password: arguments[6],
                   caFile: arguments[7])
case "log-calls":
    print("{\"per_call\": \(logCallsBelowTheLevel(100_000))}")
case "mallocs" where arguments.count == 5 || arguments.count == 6:
    guard let port = UInt16(arguments[2]), let warmup = Int(arguments[3]), let messages = Int(arguments[4]),
          messages > 0 else { fail("bad numbers", status: 2) }
    guard let level = arguments.count == 6 ? Logger.Level(rawValue: arguments[5]) : .info else { fail("bad level", status: 2) }
    try await mallocs(port: port, warmup: warmup, messages: messages, level: level)
default:
    fail("usage: PoolLoad load PORT MESSAGES TASKS CONNECTIONS RUN-ID [CA-FILE] | mallocs PORT WARMUP MESSAGES [LEVEL]", status: 2)
}
