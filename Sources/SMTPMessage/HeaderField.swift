/// A header field the caller adds. The name must be a valid field name (RFC 5322 §3.6.8:
/// printable ASCII but ':'); the value must not hold CR, LF or NUL. The value is written as
/// unstructured text (encoded-words when it is not ASCII). Fields the builder writes itself
/// (From, To, Subject, Content-Type, ...) are refused: set them through the builder.
public struct HeaderField: Hashable, Sendable {
    /// The field name.
    public var name: String
    /// The field value, as unstructured text.
    public var value: String
    /// A field; `MessageBuilder.build()` checks the name and the value.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    static let reserved: Set<String> = [
        "date", "from", "sender", "to", "cc", "bcc", "reply-to", "subject", "message-id",
        "mime-version", "content-type", "content-transfer-encoding", "content-disposition", "content-id",
    ]

    func render() throws(MessageBuildError) -> [UInt8] {
        guard !name.isEmpty, name.utf8.count <= 76,
              name.utf8.allSatisfy({ $0 >= 33 && $0 <= 126 && $0 != UInt8(ascii: ":") }) else {
            throw MessageBuildError("\"\(name)\" is not a valid header field name")
        }
        if Self.reserved.contains(name.lowercased()) {
            throw MessageBuildError("the \(name) field is set by the builder, not as a custom header")
        }
        return try UnstructuredField.render(name, value)
    }
}
