import SMTPCore

/// SCRAM-SHA-256 (RFC 5802, RFC 7677) without channel binding ("n,," GS2 header). The client
/// proves it knows the password without sending it, and the server proves it knows the salted
/// password: `verifyCompletion` refuses a 235 that did not come with a valid server signature.
public struct ScramSHA256Mechanism: SASLMechanism {
    public let name = "SCRAM-SHA-256"
    public var isChallengeResponse: Bool { true }

    /// Iteration counts outside this range are refused: too few make the exchange crackable
    /// offline, too many let a hostile server burn the client's CPU.
    public static let iterationRange = 4096...1_000_000

    let username: String
    let password: String
    private let clientNonce: String
    private var step = 0
    private var clientFirstBare = ""
    private var expectedServerSignature: [UInt8] = []
    private var serverVerified = false

    /// SCRAM-SHA-256 for these credentials, with a fresh random client nonce.
    public init(username: String, password: String) {
        self.init(username: username, password: password,
                  clientNonce: SCRAMBase64.encode(Crypto.randomBytes(18)))
    }

    /// For tests with fixed vectors.
    init(username: String, password: String, clientNonce: String) {
        self.username = username
        self.password = password
        self.clientNonce = clientNonce
    }

    public mutating func initialResponse() throws(SASLFailure) -> [UInt8]? {
        clientFirstBare = "n=\(SASLName.escape(username)),r=\(clientNonce)"
        step = 1
        return Array(("n,," + clientFirstBare).utf8)
    }

    public mutating func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] {
        let message = String(decoding: challenge, as: UTF8.self)
        switch step {
        case 1:
            step = 2
            return try clientFinal(serverFirst: message)
        case 2:
            step = 3
            try verify(serverFinal: message)
            return []
        default:
            throw SASLFailure("SCRAM server sent too many challenges")
        }
    }

    public func verifyCompletion() throws(SASLFailure) {
        guard serverVerified else { throw SASLFailure("SCRAM server did not prove it knows the password") }
    }

    private static func attributes(_ message: String) -> [Character: Substring] {
        var result: [Character: Substring] = [:]
        for part in message.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, part.dropFirst().first == "=", let key = part.first else { continue }
            if result[key] == nil { result[key] = part.dropFirst(2) }
        }
        return result
    }

    private mutating func clientFinal(serverFirst: String) throws(SASLFailure) -> [UInt8] {
        if serverFirst.hasPrefix("e=") { throw SASLFailure("SCRAM server error: \(serverFirst.dropFirst(2))") }
        guard !serverFirst.hasPrefix("m=") else { throw SASLFailure("SCRAM server requires an unsupported extension") }
        let fields = Self.attributes(serverFirst)
        guard let nonce = fields["r"], nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count,
              !nonce.contains(",") else {
            throw SASLFailure("SCRAM server nonce does not extend ours")
        }
        guard let saltText = fields["s"], let salt = SCRAMBase64.decode(saltText), !salt.isEmpty else {
            throw SASLFailure("SCRAM salt is missing or invalid")
        }
        guard let iterationText = fields["i"], let iterations = Int(iterationText),
              Self.iterationRange.contains(iterations) else {
            throw SASLFailure("SCRAM iteration count is missing or outside \(Self.iterationRange)")
        }
        guard let salted = Crypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt, iterations: iterations) else {
            throw SASLFailure("PBKDF2 failed")
        }
        let withoutProof = "c=biws,r=\(nonce)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientKey = Crypto.hmacSHA256(key: salted, data: Array("Client Key".utf8))
        let storedKey = Crypto.sha256(clientKey)
        let clientSignature = Crypto.hmacSHA256(key: storedKey, data: authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = Crypto.hmacSHA256(key: salted, data: Array("Server Key".utf8))
        expectedServerSignature = Crypto.hmacSHA256(key: serverKey, data: authMessage)
        return Array("\(withoutProof),p=\(SCRAMBase64.encode(proof))".utf8)
    }

    private mutating func verify(serverFinal: String) throws(SASLFailure) {
        if serverFinal.hasPrefix("e=") { throw SASLFailure("SCRAM server error: \(serverFinal.dropFirst(2))") }
        guard let signatureText = Self.attributes(serverFinal)["v"], let signature = SCRAMBase64.decode(signatureText),
              signature.count == expectedServerSignature.count else {
            throw SASLFailure("SCRAM server signature is missing or malformed")
        }
        // Constant-time comparison.
        var difference: UInt8 = 0
        for (a, b) in zip(signature, expectedServerSignature) { difference |= a ^ b }
        guard difference == 0 else { throw SASLFailure("SCRAM server signature does not match: not the real server") }
        serverVerified = true
    }
}
