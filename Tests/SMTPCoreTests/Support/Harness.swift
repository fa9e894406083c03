import SMTPCore
import Testing

/// A message the harness sends when the engine offers a transaction.
struct TestMessage {
    var envelope: Envelope
    /// The content in the chunks the harness will pass to `sendBody`.
    var chunks: [[UInt8]]

    init(_ envelope: Envelope, body: String) {
        self.envelope = envelope
        self.chunks = body.isEmpty ? [] : [Array(body.utf8)]
    }

    init(_ envelope: Envelope, chunks: [[UInt8]]) {
        self.envelope = envelope
        self.chunks = chunks
    }

    init(from sender: String, to recipients: [String], body: String = "Subject: t\r\n\r\nhello\r\n") {
        self.init(Envelope(sender: sender, recipients: recipients.map { Recipient($0) }), body: body)
    }
}

/// What the application does at points a script cannot reach (inside one drain).
struct Hooks {
    /// Transactions cancelled right after `startTransaction`, before any output is taken.
    var cancelOnStart: Set<UInt64> = []
    /// Cancels this transaction right after giving it this body piece (the piece count: after
    /// the end of the body), before the output is taken.
    var cancelAfterPiece: (transaction: UInt64, piece: Int)?
    /// A body request for this piece is left unanswered (the content is slow to come).
    var holdBodyAtPiece: Int?
    /// Message positions (0 for the first started) before which the session is reset.
    var resetBeforeMessage: Set<Int> = []
}

/// What one run of a script produced.
struct RunResult: Equatable {
    var clientBytes: [UInt8]
    var events: [String]
    var closed: Bool
    var failure: SMTPError?
    var startErrors: [String]
    /// Every `.transactionFinished` outcome, in order.
    var outcomes: [MessageOutcome] = []
    /// Every `.sendBody` request, as "#id piece" (the piece the harness would give next). Not
    /// compared: split strategies cut bodies into different pieces.
    var bodyRequests: [String] = []

    var clientText: String { String(decoding: clientBytes, as: UTF8.self) }

    static func == (lhs: RunResult, rhs: RunResult) -> Bool {
        lhs.clientBytes == rhs.clientBytes && lhs.events == rhs.events && lhs.closed == rhs.closed
            && lhs.failure == rhs.failure && lhs.startErrors == rhs.startErrors && lhs.outcomes == rhs.outcomes
    }
}

/// Drives an engine through a script with a virtual clock, the way a real driver would.
struct Harness {
    var machine: SMTPMachine
    var now = SMTPInstant(nanoseconds: 1_000_000_000)
    var messages: [TestMessage]
    var quitWhenDone: Bool
    /// Pass the final chunk with `last: true` (as a driver that knows the size does); otherwise
    /// end every body with a separate `finishBody`.
    var marksLastChunk = true
    var strategy: SplitStrategy
    var generator: SplitStrategy.Generator
    var hooks = Hooks()
    var bodyRequests: [String] = []
    private var resetsDone: Set<Int> = []

    var client: [UInt8] = []
    var events: [String] = []
    var closed = false
    var tlsRequested = false
    var startErrors: [String] = []
    var outcomes: [MessageOutcome] = []
    private var started: [TransactionID: Int] = [:]
    private var bodyCursor: [TransactionID: Int] = [:]
    private var bodyPieces: [TransactionID: [[UInt8]]] = [:]
    private var outputBuffer: [UInt8] = []

    init(configuration: SMTPConfiguration, messages: [TestMessage], quitWhenDone: Bool, strategy: SplitStrategy) throws {
        machine = try SMTPMachine(configuration: configuration)
        self.messages = messages
        self.quitWhenDone = quitWhenDone
        self.strategy = strategy
        self.generator = strategy.makeGenerator()
    }

