import SMTPCore
import Testing

/// Errors come in three kinds: the caller's (thrown before any I/O), the session's (in the
/// outcome, with the reply and a stable code) and the transport's (typed, same words everywhere).
@Suite("Error codes and words")
struct ErrorCodeTests {
    private let reply = SMTPReply(code: ReplyCode(rawValue: 554)!, lines: ["no"])

    @Test func everyKindHasItsOwnStableCode() {
        let errors: [SMTPError] = [
            .invalidAddress("x", .missingAtSign), .invalidHeloName("x"), .invalidParameter("x"), .noRecipients,
            .extensionRequired(.smtpUTF8), .messageTooLarge(size: 2, limit: 1), .invalidBody(.nulByte), .misuse("x"),
            .protocolViolation(.malformedLine), .greetingRefused(reply), .serviceNotAvailable(reply), .ehloRefused(reply),
            .heloRefused(reply), .ehloRefusedAfterTLS(reply), .resetRefused(reply), .tlsNotOffered, .startTLSRefused(reply),
            .tlsHandshakeFailed("x"), .certificateRejected("x"), .authenticationRequiresTLS, .authenticationNotOffered,
            .noCommonAuthenticationMechanism(offered: []), .authenticationFailed(reply), .authenticationAborted(.invalidChallenge),
            .timeout(.mail), .connectionClosed(.mail), .transportFailed(.reset, .mail), .transportFailed(.tls(code: 1, reason: "x"), .mail),
            .couldNotConnect(.connect(address: "127.0.0.1:25", reason: .refused)), .couldNotConnect(.resolution("x")), .cancelled,
            .messageCancelled(.cancelled),
        ]
        let codes = errors.map(\.code)
        #expect(Set(codes).count == codes.count, "\(codes)")
        #expect(SMTPError.certificateRejected("expired").code == "tls-certificate-rejected")
        #expect(SMTPError.couldNotConnect(.connect(address: "a", reason: .refused)).code == "transport-connect-refused")
        #expect(TransactionFailure.sessionEnded(.timeout(.greeting)).code == "timeout")
        #expect([TransactionFailure.cancelled(.cancelled), .cancelled(.deadlineExceeded), .cancelled(.shutdown)].map(\.code)
                == ["cancelled", "deadline-exceeded", "shutdown"])
        #expect([CancelReason.cancelled, .deadlineExceeded, .shutdown].map(\.description)
                == ["the send was cancelled", "the send's deadline passed", "the client shut down"])
        #expect(SMTPError.messageCancelled(.deadlineExceeded).code == "message-cancelled")
        #expect(SMTPError.startTLSRefused(reply).reply == reply)
        #expect(SMTPError.timeout(.greeting).reply == nil)
    }

    @Test func transportFailuresReadTheSameWhereverTheyHappen() {
        #expect("\(SMTPError.couldNotConnect(.connect(address: "127.0.0.1:25", reason: .refused)))"
                == "cannot connect to 127.0.0.1:25: connection refused")
        #expect("\(SMTPError.transportFailed(.reset, .dataBlock))" == "connection reset by server during message data")
        #expect("\(SMTPError.transportFailed(.closedByPeer, .mail))" == "connection closed by server during MAIL")
        #expect("\(SMTPError.transportFailed(.tls(code: 1, reason: "bad record mac"), .hello))"
                == "TLS error: bad record mac during EHLO/HELO")
    }
}
