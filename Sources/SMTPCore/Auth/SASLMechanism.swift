/// Why a SASL mechanism could not go on; the engine cancels the exchange with "*".
public struct SASLFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why, in words.
    public var reason: String
    /// A failure for this reason.
    public init(_ reason: String) { self.reason = reason }
    /// The reason.
    public var description: String { reason }
}

/// One SASL mechanism's client side (RFC 4422), as used by SMTP AUTH (RFC 4954).
///
/// The engine does the framing: it sends `AUTH NAME [initial-response]`, base64-decodes each 334
/// challenge, passes it to `response(to:)`, base64-encodes the answer, counts the rounds, and
/// cancels with "*" when a method throws. A mechanism only turns challenges into responses, so
/// one that needs a crypto library (CRAM-MD5, SCRAM) lives in a module that has one and plugs in
/// here.
///
/// Mechanisms are values: the engine copies the one it chooses and mutates its copy.
public protocol SASLMechanism: Sendable {
    /// The registered name, upper case, as servers list it after AUTH.
    var name: String { get }

    /// True when the secret itself never crosses the wire: the client answers a challenge with
    /// proof that it knows the secret (CRAM-MD5, SCRAM). Without TLS the engine tries these
    /// before the others. False unless a mechanism says so.
    var isChallengeResponse: Bool { get }

    /// The client's first message, sent on the AUTH line, or nil when the server must speak first.
    mutating func initialResponse() throws(SASLFailure) -> [UInt8]?

    /// The answer to one decoded server challenge.
    mutating func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8]

    /// Called on 235. Mechanisms that authenticate the server too (SCRAM) throw here unless the
    /// server proved itself during the exchange.
    func verifyCompletion() throws(SASLFailure)
}

extension SASLMechanism {
    public var isChallengeResponse: Bool { false }
    public func verifyCompletion() throws(SASLFailure) {}
}

/// Which mechanisms the client may use, in order of preference, and with what rules.
public struct AuthenticationOptions: Sendable {
    /// Candidate mechanisms, most preferred first. The engine uses the first one the server
    /// offers after TLS (or after EHLO when there is no TLS, challenge-response ones first: see
    /// `preferenceOrder(tlsActive:)`).
    public var mechanisms: [any SASLMechanism]
    /// Allows AUTH on a connection without TLS. Off by default: credentials never cross the
    /// network in the clear unless the caller asked for it.
    public var allowWithoutTLS: Bool

    /// These mechanisms, most preferred first; AUTH without TLS only when `allowWithoutTLS`.
    public init(mechanisms: [any SASLMechanism], allowWithoutTLS: Bool = false) {
        self.mechanisms = mechanisms
        self.allowWithoutTLS = allowWithoutTLS
    }

    /// The order the engine tries `mechanisms` in: as given over TLS. Without TLS (AUTH there
    /// only when `allowWithoutTLS`), the challenge-response mechanisms first, so the password
    /// does not cross the wire in the clear when the server offers a way around it; each group
    /// keeps its given order.
    public func preferenceOrder(tlsActive: Bool) -> [any SASLMechanism] {
        guard !tlsActive else { return mechanisms }
        return mechanisms.filter { $0.isChallengeResponse } + mechanisms.filter { !$0.isChallengeResponse }
    }

    /// Username and password with the built-in mechanisms PLAIN then LOGIN, or only `forcing`
    /// when given (any other name leaves the list empty, and the engine reports no usable
    /// mechanism). Drivers with a crypto library prepend CRAM-MD5 and SCRAM-SHA-256.
    public static func password(username: String, password: String, forcing mechanism: String? = nil,
                                allowWithoutTLS: Bool = false) -> AuthenticationOptions {
        var list: [any SASLMechanism] = [PlainMechanism(username: username, password: password),
                                         LoginMechanism(username: username, password: password)]
        if let forced = mechanism?.uppercased() { list = list.filter { $0.name == forced } }
        return AuthenticationOptions(mechanisms: list, allowWithoutTLS: allowWithoutTLS)
    }
}
