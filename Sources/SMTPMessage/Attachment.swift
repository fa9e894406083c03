/// A file attached to a message: sent base64 in 76-column lines, with a content type (guessed
/// from the file name unless given) and the file name (RFC 2231 encoded when not ASCII).
public struct Attachment: Sendable {
    /// How the part is presented: as an attachment, or inline in the HTML body.
    public enum Disposition: Hashable, Sendable {
        /// Content-Disposition: attachment.
        case attachment
        /// Content-Disposition: inline with a Content-ID (without angle brackets; generated
        /// under the Message-ID domain when nil), for an HTML body's "cid:" references.
        case inline(contentID: String?)
    }

    /// The file name the recipient sees.
    public var filename: String
    /// "type/subtype"; nil guesses from `filename` (`ContentTypes.guess`).
    public var contentType: String?
    /// Attachment or inline.
    public var disposition: Disposition
    /// Where the octets come from, read afresh at every send.
    public var source: any AttachmentSource

    /// An attachment whose octets come from `source`.
    public init(filename: String, contentType: String? = nil, disposition: Disposition = .attachment,
                source: any AttachmentSource) {
        self.filename = filename
        self.contentType = contentType
        self.disposition = disposition
        self.source = source
    }

    /// An attachment held in memory.
    public init(filename: String, contentType: String? = nil, disposition: Disposition = .attachment, bytes: [UInt8]) {
        self.init(filename: filename, contentType: contentType, disposition: disposition, source: BytesAttachment(bytes))
    }

    var isInline: Bool {
        if case .inline = disposition { return true }
        return false
    }
}
