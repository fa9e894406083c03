import SMTPCore

extension AuthenticationOptions {
    /// Username and password with every mechanism this build supports, best first:
    /// SCRAM-SHA-256, PLAIN, CRAM-MD5, LOGIN (without TLS the engine tries SCRAM-SHA-256 and
    /// CRAM-MD5 before PLAIN and LOGIN). With `forcing`, only that mechanism (any name outside
    /// the list leaves it empty, and the engine reports that no mechanism is usable).
    public static func passwordWithCrypto(username: String, password: String, forcing mechanism: String? = nil,
                                          allowWithoutTLS: Bool = false) -> AuthenticationOptions {
        var list: [any SASLMechanism] = [
            ScramSHA256Mechanism(username: username, password: password),
            PlainMechanism(username: username, password: password),
            CramMD5Mechanism(username: username, password: password),
            LoginMechanism(username: username, password: password),
        ]
        if let forced = mechanism?.uppercased() { list = list.filter { $0.name == forced } }
        return AuthenticationOptions(mechanisms: list, allowWithoutTLS: allowWithoutTLS)
    }
}