    mutating func drain() {
        while true {
            switch machine.nextAction() {
            case .write:
                machine.takeOutput(into: &outputBuffer)
                client.append(contentsOf: outputBuffer)
                outputBuffer.removeAll(keepingCapacity: true)
            case .startTLS:
                tlsRequested = true
            case .readyForTransaction:
                let position = started.count
                if !messages.isEmpty, hooks.resetBeforeMessage.contains(position), !resetsDone.contains(position) {
                    resetsDone.insert(position)
                    machine.resetBeforeNextTransaction(at: now)
                    // Without PIPELINING the next message waits for the reply to RSET.
                    guard machine.canStartTransaction else { continue }
                }
                // Start the next message that the engine accepts; quit when none is left.
                var startedOne = false
                while !startedOne, !messages.isEmpty {
                    let message = messages.removeFirst()
                    do {
                        let id = try machine.startTransaction(message.envelope, at: now)
                        defer {
                            if hooks.cancelOnStart.contains(id.rawValue) {
                                machine.cancelTransaction(id, because: .cancelled, at: now)
                            }
                        }
                        // Message content is re-chunked by the strategy too (boundaries matter for stuffing).
                        let joined = message.chunks.flatMap { $0 }
                        bodyPieces[id] = strategyPieces(message.chunks, joined: joined)
                        started[id] = started.count
                        startedOne = true
                    } catch {
                        startErrors.append("\(error)")
                        events.append("start-error: \(error)")
                    }
                }
                // As ClientConnection does: QUIT is asked for as soon as the last message has
                // started, so the engine can pipeline it behind that message's last command.
                if quitWhenDone, !startedOne || messages.isEmpty {
                    machine.quit(at: now)
                }
            case .sendBody(let id, let fromStart):
                if fromStart { bodyCursor[id] = 0 }
                let pieces = bodyPieces[id] ?? []
                let cursor = bodyCursor[id] ?? 0
                bodyRequests.append("\(id) \(cursor)")
                if hooks.holdBodyAtPiece == cursor { continue }
                do {
                    if cursor < pieces.count {
                        bodyCursor[id] = cursor + 1
                        let last = marksLastChunk && cursor == pieces.count - 1
                        try machine.sendBody(pieces[cursor], for: id, last: last, at: now)
                    } else {
                        try machine.finishBody(for: id, at: now)
                    }
                } catch {
                    Issue.record("body call failed: \(error)")
                }
                if let cancel = hooks.cancelAfterPiece, cancel.transaction == id.rawValue,
                   cancel.piece == min(cursor + 1, pieces.count) {
                    machine.cancelTransaction(id, because: .cancelled, at: now)
                }
            case .event(let event):
                events.append(describe(event))
                if case .transactionFinished(_, let outcome) = event { outcomes.append(outcome) }
            case .close:
                closed = true
            case .wait:
                return
            }
        }
    }

    private mutating func strategyPieces(_ chunks: [[UInt8]], joined: [UInt8]) -> [[UInt8]] {
        switch strategy {
        case .whole: return chunks
        default: return strategy.pieces(joined, generator: &generator)
        }
    }

    /// Feeds each CRLF-terminated line as its own read, draining in between: a server that
    /// answers only what was asked (one read holding several replies would be a server
    /// answering ahead of commands not yet written).
    mutating func feedLines(_ text: String) {
        var line: [UInt8] = []
        for byte in text.utf8 {
            line.append(byte)
            if byte == 10 {
                feed(line)
                line.removeAll()
            }
        }
        if !line.isEmpty { feed(line) }
    }

    mutating func feed(_ bytes: [UInt8]) {
        for piece in strategy.pieces(bytes, generator: &generator) {
            machine.received(piece, at: now)
            drain()
        }
    }

    var result: RunResult {
        RunResult(clientBytes: client, events: events, closed: closed, failure: machine.failure, startErrors: startErrors,
                  outcomes: outcomes, bodyRequests: bodyRequests)
    }
}

/// Compact event descriptions for assertions.
func describe(_ event: SMTPEvent) -> String {
    switch event {
    case .greeting(let reply): "greeting \(reply.code)"
    case .capabilities(let caps): "capabilities \(caps.isExtended ? "esmtp" : "basic")"
    case .negotiatingTLS: "negotiating-tls"
    case .continuingWithoutTLS: "without-tls"
    case .tlsEstablished: "tls"
    case .authenticated(let mechanism): "authenticated \(mechanism)"
    case .sessionReady: "ready"
    case .recipient(let id, let index, let reply): "rcpt \(id) \(index) \(reply.code)"
    case .messageAccepted(let id, let reply): "accepted \(id) \(reply.code)"
    case .messageRejected(let id, let reply): "rejected \(id) \(reply.code)"
    case .recipientDelivery(let id, let index, let reply): "delivery \(id) \(index) \(reply.code)"
    case .transactionFinished(let id, let outcome):
        "finished \(id) \(outcome.status) \(outcome.deliveredCount)/\(outcome.recipientCount)"
            + (outcome.failure.map { " [\($0)]" } ?? "")
    case .transcript(let entry):
        switch entry {
        case .command(let line): "C: \(line)"
        case .reply(let reply): "S: \(reply.code)"
        case .data(let count): "C: <\(count) bytes>"
        }
    case .sessionFailed(let error): "failed: \(error)"
    case .sessionClosed: "closed"
    }
}

