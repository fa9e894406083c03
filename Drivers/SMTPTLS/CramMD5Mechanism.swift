import SMTPCore

/// CRAM-MD5 (RFC 2195): the answer to the server's challenge is "user HMAC-MD5(password, challenge)"
/// in lower-case hex. The password itself never crosses the wire.
public struct CramMD5Mechanism: SASLMechanism {
    public let name = "CRAM-MD5"
    public var isChallengeResponse: Bool { true }
    let username: String
    let password: String
    private var answered = false

    /// CRAM-MD5 for these credentials.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public mutating func initialResponse() throws(SASLFailure) -> [UInt8]? { nil }

    public mutating func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] {
        guard !answered else { throw SASLFailure("CRAM-MD5 server sent a second challenge") }
        guard !challenge.isEmpty else { throw SASLFailure("CRAM-MD5 challenge is empty") }
        answered = true
        let digest = Crypto.hmacMD5(key: Array(password.utf8), data: challenge)
        return Array("\(username) \(Crypto.hex(digest))".utf8)
    }
}
