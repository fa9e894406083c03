/// Why a message could not be built (or one of its attachments could not be read while it was
/// being sent). Every check happens in `MessageBuilder.build()`, before anything is sent.
public struct MessageBuildError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong, in words.
    public var message: String
    /// An error with these words.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Header text the caller gave must not hold CR, LF or NUL (header injection).
func checkHeaderText(_ text: String, _ what: String) throws(MessageBuildError) {
    for byte in text.utf8 where byte == 13 || byte == 10 || byte == 0 {
        throw MessageBuildError("\(what) must not contain CR, LF or NUL")
    }
}

extension String {
    var isASCII: Bool { utf8.allSatisfy { $0 < 128 } }
}
