import SMTPCore

/// Harness functions shared by the libFuzzer targets in `Fuzz/` and by the regression replay in
/// the normal test suite. Each takes raw fuzzer bytes and traps (via `invariant`) when its
/// invariant breaks. Pure Swift: no Foundation.
///
/// Every input is valid: leading bytes choose the configuration (limits, policies, split points,
/// chunk sizes), the rest is the payload, and reading past the end yields zeros. The layouts are
/// documented on each function; `Fuzz/README.md` states the invariants for humans.
public enum FuzzHarness {
    /// The four fuzz targets, named as `Fuzz/run.sh` and the folders under `Fuzz/` name them.
    public enum Target: String, CaseIterable, Sendable {
        case replyParser = "reply-parser"
        case capabilities = "capabilities"
        case engine = "engine"
        case bodyEncoder = "body-encoder"
        case connection = "connection"
    }

    /// Prints what the engine target's session does (for reading a finding; slow).
    public static var tracesEngine: Bool {
        get { EngineHarness.tracing }
        set { EngineHarness.tracing = newValue }
    }

    /// Runs one target's harness on one input.
    public static func run(_ target: Target, _ data: UnsafeRawBufferPointer) {
        switch target {
        case .replyParser: replyParser(data)
        case .capabilities: capabilities(data)
        case .engine: engine(data)
        case .bodyEncoder: bodyEncoder(data)
        case .connection: connection(data)
        }
    }

    /// Runs one target's harness on one input.
    public static func run(_ target: Target, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { run(target, $0) }
    }

    /// **Reply parser.** Any bytes, fed whole and again split at fuzzer-chosen points (draining
    /// replies eagerly after every piece, and lazily, holding the replies across later input),
    /// give the same sequence of replies or the same protocol error; nothing traps.
    ///
    /// Also: every reply returned is well-formed (one code on every line, "-" on all lines but
    /// the last, CRLF endings, the code's digits in range) and within the limits; the replies'
    /// raw bytes are exactly the input's prefix; a reported enhanced status code is the one a
    /// reference parse of the first line finds; `description` carries no control character; an
    /// error is sticky and justified by the bytes after the last reply; and whenever `next()`
    /// returns nil the parser holds no more than `maxReplySize` unreturned bytes.
    ///
    /// Layout: `flags`, `line limit`, `lines limit`, `size limit`, `n`, `n` piece lengths, payload.
    /// Flag bit 0 parses enhanced codes; bits 1-3 replace the default line, line-count and size
    /// limits by small ones taken from the next three bytes.
    public static func replyParser(_ data: UnsafeRawBufferPointer) {
        ReplyParserHarness.run(data)
    }

    /// **Capabilities.** An arbitrary EHLO reply (the payload's LF-separated lines, framed as a
    /// 250 reply) never traps and always yields a well-formed capability set: flags only from
    /// the known keywords and each exactly when a reference reading of the lines finds it; SIZE
    /// nil or positive, and only with the SIZE flag; AUTH names unique, upper case, 1-20 of
    /// A-Z 0-9 - _, and the AUTH flag exactly when there is one; `isExtended`. The reply parser
    /// accepts the well-formed reply whole, and the engine, given it after EHLO, reports the
    /// same set and reacts to STARTTLS as its policy says.
    ///
    /// Layout: `flags`, payload. Flag bit 0 ends an empty last line as a bare code ("250\r\n");
    /// bit 1 runs the engine cross-check with TLS required instead of opportunistic.
    public static func capabilities(_ data: UnsafeRawBufferPointer) {
        CapabilitiesHarness.run(data)
    }

