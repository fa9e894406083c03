import Foundation
import SMTPCore
import SMTPConnection
import SMTPNIODriver
import SMTPSocketDriver
import SMTPUVDriver

/// The drivers behind one call, so every integration test runs through each.
enum Driver: String, CaseIterable, CustomStringConvertible, Sendable {
    case socket
    case uv
    case nio

    /// The drivers the integration tests run through: all three, unless the environment's
    /// SMTP_SEND_DRIVERS names fewer (as for Tests/cli).
    static var allCases: [Driver] {
        guard let listed = ProcessInfo.processInfo.environment["SMTP_SEND_DRIVERS"]?.split(separator: ",") else {
            return [.socket, .uv, .nio]
        }
        return [Driver.socket, .uv, .nio].filter { listed.contains(Substring("\($0)")) }
    }

    var description: String { rawValue }
}

/// What one send produced, whichever driver ran it.
struct SendResult {
    var reports: [MessageOutcome] = []
    var setupError: SMTPClientError?
    var events: [SMTPEvent] = []
    var elapsed: Duration = .zero

    var report: MessageOutcome? { reports.first }

    /// Commands the client sent, from the transcript.
    var commands: [String] {
        events.compactMap { if case .transcript(.command(let line)) = $0 { line } else { nil } }
    }

    var sawTLS: Bool { events.contains { if case .tlsEstablished = $0 { true } else { false } } }

    var authenticatedWith: String? {
        for event in events { if case .authenticated(let mechanism) = event { return mechanism } }
        return nil
    }

    /// The session error, from whichever place the driver reported it.
    var sessionError: SMTPError? {
        for event in events { if case .sessionFailed(let error) = event { return error } }
        if case .sessionEnded(let error)? = report?.failure { return error }
        return nil
    }
}

/// Sends `messages` over one session with `driver`, collecting events (transcript included).
func deliver(_ messages: [OutgoingMessage], options: ClientOptions, via driver: Driver) -> SendResult {
    var options = options
    options.transcript = true
    var result = SendResult()
    let started = ContinuousClock.now
    let box = EventBox()
    let observer: SessionObserver = { event, _ in box.events.append(event) }
    switch driver {
    case .socket:
        do {
            let session = try BlockingSession(options: options, observer: observer)
            result.reports = session.send(messages)
            session.close()
        } catch {
            result.setupError = error
        }
    case .uv:
        // One session and one attempt per message, as BlockingSession does.
        let sender = UVBatchSender(options: options, connections: 1, maxAttempts: 1, observer: observer)
        do {
            result.reports = try sender.send(messages)
        } catch {
            result.setupError = error
        }
    case .nio:
        let sender = NIOBatchSender(options: options, connections: 1, maxAttempts: 1, observer: observer)
        do {
            result.reports = try sender.send(messages)
        } catch {
            result.setupError = error
        }
    }
    result.events = box.events
    result.elapsed = ContinuousClock.now - started
    return result
}

func deliver(_ message: OutgoingMessage, options: ClientOptions, via driver: Driver) -> SendResult {
    deliver([message], options: options, via: driver)
}

final class EventBox: @unchecked Sendable {
    var events: [SMTPEvent] = []
}
