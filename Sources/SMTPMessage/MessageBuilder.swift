import SMTPCore

/// Describes a message: its header fields, text and HTML bodies, attachments. `build()` checks
/// everything and returns a `BuiltMessage` that streams the message and carries the envelope.
///
/// Structure: text, HTML, or both as multipart/alternative; inline parts next to HTML make
/// multipart/related; attachments make multipart/mixed.
///
/// `allowEightBit`: whether the server offers 8BITMIME (the builder cannot know before the
/// session). False (the default) sends non-ASCII text as quoted-printable and the message is
/// 7-bit; true sends it as 8bit with BODY=8BITMIME.
public struct MessageBuilder: Sendable {
    /// The From field's mailboxes; more than one needs a `sender`.
    public var from: [Mailbox]
    /// The Sender field, when someone sends for the From mailboxes.
    public var sender: Mailbox?
    /// The To field's mailboxes (recipients in the envelope too).
    public var to: [Mailbox]
    /// The Cc field's mailboxes (recipients in the envelope too).
    public var cc: [Mailbox] = []
    /// In the envelope only, never in the header.
    public var bcc: [Mailbox] = []
    /// The Reply-To field's mailboxes.
    public var replyTo: [Mailbox] = []
    /// The Subject, encoded (RFC 2047) and folded as needed; nil writes none.
    public var subject: String?
    /// The Date field.
    public var date: MessageDate
    /// The Message-ID without angle brackets; nil generates one under `messageIDDomain`.
    public var messageID: String?
    /// The domain generated Message-IDs and Content-IDs use; nil takes the From domain.
    public var messageIDDomain: String?
    /// The plain-text body.
    public var text: String?
    /// The HTML body.
    public var html: String?
    /// Attachments and inline parts, streamed from their sources when the message is sent.
    public var attachments: [Attachment] = []
    /// More header fields, after the builder's own.
    public var headers: [HeaderField] = []
    /// Whether non-ASCII text may go as 8bit (the server offers 8BITMIME); see the type's overview.
    public var allowEightBit = false
    /// The reverse-path; nil takes Sender's address, else the first From address.
    public var envelopeSender: String?

    /// A message from one mailbox; every other field can be set afterwards.
    public init(from: Mailbox, to: [Mailbox], subject: String? = nil, date: MessageDate, text: String? = nil) {
        self.from = [from]
        self.to = to
        self.subject = subject
        self.date = date
        self.text = text
    }

    /// Checks every field and part, and returns the message with its envelope. Throws naming the first problem (an invalid address, a custom field the builder writes itself, a bad Message-ID).
    public func build() throws(MessageBuildError) -> BuiltMessage {
        guard !from.isEmpty else { throw MessageBuildError("a message needs a From address") }
        if from.count > 1 && sender == nil {
            throw MessageBuildError("a message with several From addresses needs a Sender (RFC 5322 §3.6.2)")
        }
        let domain = try idDomain()
        let id = messageID ?? "\(RandomToken.hex(16))@\(domain)"
        try Self.checkID(id, "the Message-ID")

        var header: [UInt8] = Array("Date: \(date.rfc5322)\r\n".utf8)
        header += try AddressField.render("From", from)
        if let sender { header += try AddressField.render("Sender", [sender]) }
        if !to.isEmpty { header += try AddressField.render("To", to) }
        if !cc.isEmpty { header += try AddressField.render("Cc", cc) }
        if !replyTo.isEmpty { header += try AddressField.render("Reply-To", replyTo) }
        for mailbox in bcc { try mailbox.check("Bcc") }
        if let subject { header += try UnstructuredField.render("Subject", subject) }
        header += Array("Message-ID: <\(id)>\r\n".utf8)
        for field in headers { header += try field.render() }
        header += Array("MIME-Version: 1.0\r\n".utf8)

        var eightBit = false
        let root = try structure(domain: domain, eightBit: &eightBit)
        var segments: [Segment] = [.bytes(header + root.contentHeaders + [13, 10])]
        root.bodySegments(into: &segments)
        // The message ends with CRLF (so its size is exactly what the engine counts).
        if case .bytes(let last)? = segments.last, last.suffix(2).elementsEqual([13, 10]) {} else {
            segments.append(.bytes([13, 10]))
        }

        let reversePath = envelopeSender ?? (sender ?? from[0]).address
        if !reversePath.isEmpty, let problem = MailboxSyntax.problem(with: reversePath, asRecipient: false) {
            throw MessageBuildError("the envelope sender \(reversePath) is not valid: \(problem)")
        }
        var seen = Set<String>()
        let recipients = (to + cc + bcc).map(\.address).filter { seen.insert($0).inserted }
        guard !recipients.isEmpty else { throw MessageBuildError("a message needs at least one recipient") }
        let headerMailboxes = from + to + cc + replyTo + (sender.map { [$0] } ?? [])
        let utf8 = headerMailboxes.contains { $0.needsUTF8 } || bcc.contains { $0.needsUTF8 } || !reversePath.isASCII
        let headerUTF8 = headerMailboxes.contains { $0.needsUTF8 }
        return BuiltMessage(
            envelope: Envelope(sender: reversePath, recipients: recipients.map { Recipient($0) },
                               bodyType: eightBit || headerUTF8 ? .eightBitMIME : .sevenBit, requiresSMTPUTF8: utf8),
            messageID: id, segments: Self.coalesced(segments))
    }

    private func idDomain() throws(MessageBuildError) -> String {
        if let messageIDDomain {
            try Self.checkID("x@\(messageIDDomain)", "the Message-ID domain")
            return messageIDDomain
        }
        let address = (sender ?? from[0]).address
        let domain = address.split(separator: "@").last.map(String.init) ?? ""
        guard (try? Self.checkID("x@\(domain)", "")) != nil else {
            throw MessageBuildError("the From domain \(domain) cannot name a Message-ID: set messageIDDomain")
        }
        return domain
    }

    /// msg-id without angle brackets: dot-atom-text "@" dot-atom-text (RFC 5322 §3.6.4).
    static func checkID(_ id: String, _ what: String) throws(MessageBuildError) {
        let halves = id.split(separator: "@", omittingEmptySubsequences: false)
        func dotAtom(_ text: Substring) -> Bool {
            let atoms = text.split(separator: ".", omittingEmptySubsequences: false)
            return atoms.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy(DisplayName.isAtext) }
        }
        guard halves.count == 2, dotAtom(halves[0]), dotAtom(halves[1]), id.utf8.count <= 900 else {
            throw MessageBuildError("\(what) \(id) is not a valid id (dot-atom@dot-atom)")
        }
    }

    private static func coalesced(_ segments: [Segment]) -> [Segment] {
        var result: [Segment] = []
        for segment in segments {
            if case .bytes(let more) = segment, case .bytes(let bytes)? = result.last {
                result[result.count - 1] = .bytes(bytes + more)
            } else {
                result.append(segment)
            }
        }
        return result
    }
}
