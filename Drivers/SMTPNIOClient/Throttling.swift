import SMTPCore

/// The server's way of saying "slow down": a 421, 451 or 454 whose enhanced status code is
/// 4.7.x (RFC 3463 class 4, subject 7: security or policy, as in "4.7.0 too many connections" or
/// "4.7.1 rate limited"). Read from the reply's enhanced code when the engine parsed one, else
/// from the start of its text: a greeting comes before EHLO has advertised ENHANCEDSTATUSCODES.
enum Throttling {
    /// Whether `reply` asks the client to back off.
    static func isThrottle(_ reply: SMTPReply) -> Bool {
        guard [421, 451, 454].contains(reply.code.rawValue) else { return false }
        if let enhanced = reply.enhancedStatusCode { return enhanced.statusClass == 4 && enhanced.subject == 7 }
        // "NNN 4.7.D..." on the first line.
        let raw = reply.raw
        guard raw.count >= 9 else { return false }
        let start = raw.startIndex
        return raw[start + 4] == UInt8(ascii: "4") && raw[start + 5] == UInt8(ascii: ".")
            && raw[start + 6] == UInt8(ascii: "7") && raw[start + 7] == UInt8(ascii: ".")
            && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(raw[start + 8])
    }

    /// The reply behind a message's failure, when the failure carries one.
    static func reply(of failure: TransactionFailure?) -> SMTPReply? {
        switch failure {
        case .senderRefused(let reply)?, .dataRefused(let reply)?, .messageRefused(let reply)?: reply
        case .sessionEnded(let error)?: reply(of: error)
        default: nil
        }
    }

    /// The reply behind a session's error, when it carries one.
    static func reply(of error: SMTPError?) -> SMTPReply? {
        switch error {
        case .greetingRefused(let reply)?, .serviceNotAvailable(let reply)?, .ehloRefused(let reply)?,
             .heloRefused(let reply)?, .ehloRefusedAfterTLS(let reply)?, .startTLSRefused(let reply)?,
             .authenticationFailed(let reply)?: reply
        default: nil
        }
    }

    /// Whether a message's outcome asks for back-off.
    static func isThrottle(_ outcome: MessageOutcome) -> Bool {
        reply(of: outcome.failure).map(isThrottle) ?? false
    }

    /// Whether a session's end asks for back-off.
    static func isThrottle(_ error: SMTPError?) -> Bool {
        reply(of: error).map(isThrottle) ?? false
    }
}

/// The exponential back-off: `initial`, doubled at each throttle in a row up to `maximum`, and
/// forgotten at the next delivery.
struct Backoff: Hashable {
    let initial: Duration
    let maximum: Duration
    /// The wait the next throttle gets.
    private(set) var next: Duration
    /// No message starts before this instant (nil: none).
    private(set) var until: ContinuousClock.Instant?

    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
        next = initial
    }

    /// The server throttled at `now`: wait `next`, and double it for the time after.
    mutating func throttled(at now: ContinuousClock.Instant) {
        let end = now + next
        until = max(until ?? end, end)
        next = min(maximum, next * 2)
    }

    /// A message was delivered: the next throttle starts from `initial` again.
    mutating func delivered() {
        next = initial
    }

    /// Whether the back-off still holds at `now` (and forgets it once it has passed).
    mutating func isActive(at now: ContinuousClock.Instant) -> Bool {
        guard let until else { return false }
        if now >= until {
            self.until = nil
            return false
        }
        return true
    }
}
