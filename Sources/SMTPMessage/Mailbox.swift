import SMTPCore

/// An address with an optional display name, for From, To, Cc, Bcc, Reply-To and Sender.
public struct Mailbox: Hashable, Sendable {
    /// The addr-spec, without angle brackets (UTF-8 allowed: the message then needs SMTPUTF8).
    public var address: String
    /// The display name, encoded (RFC 2047) or quoted as it needs; nil writes the bare address.
    public var name: String?

    /// A mailbox; `MessageBuilder.build()` checks the address.
    public init(_ address: String, name: String? = nil) {
        self.address = address
        self.name = name
    }

    /// Whether the address needs SMTPUTF8 (RFC 6531).
    var needsUTF8: Bool { !address.isASCII }

    func check(_ field: String) throws(MessageBuildError) {
        try checkHeaderText(address, "the \(field) address")
        if let problem = MailboxSyntax.problem(with: address, asRecipient: true) {
            throw MessageBuildError("the \(field) address \(address) is not valid: \(problem)")
        }
        if address.lowercased() == "postmaster" {
            throw MessageBuildError("the \(field) address needs a domain")
        }
    }

    /// The words of this mailbox in a header: `name <address>` or `address`.
    func words() throws(MessageBuildError) -> [String] {
        guard let name, !name.isEmpty else { return [address] }
        return try DisplayName.words(name) + ["<\(address)>"]
    }
}

/// Address header fields: the mailboxes separated by commas, folded between words.
enum AddressField {
    static func render(_ name: String, _ mailboxes: [Mailbox]) throws(MessageBuildError) -> [UInt8] {
        var words: [String] = []
        for (index, mailbox) in mailboxes.enumerated() {
            try mailbox.check(name)
            var mailboxWords = try mailbox.words()
            if index < mailboxes.count - 1 { mailboxWords[mailboxWords.count - 1] += "," }
            words += mailboxWords
        }
        return HeaderFolder.fold(name: name, words: words)
    }
}
