/// The MIME tree of a message: bodies, then inline parts, then attachments.
extension MessageBuilder {
    func structure(domain: String, eightBit: inout Bool) throws(MessageBuildError) -> MIMEPart {
        func textPart(_ body: String, _ subtype: String) -> MIMEPart {
            let (encoding, bytes) = TextEncoding.encode(body, allowEightBit: allowEightBit)
            if encoding == .eightBit { eightBit = true }
            let headers = "Content-Type: text/\(subtype); charset=\"utf-8\"\r\nContent-Transfer-Encoding: \(encoding.rawValue)\r\n"
            return .leaf(headers: Array(headers.utf8), body: .encoded(bytes))
        }
        let inline = try attachments.filter(\.isInline).map { attachment throws(MessageBuildError) in
            try part(for: attachment, domain: domain)
        }
        let attached = try attachments.filter { !$0.isInline }.map { attachment throws(MessageBuildError) in
            try part(for: attachment, domain: domain)
        }
        var htmlPart = html.map { textPart($0, "html") }
        var loose: [MIMEPart] = []
        if !inline.isEmpty {
            if let body = htmlPart {
                htmlPart = MIMEPart.multipart("related", [body] + inline)
            } else {
                loose = inline
            }
        }
        let textBody = text.map { textPart($0, "plain") }
        var body: MIMEPart
        switch (textBody, htmlPart) {
        case let (plain?, rich?): body = MIMEPart.multipart("alternative", [plain, rich])
        case let (plain?, nil): body = plain
        case let (nil, rich?): body = rich
        case (nil, nil):
            let rest = loose + attached
            return rest.isEmpty ? textPart("", "plain") : MIMEPart.multipart("mixed", rest)
        }
        let rest = loose + attached
        if !rest.isEmpty { body = MIMEPart.multipart("mixed", [body] + rest) }
        return body
    }

    private func part(for attachment: Attachment, domain: String) throws(MessageBuildError) -> MIMEPart {
        let type = attachment.contentType ?? ContentTypes.guess(forFilename: attachment.filename)
        try ContentTypes.check(type)
        guard !attachment.filename.isEmpty else { throw MessageBuildError("an attachment needs a file name") }
        var headers = HeaderFolder.fold(name: "Content-Type",
                                        words: ["\(type);"] + (try ParameterValue.words("name", attachment.filename, last: true)))
        headers += Array("Content-Transfer-Encoding: base64\r\n".utf8)
        let disposition = attachment.isInline ? "inline" : "attachment"
        headers += HeaderFolder.fold(name: "Content-Disposition",
                                     words: ["\(disposition);"] + (try ParameterValue.words("filename", attachment.filename, last: true)))
        if case .inline(let given) = attachment.disposition {
            let id = given ?? "\(RandomToken.hex(12))@\(domain)"
            try Self.checkID(id, "the Content-ID")
            headers += Array("Content-ID: <\(id)>\r\n".utf8)
        }
        return .leaf(headers: headers, body: .base64(attachment.source))
    }
}
