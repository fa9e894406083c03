@testable import SMTPNIOClient
import SMTPCore
import Testing

/// The pool's decisions without sockets: each input's whole list of actions.
@Suite("PoolState decisions")
struct PoolStateTests {
    static let start = ContinuousClock.now
    static let delivered = MessageOutcome(status: .delivered,
                                          recipients: [RecipientOutcome(index: 0, address: "r@example.net", status: .delivered, reply: nil)],
                                          dataReply: nil, failure: nil, isSafeToRetry: false)
    static let throttled = MessageOutcome.notAttempted(
        Envelope(sender: "s@example.net", recipients: [Recipient("r@example.net")]),
        because: .senderRefused(SMTPReply(code: ReplyCode(rawValue: 451)!, lines: ["4.7.0 Try again later"],
                                          enhancedStatusCode: EnhancedStatusCode(statusClass: 4, subject: 7, detail: 0))))

    static func take(_ state: inout PoolState) -> [PoolState.Action] {
        defer { state.actions.removeAll() }
        return state.actions
    }

    @Test func connectionsOpenUpToTheLimitAndTakeMessagesInTurn() {
        var state = PoolState(configuration: SMTPPoolConfiguration(maxConnections: 2))
        for request: RequestID in 1...3 { state.submit(request, at: Self.start) }
        #expect(Self.take(&state) == [.connect(1), .connect(2)])
        state.connectionReady(1, at: Self.start)
        #expect(Self.take(&state) == [.send(1, on: 1, resetFirst: false)])
        state.finished(1, on: 1, with: Self.delivered, at: Self.start)
        #expect(Self.take(&state) == [.finish(1, .outcome(Self.delivered)), .send(2, on: 1, resetFirst: true)])
        state.connectionReady(2, at: Self.start)
        #expect(Self.take(&state) == [.send(3, on: 2, resetFirst: false)])
    }

    @Test func aThrottleHoldsEveryStartUntilTheBackoffHasPassed() {
        var state = PoolState(configuration: SMTPPoolConfiguration(maxConnections: 1, maxAttempts: 3,
                                                                   initialBackoff: .seconds(1), maximumBackoff: .seconds(4)))
        state.submit(1, at: Self.start)
        state.connectionReady(1, at: Self.start)
        #expect(Self.take(&state) == [.connect(1), .send(1, on: 1, resetFirst: false)])
        state.finished(1, on: 1, with: Self.throttled, at: Self.start)
        // Back in the queue; the connection retires; nothing starts.
        #expect(Self.take(&state) == [.quit(1)])
        state.connectionClosed(1, error: nil, at: Self.start)
        #expect(Self.take(&state) == [])
        #expect(state.nextWakeUp == Self.start + .seconds(1))
        state.timePassed(at: Self.start + .milliseconds(999))
        #expect(Self.take(&state) == [])
        state.timePassed(at: Self.start + .seconds(1))
        #expect(Self.take(&state) == [.connect(2)])
        // A second throttle in a row waits twice as long.
        state.connectionReady(2, at: Self.start + .seconds(1))
        #expect(Self.take(&state) == [.send(1, on: 2, resetFirst: false)])
        state.finished(1, on: 2, with: Self.throttled, at: Self.start + .seconds(1))
        #expect(Self.take(&state) == [.quit(2)])
        #expect(state.nextWakeUp == Self.start + .seconds(3))
    }

    @Test func aSafeOutcomeIsRetriedUpToMaxAttemptsThenFinal() {
        var state = PoolState(configuration: SMTPPoolConfiguration(maxConnections: 1, maxAttempts: 2, initialBackoff: .zero))
        let closed = MessageOutcome.notAttempted(Envelope(sender: "s@example.net", recipients: [Recipient("r@example.net")]),
                                                 because: .sessionEnded(.connectionClosed(.mail)))
        state.submit(1, at: Self.start)
        state.connectionReady(1, at: Self.start)
        _ = Self.take(&state)
        state.finished(1, on: 1, with: closed, at: Self.start)
        state.connectionClosed(1, error: .connectionClosed(.mail), at: Self.start)
        #expect(Self.take(&state) == [.quit(1), .connect(2)])
        state.connectionReady(2, at: Self.start)
        #expect(Self.take(&state) == [.send(1, on: 2, resetFirst: false)])
        state.finished(1, on: 2, with: closed, at: Self.start)
        #expect(Self.take(&state) == [.finish(1, .outcome(closed)), .quit(2)])
    }

    @Test func stoppingAWaitingRequestWithdrawsItAndAHeldOneAsksTheEngine() {
        var state = PoolState(configuration: SMTPPoolConfiguration(maxConnections: 1))
        state.submit(1, at: Self.start)
        state.submit(2, at: Self.start)
        state.connectionReady(1, at: Self.start)
        #expect(Self.take(&state) == [.connect(1), .send(1, on: 1, resetFirst: false)])
        state.stop(2, because: .cancelled, at: Self.start)
        #expect(Self.take(&state) == [.finish(2, .notAttempted(.cancelled(.cancelled)))])
        state.stop(1, because: .deadlineExceeded, at: Self.start)
        #expect(Self.take(&state) == [.stop(1, on: 1, .deadlineExceeded)])
    }
}