    /// **Whole engine.** Arbitrary server bytes, timeouts, TLS outcomes and EOF, driven through
    /// a full session the way a correct driver does (fixed envelope; every TLS policy;
    /// pipelining and chunking on and off; SMTP and LMTP; with and without AUTH), leave the
    /// engine in a defined state and never make it send what the protocol forbids.
    ///
    /// A strict observer parses the client's bytes as a server would and pairs them with the
    /// server's replies. It traps when: anything is written before the greeting (or before the
    /// implicit TLS handshake); a command breaks the order (EHLO first; HELO only after a
    /// refused EHLO and never under required TLS; MAIL only after a 2xx to EHLO/HELO and, where
    /// TLS or AUTH is due, only after them; STARTTLS only when offered and never twice; AUTH only
    /// when offered, and never without TLS unless allowed; RCPT/DATA/BDAT only inside a
    /// transaction; no nested MAIL; no ESMTP parameter that was not offered; SIZE within the
    /// advertised limit); commands are pipelined without PIPELINING or behind a group-ending
    /// command (EHLO, STARTTLS, AUTH, DATA, QUIT); plaintext follows the 220 to STARTTLS; TLS is
    /// requested with unread bytes after that 220; any byte follows a failed handshake or QUIT;
    /// anything but one QUIT is written once `failure` is set; DATA content contains a bare CR or
    /// LF, ends early, differs from the normalized body, or goes to a transaction with no
    /// accepted recipient; BDAT payloads differ from the body.
    ///
    /// The driver traps when: one drain takes more than 100 000 actions; an action follows
    /// `.close`; a requested body chunk or a transaction offered by `.readyForTransaction` is
    /// refused as misuse; the engine waits, open, with no deadline; a complete reply stays
    /// unprocessed while the session is open; every command is answered yet the engine waits for
    /// a reply; a due `deadlineReached` or EOF leaves the session open; an early one changes
    /// anything; a transaction is finished twice, never, or without being started; a delivery is
    /// claimed without a positive reply to the end of data; or the session ends with both or
    /// neither of `sessionClosed`/`sessionFailed`, or with a deadline.
    ///
    /// Layout: two configuration bytes, a chunk plan (`n` then `n` bytes), then operations until
    /// the input ends (see `EngineHarness`).
    public static func engine(_ data: UnsafeRawBufferPointer) {
        EngineHarness.run(data)
    }

    /// **Body encoder.** Arbitrary body bytes in arbitrary chunks: the encoder's output (or its
    /// refusal) does not depend on the chunking; a refusal is the first problem a reference scan
    /// finds (NUL, 8-bit in a 7-bit body, a line over the limit); and on success, decoding the
    /// wire bytes the way a strict server does (CRLF lines only, no bare CR or LF, dot
    /// un-stuffing, "." ends the data) gives back the normalized body exactly, with the
    /// end-of-data line only at the very end. BDAT text is the normalized body; binary is the
    /// body untouched. No call appends more than its documented bound.
    ///
    /// Layout: `flags` (bits 0-1 mode, bit 2 allows 8-bit, bit 3 small line limit from the next
    /// byte), `limit`, `n`, `n` chunk lengths, body.
    public static func bodyEncoder(_ data: UnsafeRawBufferPointer) {
        BodyEncoderHarness.run(data)
    }

    /// **Engine and connection layer together.** The engine inside `ClientConnection`, over a
    /// scripted transport: server replies from a small grammar (greeting, EHLO with and without
    /// PIPELINING and CHUNKING, 250, 354, 452 and 451 4.5.3, 550, 554, 421, multi-line), replies
    /// split across reads, raw bytes, closes, resets, write failures, time passing, drains,
    /// messages queued mid-session, and content whose reader fails.
    ///
    /// Every message gets exactly one outcome, and every outcome agrees with the wire, as an
    /// independent pairing sees it (each reply answers the oldest unanswered command written
    /// before the reply began arriving; DATA content only after a 354): a recipient reported
    /// delivered had its RCPT answered 2xx and its transaction's end of data answered 2xx with
    /// the reply the outcome carries; a refused recipient carries a negative reply the server
    /// sent after that recipient's RCPT went out; the data reply was sent; the status follows
    /// from the recipients; `failure` is nil exactly when the message was delivered; the
    /// recipients are the envelope's, in order; a closed transport ends the connection.
    ///
    /// Layout: `flags` (bit 0 pipelining, bit 1 chunking, bit 2 quit when idle), then operations
    /// until the input ends (see `ConnectionHarness`).
    public static func connection(_ data: UnsafeRawBufferPointer) {
        ConnectionHarness.run(data)
    }
}
