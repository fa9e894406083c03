extension ReplyParser {
    /// Parses `bytes` as received and calls `body` with each reply they complete, in order, as a
    /// view of the bytes where they lie: a reply whole inside `bytes` is neither copied into the
    /// parser nor reference-counted. Only a reply that spans reads goes through the parser's
    /// buffer: the partial reply a read ends with is copied, and the next call completes it there.
    ///
    /// The same replies and the same error as `append(bytes)` followed by `next()` until nil, in
    /// any chunking, with the same byte counts after the call. Replies appended earlier and not
    /// yet pulled come first. Errors are sticky as with `next()`.
    ///
    /// The settings (`limits`, `parsesEnhancedStatusCodes`) are read once per call; the parser
    /// cannot be touched from `body`. When `body` throws, the parse stops: the reply it was given
    /// counts as returned, and the bytes after it are kept as if appended, for `next()` or the
    /// next call.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, _ body: (borrowing ReplyView) throws -> Void) throws {
        if let failure {
            append(bytes)
            throw failure
        }
        var offset = 0
        if replyStart < buffer.count {
            offset = try finishBuffered(bytes, body)
            if replyStart < buffer.count { return } // every byte went into the buffer
        }
        guard offset < bytes.count else { return }
        try parseDirectly(bytes, from: offset, body)
    }

    /// Returns the replies already in the buffer, then completes a partial one with the bytes
    /// it needs from `bytes`, a line at a time. Returns how many bytes of `bytes` it took: when the
    /// buffer is left holding anything, that is all of them.
    private mutating func finishBuffered(_ bytes: UnsafeRawBufferPointer,
                                         _ body: (borrowing ReplyView) throws -> Void) throws -> Int {
        var offset = 0
        while true {
            while let reply = try nextKeeping(bytes, from: offset) {
                let head = reply.packed & ~(0xFF << 56)
                do {
                    try reply.withBytes { raw in
                        try body(ReplyView(head: head, base: raw.baseAddress!, count: raw.count))
                    }
                } catch {
                    append(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
                    throw error
                }
            }
            if replyStart == buffer.count || offset == bytes.count { return offset }
            // Through the next line break and the byte after it (the LF after a CR), or everything:
            // the buffered line ends there, or is broken there, or does not end in `bytes`.
            let found = Self.firstLineBreak(in: bytes.bindMemory(to: UInt8.self), from: offset)
            let lineEnd = found < 0 ? bytes.count : min(found &+ 2, bytes.count)
            append(UnsafeRawBufferPointer(rebasing: bytes[offset..<lineEnd]))
            offset = lineEnd
        }
    }

    /// `next()`; when it throws, the bytes from `offset` on are appended first, as they would
    /// have been before `next()` by `append`.
    private mutating func nextKeeping(_ bytes: UnsafeRawBufferPointer, from offset: Int) throws -> SMTPReply? {
        do {
            return try next()
        } catch {
            append(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            throw error
        }
    }

    /// Parses `bytes[offset...]` with nothing buffered: each complete reply is lent where it lies;
    /// a partial reply at the end, or the bytes from an error on, are copied into the buffer with
    /// the parser's position in them.
    private mutating func parseDirectly(_ raw: UnsafeRawBufferPointer, from offset: Int,
                                        _ body: (borrowing ReplyView) throws -> Void) throws {
        let bytes = raw.bindMemory(to: UInt8.self)
        let base = UnsafeRawPointer(bytes.baseAddress!) // offset < count, so there is a byte
        let count = bytes.count
        let limits = self.limits
        let bound = singleLineLimit
        let enhancedBits = parsesEnhancedStatusCodes ? SMTPReply.readsEnhancedStatusCode : 0
        var start = offset
        while start < count {
            let found = Self.firstLineBreak(in: bytes, from: start)
            var end: Int
            var head: UInt64
            if let code = Self.singleLineCode(in: bytes, start: start, lineBreak: found, lengthBound: bound) {
                end = found &+ 2
                head = SMTPReply.packed(code: code, enhancedBits: enhancedBits, lineCount: 1)
            } else {
                var cursor = Cursor(replyStart: start, lineStart: start, scan: found < 0 ? count : found, lines: 0, code: 0)
                switch Self.advance(&cursor, over: bytes, lineBreak: found, limits: limits) {
                case .reply(let replyEnd):
                    end = replyEnd
                    head = SMTPReply.packed(code: cursor.code, enhancedBits: enhancedBits, lineCount: cursor.lines)
                case .needMore:
                    consumedByteCount &+= start &- offset
                    keep(raw, from: start, cursor)
                    return
                case .failed(let violation):
                    consumedByteCount &+= start &- offset
                    keep(raw, from: start, cursor)
                    failure = violation
                    throw violation
                }
            }
            do {
                try body(ReplyView(head: head, base: base + start, count: end &- start))
            } catch {
                consumedByteCount &+= end &- offset
                keep(raw, from: end, Cursor(replyStart: end, lineStart: end, scan: end, lines: 0, code: 0))
                throw error
            }
            start = end
        }
        consumedByteCount &+= count &- offset
    }

    /// Makes `raw[start...]` the buffer's content, at the position `cursor` (in `raw`'s indices)
    /// describes, as if those bytes had been appended and parsed up to there.
    private mutating func keep(_ raw: UnsafeRawBufferPointer, from start: Int, _ cursor: Cursor) {
        compact() // nothing unreturned is buffered here, so this empties the buffer
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start...]).bindMemory(to: UInt8.self))
        replyStart = 0
        lineStart = cursor.lineStart &- start
        scan = cursor.scan &- start
        lines = cursor.lines
        code = cursor.code
    }
}
