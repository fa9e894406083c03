import SMTPConnection
import SMTPMessage

/// An attachment read from a file through `FileContent`: opened and checked once, then read
/// afresh in chunks at every send (constant memory); a file that changes after the check fails
/// its message instead of sending something else.
public struct FileAttachment: AttachmentSource {
    /// The file, as it was opened and checked.
    public let file: FileContent

    /// Opens and checks the file now; throws when it cannot be read.
    public init(path: String) throws(MessageBuildError) {
        do {
            file = try FileContent(path: path)
        } catch {
            throw MessageBuildError("attachment: \(error)")
        }
    }

    public var byteCount: Int { file.fileSize }

    /// A fresh pass over the file, from its first octet.
    public func makeReader() throws(MessageBuildError) -> any AttachmentReader {
        do {
            return Reader(try file.makeReader())
        } catch {
            throw MessageBuildError(error.message)
        }
    }

    private final class Reader: AttachmentReader {
        private let reader: any MessageReader
        init(_ reader: any MessageReader) { self.reader = reader }

        func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageBuildError) -> Int {
            do {
                return try reader.read(into: destination)
            } catch {
                throw MessageBuildError(error.message)
            }
        }
    }
}

extension Attachment {
    /// The file at `path` as an attachment, named by its last path component unless
    /// `filename` is given; the content type is guessed from that name unless given.
    public static func file(_ path: String, filename: String? = nil, contentType: String? = nil,
                            disposition: Disposition = .attachment) throws(MessageBuildError) -> Attachment {
        let name = filename ?? String(path.split(separator: "/").last ?? Substring(path))
        return Attachment(filename: name, contentType: contentType, disposition: disposition,
                          source: try FileAttachment(path: path))
    }
}