/// Runs `script` under `strategy`, checking client output against the script at every server step.
func run(_ script: Script, configuration: SMTPConfiguration, messages: [TestMessage] = [],
         quitWhenDone: Bool = true, hooks: Hooks = Hooks(), strategy: SplitStrategy,
         sourceLocation: SourceLocation = #_sourceLocation) throws -> RunResult {
    var harness = try Harness(configuration: configuration, messages: messages, quitWhenDone: quitWhenDone, strategy: strategy)
    harness.hooks = hooks
    var expected: [UInt8] = []
    harness.machine.connectionEstablished(at: harness.now)
    harness.drain()

    func checkClient(_ harness: Harness, _ when: String) -> Bool {
        if harness.client != expected {
            Issue.record("""
                [\(strategy)] client output differs \(when)
                expected: \(String(decoding: expected, as: UTF8.self).debugDescription)
                actual:   \(String(decoding: harness.client, as: UTF8.self).debugDescription)
                events: \(harness.events)
                """, sourceLocation: sourceLocation)
            return false
        }
        return true
    }

    for (number, step) in script.steps.enumerated() {
        switch step {
        case .client(let bytes):
            expected.append(contentsOf: bytes)
        case .server(let bytes):
            guard checkClient(harness, "before step \(number + 1)") else { return harness.result }
            harness.feed(bytes)
        case .tls(let failure):
            guard checkClient(harness, "before TLS at step \(number + 1)") else { return harness.result }
            let requested = harness.tlsRequested
            #expect(requested, "[\(strategy)] client did not ask for TLS at step \(number + 1)", sourceLocation: sourceLocation)
            harness.tlsRequested = false
            if let failure {
                harness.machine.tlsFailed(failure, at: harness.now)
            } else {
                harness.machine.tlsEstablished(at: harness.now)
            }
            harness.drain()
        case .eof:
            guard checkClient(harness, "before EOF at step \(number + 1)") else { return harness.result }
            harness.machine.connectionClosed(at: harness.now)
            harness.drain()
        case .wait(let seconds):
            guard checkClient(harness, "before WAIT at step \(number + 1)") else { return harness.result }
            harness.now = harness.now + .seconds(seconds)
            harness.machine.deadlineReached(at: harness.now)
            harness.drain()
        case .cancel(let id, let reason):
            guard checkClient(harness, "before CANCEL at step \(number + 1)") else { return harness.result }
            harness.machine.cancelTransaction(id, because: reason, at: harness.now)
            harness.drain()
        case .reset:
            guard checkClient(harness, "before RESET at step \(number + 1)") else { return harness.result }
            harness.machine.resetBeforeNextTransaction(at: harness.now)
            harness.drain()
        }
    }
    _ = checkClient(harness, "at the end")
    let unanswered = harness.tlsRequested
    let closed = harness.closed
    #expect(!unanswered || closed, "[\(strategy)] unanswered TLS request", sourceLocation: sourceLocation)
    return harness.result
}

/// Runs `script` under every split strategy, checks they all agree, and returns the result.
@discardableResult
func transcript(_ text: String, configuration: SMTPConfiguration = .test(), messages: [TestMessage] = [],
                quitWhenDone: Bool = true, hooks: Hooks = Hooks(),
                sourceLocation: SourceLocation = #_sourceLocation) throws -> RunResult {
    let script = Script(text)
    var first: RunResult?
    for strategy in SplitStrategy.allCases {
        let result = try run(script, configuration: configuration, messages: messages,
                             quitWhenDone: quitWhenDone, hooks: hooks, strategy: strategy, sourceLocation: sourceLocation)
        if let first {
            #expect(result == first, "[\(strategy)] outcome differs from the whole-input run", sourceLocation: sourceLocation)
        } else {
            first = result
        }
    }
    return first!
}

extension SMTPConfiguration {
    static func test(tls: TLSPolicy = .off, authentication: AuthenticationOptions? = nil, dialect: Dialect = .smtp,
                     usePipelining: Bool = true, useChunking: Bool = true, timeouts: Timeouts = Timeouts(),
                     limits: Limits = Limits()) -> SMTPConfiguration {
        SMTPConfiguration(heloName: "client.example", tls: tls, authentication: authentication, dialect: dialect,
                          usePipelining: usePipelining, useChunking: useChunking, timeouts: timeouts, limits: limits)
    }
}
