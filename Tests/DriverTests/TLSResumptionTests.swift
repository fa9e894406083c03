import SMTPCore
import SMTPConnection
import SMTPNIODriver
import SMTPSocketDriver
import SMTPTLS
import SMTPUVDriver
import Testing

/// TLS session resumption against the rig's Postfix (STARTTLS port): a batch's connections share
/// one context, the first does a full handshake and the rest resume its session; never a session
/// offered under another name; none at all when resumption is off.
@Suite("TLS session resumption (Postfix)", .serialized)
struct TLSResumptionTests {
    static let full = "TLSv1.3 TLS_AES_256_GCM_SHA384"
    static let resumed = "TLSv1.3 TLS_AES_256_GCM_SHA384 (resumed)"

    private func batch(_ driver: Driver, count: Int, resume: Bool = true) throws -> BatchSummary {
        var options = Rig.options("RIG_POSTFIX_STARTTLS_PORT", tls: .required)
        options.tls.resumeSessions = resume
        let make: (Int) -> OutgoingMessage = { index in Rig.message(to: ["resume\(index)@example.net"]).0 }
        switch driver {
        case .socket:
            return try BlockingBatchSender(options: options, connections: 1, messagesPerSession: 1)
                .run(count: count, makeMessage: make, completion: { _, _ in })
        case .uv:
            return try UVBatchSender(options: options, connections: 1, messagesPerSession: 1)
                .run(count: count, makeMessage: make, completion: { _, _ in })
        case .nio:
            return try NIOBatchSender(options: options, connections: 1, messagesPerSession: 1)
                .run(count: count, makeMessage: make, completion: { _, _ in })
        }
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func batchResumesAfterTheFirstHandshake(_ driver: Driver) throws {
        let summary = try batch(driver, count: 6)
        #expect(summary.delivered == 6, "\(summary)")
        #expect(summary.connectionsOpened == 6)
        #expect(summary.tlsFullHandshakes == 1)
        #expect(summary.tlsResumedHandshakes == 5)
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func resumptionOffMakesEveryHandshakeFull(_ driver: Driver) throws {
        let summary = try batch(driver, count: 4, resume: false)
        #expect(summary.delivered == 4, "\(summary)")
        #expect(summary.tlsFullHandshakes == 4)
        #expect(summary.tlsResumedHandshakes == 0)
    }

    /// One session per host name, through one shared context: what each connection reported.
    private func descriptions(hosts: [String], serverName: String? = nil, resume: Bool = true) throws -> ([String?], TLSHandshakeCounts) {
        var base = Rig.options("RIG_POSTFIX_STARTTLS_PORT", tls: .required, serverName: serverName)
        base.tls.resumeSessions = resume
        let context = try #require(try base.makeTLSContext())
        var seen: [String?] = []
        for host in hosts {
            var options = base
            options.host = host
            let session = try BlockingSession(options: options, tlsContext: context)
            #expect(session.failure == nil, "\(host): \(String(describing: session.failure))")
            seen.append(session.tlsDescription)
            session.close()
        }
        return (seen, context.handshakeCounts)
    }

    @Test(.enabled(if: Rig.isAvailable))
    func sessionsReportResumedInTheirTLSDescription() throws {
        let (seen, counts) = try descriptions(hosts: ["127.0.0.1", "127.0.0.1", "127.0.0.1"], serverName: "localhost")
        #expect(seen == [Self.full, Self.resumed, Self.resumed])
        #expect(counts == TLSHandshakeCounts(full: 1, resumed: 2))
    }

    /// The same Postfix (the same ticket keys, so it would take the session) reached as two
    /// names: each name gets its own full handshake first, and only its own session after.
    @Test(.enabled(if: Rig.isAvailable))
    func noSessionIsOfferedUnderAnotherName() throws {
        let (seen, counts) = try descriptions(hosts: ["localhost", "127.0.0.1", "localhost", "127.0.0.1"])
        #expect(seen == [Self.full, Self.full, Self.resumed, Self.resumed])
        #expect(counts == TLSHandshakeCounts(full: 2, resumed: 2))
    }

    @Test(.enabled(if: Rig.isAvailable))
    func noSessionIsOfferedWhenOff() throws {
        let (seen, counts) = try descriptions(hosts: ["localhost", "localhost", "localhost"], resume: false)
        #expect(seen == [Self.full, Self.full, Self.full])
        #expect(counts == TLSHandshakeCounts(full: 3, resumed: 0))
    }
}
