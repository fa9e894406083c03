/// PLAIN (RFC 4616): "authzid NUL authcid NUL password" as the initial response.
public struct PlainMechanism: SASLMechanism {
    public let name = "PLAIN"
    let username: String
    let password: String
    let authorizationID: String
    private var sent = false

    /// PLAIN for these credentials; an empty `authorizationID` (the default) lets the server derive it from `username`.
    public init(username: String, password: String, authorizationID: String = "") {
        self.username = username
        self.password = password
        self.authorizationID = authorizationID
    }

    private var message: [UInt8] {
        Array(authorizationID.utf8) + [0] + Array(username.utf8) + [0] + Array(password.utf8)
    }

    public mutating func initialResponse() throws(SASLFailure) -> [UInt8]? {
        sent = true
        return message
    }

    /// A server that ignored the initial response sends an empty challenge: answer it once.
    public mutating func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] {
        guard !sent, challenge.isEmpty else { throw SASLFailure("unexpected PLAIN challenge") }
        sent = true
        return message
    }
}

/// LOGIN (draft-murchison-sasl-login): the username, then the password, each answering one
/// challenge. The prompts' wording is not trusted; their order is.
public struct LoginMechanism: SASLMechanism {
    public let name = "LOGIN"
    let username: String
    let password: String
    private var step = 0

    /// LOGIN for these credentials.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public mutating func initialResponse() throws(SASLFailure) -> [UInt8]? { nil }

    public mutating func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] {
        step += 1
        switch step {
        case 1: return Array(username.utf8)
        case 2: return Array(password.utf8)
        default: throw SASLFailure("LOGIN server asked for more than username and password")
        }
    }
}

/// XOAUTH2 (Google/Microsoft): "user=U ^A auth=Bearer T ^A ^A". On failure the server sends a
/// JSON error as a challenge; the client answers with an empty line and the server then fails
/// the exchange with a 5xx reply.
public struct XOAuth2Mechanism: SASLMechanism {
    public let name = "XOAUTH2"
    let username: String
    let token: String
    private var answeredError = false

    /// XOAUTH2 for this user and OAuth 2.0 access token.
    public init(username: String, token: String) {
        self.username = username
        self.token = token
    }

    public mutating func initialResponse() throws(SASLFailure) -> [UInt8]? {
        try refuseControlA(in: name, ("user", username), ("token", token))
        return Array("user=\(username)\u{01}auth=Bearer \(token)\u{01}\u{01}".utf8)
    }

    public mutating func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] {
        guard !answeredError else { throw SASLFailure("XOAUTH2 server sent a second challenge") }
        answeredError = true
        return []
    }
}

/// OAUTHBEARER (RFC 7628): a GS2 header without channel binding, then host, port and the
/// bearer token. An error challenge is answered with a single ^A (RFC 7628 §3.2.3).
public struct OAuthBearerMechanism: SASLMechanism {
    public let name = "OAUTHBEARER"
    let username: String
    let token: String
    let host: String?
    let port: Int?
    private var answeredError = false

    /// OAUTHBEARER for this user and bearer token; `host` and `port` name the server, when given.
    public init(username: String, token: String, host: String? = nil, port: Int? = nil) {
        self.username = username
        self.token = token
        self.host = host
        self.port = port
    }

    public mutating func initialResponse() throws(SASLFailure) -> [UInt8]? {
        try refuseControlA(in: name, ("user", username), ("token", token), ("host", host ?? ""))
        var message = "n,a=\(SASLName.escape(username)),\u{01}"
        if let host { message += "host=\(host)\u{01}" }
        if let port { message += "port=\(port)\u{01}" }
        message += "auth=Bearer \(token)\u{01}\u{01}"
        return Array(message.utf8)
    }

    public mutating func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] {
        guard !answeredError else { throw SASLFailure("OAUTHBEARER server sent a second challenge") }
        answeredError = true
        return [0x01]
    }
}

/// ^A (0x01) separates the fields of XOAUTH2 and OAUTHBEARER: one inside a value would cut it
/// short or forge a field, so such a value is refused before anything is sent.
private func refuseControlA(in mechanism: String, _ fields: (label: String, value: String)...) throws(SASLFailure) {
    for field in fields where field.value.utf8.contains(0x01) {
        throw SASLFailure("\(mechanism) \(field.label) contains ^A (0x01)")
    }
}
