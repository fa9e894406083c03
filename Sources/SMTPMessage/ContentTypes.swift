/// The media type an attachment gets from its file name's extension (the caller can override
/// it); application/octet-stream when the extension is unknown.
public enum ContentTypes {
    static let byExtension: [String: String] = [
        "txt": "text/plain", "text": "text/plain", "log": "text/plain", "csv": "text/csv",
        "html": "text/html", "htm": "text/html", "css": "text/css", "md": "text/markdown",
        "ics": "text/calendar", "xml": "application/xml", "json": "application/json",
        "js": "text/javascript", "pdf": "application/pdf", "zip": "application/zip",
        "gz": "application/gzip", "tar": "application/x-tar", "7z": "application/x-7z-compressed",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "webp": "image/webp", "svg": "image/svg+xml", "bmp": "image/bmp", "tif": "image/tiff",
        "tiff": "image/tiff", "ico": "image/vnd.microsoft.icon", "heic": "image/heic",
        "mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "m4a": "audio/mp4",
        "mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm",
        "doc": "application/msword", "xls": "application/vnd.ms-excel",
        "ppt": "application/vnd.ms-powerpoint",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt": "application/vnd.oasis.opendocument.text", "rtf": "application/rtf",
    ]

    /// The guess for `filename`.
    public static func guess(forFilename filename: String) -> String {
        guard let dot = filename.lastIndex(of: "."), dot != filename.startIndex else { return "application/octet-stream" }
        let ext = filename[filename.index(after: dot)...].lowercased()
        return byExtension[ext] ?? "application/octet-stream"
    }

    /// Checks "type/subtype" (tokens, no parameters). Attachments are sent base64, which RFC
    /// 2046 forbids for multipart and message types.
    static func check(_ type: String) throws(MessageBuildError) {
        let halves = type.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, ParameterValue.isToken(halves[0]), ParameterValue.isToken(halves[1]) else {
            throw MessageBuildError("content type \(type) is not type/subtype")
        }
        let top = halves[0].lowercased()
        if top == "multipart" || top == "message" {
            throw MessageBuildError("an attachment cannot be \(type) (it is sent base64)")
        }
    }
}
