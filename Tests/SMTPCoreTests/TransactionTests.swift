import SMTPCore
import Testing

private let ehloPlain = """
    S: 220 mx ESMTP
    C: EHLO client.example
    S: 250 mx

    """

private let ehloPipelining = """
    S: 220 mx ESMTP
    C: EHLO client.example
    S: 250-mx
    S: 250 PIPELINING

    """

private func ehlo(_ keywords: String...) -> String {
    var text = "S: 220 mx ESMTP\nC: EHLO client.example\nS: 250-mx\n"
    for (index, keyword) in keywords.enumerated() {
        text += index == keywords.count - 1 ? "S: 250 \(keyword)\n" : "S: 250-\(keyword)\n"
    }
    return text
}

@Suite("MAIL, RCPT and DATA")
struct TransactionTests {
    @Test func oneMessageWithoutPipelining() throws {
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 2.1.0 Ok
            C: RCPT TO:<b@example.net>
            S: 250 2.1.5 Ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: t
            C:
            C: hello
            C: .
            S: 250 2.0.0 Ok: queued as 12345
            C: QUIT
            S: 221 2.0.0 Bye
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250",
            "finished #1 delivered 1/1", "closed",
        ])
    }

    @Test func pipelinedGroupGoesInOneFlight() throws {
        let result = try transcript(ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: RCPT TO:<c@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 550 5.1.1 no such user
            S: 354 go
            C: hi
            C: .
            C: QUIT
            S: 250 queued
            S: 221 bye
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net", "c@example.net"], body: "hi")])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rcpt #1 1 550", "accepted #1 250",
            "finished #1 partiallyDelivered 1/2 [some recipients were refused]", "closed",
        ])
    }

    @Test func allRecipientsRefusedWithoutPipeliningSkipsDataAndResets() throws {
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 550 no
            C: RSET
            S: 250 reset
            C: QUIT
            S: 221 bye
            """, configuration: .test(usePipelining: false),
            messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 550",
            "finished #1 notDelivered 0/1 [all recipients were refused]", "closed",
        ])
    }

    @Test func allRecipientsRefusedPipelinedDataRefused() throws {
        let result = try transcript(ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 550 no
            S: 554 no valid recipients
            C: RSET
            C: QUIT
            S: 250 ok
            S: 221 bye
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 550",
            "finished #1 notDelivered 0/1 [all recipients were refused]", "closed",
        ])
        #expect(!result.events.contains { $0.hasPrefix("rejected") })
    }

    @Test func dataGoAheadWithNoRecipientsSendsOnlyTheTerminator() throws {
        let result = try transcript(ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 550 no
            S: 354 go ahead anyway
            C: .
            S: 554 no valid recipients
            C: RSET
            C: QUIT
            S: 250 ok
            S: 221 bye
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "secret body\r\n")])
        #expect(!result.clientText.contains("secret"))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 550",
            "finished #1 notDelivered 0/1 [all recipients were refused]", "closed",
        ])
    }

    @Test func senderRefusedWithoutPipelining() throws {
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 553 5.7.1 sender rejected
            C: QUIT
            S: 221 bye
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready",
            "finished #1 notDelivered 0/1 [sender refused: 553 5.7.1 sender rejected]", "closed",
        ])
    }

    @Test func senderRefusedPipelinedConsumesTheRestAndResetsNothing() throws {
        let result = try transcript(ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 553 sender rejected
            S: 503 need MAIL
            S: 503 need MAIL
            C: QUIT
            S: 221 bye
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready",
            "finished #1 notDelivered 0/1 [sender refused: 553 sender rejected]", "closed",
        ])
        #expect(!result.events.contains { $0.hasPrefix("rcpt") }, "RCPT replies after a refused MAIL are consequences")
    }

    @Test func dataRefusedResets() throws {
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 451 try later
            C: RSET
            S: 250 ok
            C: QUIT
            S: 221 bye
            """, configuration: .test(usePipelining: false),
            messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rejected #1 451",
            "finished #1 notDelivered 0/1 [message data refused: 451 try later]", "closed",
        ])
    }

    @Test func messageRefusedAtTheDot() throws {
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: x
            C: .
            S: 554 5.7.1 spam
            C: QUIT
            S: 221 bye
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x\n")])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rejected #1 554",
            "finished #1 notDelivered 0/1 [message refused: 554 5.7.1 spam]", "closed",
        ])
    }

    @Test func severalTransactionsResetAfterAFailedOne() throws {
        let messages = [
            TestMessage(from: "a@example.org", to: ["x@example.net"], body: "one\r\n"),
            TestMessage(from: "a@example.org", to: ["y@example.net"], body: "two\r\n"),
        ]
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<x@example.net>
            S: 250 ok
            C: DATA
            S: 554 no data for you
            C: RSET
            S: 250 ok
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<y@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: two
            C: .
            S: 250 queued
            C: QUIT
            S: 221 bye
            """, messages: messages)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rejected #1 554",
            "finished #1 notDelivered 0/1 [message data refused: 554 no data for you]", "rcpt #2 0 250", "accepted #2 250",
            "finished #2 delivered 1/1", "closed",
        ])
    }

    @Test func nextTransactionIsPipelinedBehindTheDot() throws {
        let messages = [
            TestMessage(from: "a@example.org", to: ["x@example.net"], body: "one\r\n"),
            TestMessage(from: "a@example.org", to: ["y@example.net"], body: "two\r\n"),
        ]
        let result = try transcript(ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<x@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: one
            C: .
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<y@example.net>
            C: DATA
            S: 550 rejected at the dot
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: two
            C: .
            C: QUIT
            S: 250 queued
            S: 221 bye
            """, messages: messages)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rejected #1 550",
            "finished #1 notDelivered 0/1 [message refused: 550 rejected at the dot]", "rcpt #2 0 250", "accepted #2 250",
            "finished #2 delivered 1/1", "closed",
        ])
        let finished = result.events.filter { $0.hasPrefix("finished") }
        #expect(finished.count == 2 && finished[0].hasPrefix("finished #1"), "transactions finish in order")
    }

    @Test func mailParametersOnlyWhenNeededAndOffered() throws {
        let envelope = Envelope(sender: "ä@example.org", recipients: [
            Recipient("b@example.net", notify: .on(success: true, failure: true, delay: false), originalRecipient: "b+x=y@example.net"),
            Recipient("c@example.net", notify: .never),
        ], bodyType: .eightBitMIME, size: 1234, dsnReturn: .headers, dsnEnvelopeID: "QQ 314")
        try transcript(ehlo("PIPELINING", "SIZE 100000", "8BITMIME", "SMTPUTF8", "DSN") + """
            C: MAIL FROM:<ä@example.org> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+20314
            C: RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx+3Dy@example.net
            C: RCPT TO:<c@example.net> NOTIFY=NEVER
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: é
            C: .
            C: QUIT
            S: 250 ok
            S: 221 bye
            """, messages: [TestMessage(envelope, body: "é\r\n")])
    }

    @Test func sizeIsOmittedWhenNotOffered() throws {
        let envelope = Envelope(sender: "a@example.org", recipients: ["b@example.net"], size: 1234)
        try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: x
            C: .
            S: 250 ok
            C: QUIT
            S: 221 bye
            """, messages: [TestMessage(envelope, body: "x")])
    }

    @Test(arguments: [
        (Envelope(sender: "ä@example.org", recipients: ["b@example.net"]), SMTPError.extensionRequired(.smtpUTF8)),
        (Envelope(sender: "a@example.org", recipients: ["b@bücher.example"]), .extensionRequired(.smtpUTF8)),
        (Envelope(sender: "a@example.org", recipients: ["b@example.net"], requiresSMTPUTF8: true), .extensionRequired(.smtpUTF8)),
        (Envelope(sender: "a@example.org", recipients: ["b@example.net"], bodyType: .eightBitMIME), .extensionRequired(.eightBitMIME)),
        (Envelope(sender: "a@example.org", recipients: ["b@example.net"], bodyType: .binaryMIME), .extensionRequired(.chunking)),
        (Envelope(sender: "a@example.org", recipients: [Recipient("b@example.net", notify: .never)]), .extensionRequired(.dsn)),
        (Envelope(sender: "a@example.org", recipients: ["b@example.net"], dsnReturn: .full), .extensionRequired(.dsn)),
        (Envelope(sender: "a@example.org", recipients: ["b@example.net"], size: 5000), .messageTooLarge(size: 5000, limit: 4096)),
        (Envelope(sender: "a@example.org", recipients: []), .noRecipients),
        (Envelope(sender: "a\r\nRCPT TO:<evil@example.com>@example.org", recipients: ["b@example.net"]),
         .invalidAddress("a\r\nRCPT TO:<evil@example.com>@example.org", .forbiddenCharacter(13))),
        (Envelope(sender: "a@example.org", recipients: ["b@example.net>\nDATA"]), .invalidAddress("b@example.net>\nDATA", .forbiddenCharacter(UInt8(ascii: ">")))),
        (Envelope(sender: "a@example.org", recipients: ["b\u{0}@example.net"]), .invalidAddress("b\u{0}@example.net", .forbiddenCharacter(0))),
        (Envelope(sender: "a@example.org", recipients: ["<b@example.net>"]), .invalidAddress("<b@example.net>", .forbiddenCharacter(UInt8(ascii: "<")))),
        (Envelope(sender: "a@example.org", recipients: ["b@example.net "]), .invalidAddress("b@example.net ", .forbiddenCharacter(32))),
        (Envelope(sender: "a@example.org", recipients: ["no-at-sign"]), .invalidAddress("no-at-sign", .missingAtSign)),
        (Envelope(sender: "a@example.org", recipients: ["b@@example.net"]), .invalidAddress("b@@example.net", .invalidLocalPart)),
        (Envelope(sender: "a@example.org", recipients: ["b@example..net"]), .invalidAddress("b@example..net", .invalidDomain)),
    ])
    func refusedBeforeMAIL(_ envelope: Envelope, _ error: SMTPError) throws {
        let result = try transcript(ehlo("PIPELINING", "SIZE 4096") + """
            C: QUIT
            S: 221 bye
            """, messages: [TestMessage(envelope, body: "x")])
        #expect(result.startErrors == ["\(error)"])
        #expect(result.failure == nil, "a refused envelope leaves the session usable")
        #expect(!result.clientText.contains("MAIL"))
    }

    @Test func moreRecipientsThanTheServerTakesGoInASecondTransaction() throws {
        let message = TestMessage(from: "a@example.org", to: ["r1@example.net", "r2@example.net", "r3@example.net"], body: "body\r\n")
        let result = try transcript(ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r1@example.net>
            C: RCPT TO:<r2@example.net>
            C: RCPT TO:<r3@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 452 4.5.3 Too many recipients
            S: 452 4.5.3 Too many recipients
            S: 354 go
            C: body
            C: .
            S: 250 queued 1
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r2@example.net>
            C: RCPT TO:<r3@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 550 no such user
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 queued 2
            S: 221 bye
            """, messages: [message])
        #expect(result.events.filter { $0.hasPrefix("rcpt") } == ["rcpt #1 0 250", "rcpt #1 1 250", "rcpt #1 2 550"])
        #expect(result.events.filter { $0.hasPrefix("accepted") }.count == 2)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "rcpt #1 1 250",
            "rcpt #1 2 550", "accepted #1 250", "finished #1 partiallyDelivered 2/3 [some recipients were refused]",
            "closed",
        ])
    }

    @Test func tooManyRecipientsWithoutPipeliningStopsSendingRCPT() throws {
        let message = TestMessage(from: "a@example.org", to: ["r1@example.net", "r2@example.net", "r3@example.net"], body: "b")
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<r1@example.net>
            S: 250 ok
            C: RCPT TO:<r2@example.net>
            S: 452 too many
            C: DATA
            S: 354 go
            C: b
            C: .
            S: 250 ok
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<r2@example.net>
            S: 250 ok
            C: RCPT TO:<r3@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: b
            C: .
            S: 250 ok
            C: QUIT
            S: 221 bye
            """, messages: [message])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "rcpt #1 1 250",
            "rcpt #1 2 250", "accepted #1 250", "finished #1 delivered 3/3", "closed",
        ])
    }

    @Test func tooManyRecipientsWithNoProgressIsFinal() throws {
        let message = TestMessage(from: "a@example.org", to: ["r1@example.net"], body: "b")
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<r1@example.net>
            S: 452 4.3.1 insufficient storage
            C: RSET
            S: 250 ok
            C: QUIT
            S: 221 bye
            """, messages: [message])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 452",
            "finished #1 notDelivered 0/1 [all recipients were refused]", "closed",
        ])
    }

    @Test func serviceClosingMidTransaction() throws {
        let result = try transcript(ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 421 4.3.2 shutting down
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        #expect(result.closed)
        guard case .serviceNotAvailable? = result.failure else {
            Issue.record("expected serviceNotAvailable, got \(String(describing: result.failure))"); return
        }
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready",
            "finished #1 notDelivered 0/1 [service not available: 421 4.3.2 shutting down]",
            "failed: service not available: 421 4.3.2 shutting down",
        ])
    }

    @Test func serviceClosingAsTheReplyToTheDotMeansNotDelivered() throws {
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: x
            C: .
            S: 421 4.4.2 timeout
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250",
            "finished #1 notDelivered 0/1 [message refused: 421 4.4.2 timeout]",
            "failed: service not available: 421 4.4.2 timeout",
        ])
    }

    @Test(arguments: ["354 go", "334 what", "221 bye", "220 hi"])
    func nonsenseReplyToMAILIsAViolation(_ reply: String) throws {
        let result = try transcript(ehloPlain + """
            C: MAIL FROM:<a@example.org>
            S: \(reply)
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        guard case .protocolViolation(.unexpectedReply(_, .mail))? = result.failure else {
            Issue.record("expected unexpectedReply to MAIL, got \(String(describing: result.failure))"); return
        }
        #expect(result.closed)
        #expect(!result.clientText.contains("RCPT"))
    }

    @Test func extraReplyInAPipelinedBatchIsUnsolicited() throws {
        let result = try transcript(ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: x
            C: .
            S: 250 queued
            S: 250 one reply too many
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")], quitWhenDone: false)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "failed: protocol violation: unsolicited reply 250 when no command was pending",
        ])
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 250)!)))
        #expect(result.closed)
    }

    @Test func positiveReplyInTheMiddleOfDataIsUnsolicited() throws {
        var harness = try Harness(configuration: .test(), messages: [], quitWhenDone: false, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.feedLines("220 mx\r\n250-mx\r\n250 PIPELINING\r\n")
        let id = try harness.machine.startTransaction(Envelope(sender: "a@example.org", recipients: ["b@example.net"]), at: harness.now)
        var sawBodyRequest = false
        var sink: [UInt8] = []
        // The driver writes MAIL, RCPT and DATA before any reply to them can arrive.
        while case .write = harness.machine.nextAction() { harness.machine.takeOutput(into: &sink) }
        harness.machine.received(Array("250 ok\r\n250 ok\r\n354 go\r\n".utf8), at: harness.now)
        while true {
            let action = harness.machine.nextAction()
            if case .wait = action { break }
            if case .write = action { harness.machine.takeOutput(into: &sink) }
            if case .sendBody = action { sawBodyRequest = true }
        }
        #expect(sawBodyRequest)
        try harness.machine.sendBody(Array("half".utf8), for: id, at: harness.now)
        harness.machine.received(Array("250 done already?\r\n".utf8), at: harness.now)
        var events: [String] = []
        while true {
            let action = harness.machine.nextAction()
            if case .wait = action { break }
            if case .write = action { harness.machine.takeOutput(into: &sink) }
            if case .event(let event) = action { events.append(describe(event)) }
        }
        #expect(harness.machine.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 250)!)))
        #expect(events == ["finished #1 notDelivered 0/1 [protocol violation: unsolicited reply 250 when no command was pending]",
                           "failed: protocol violation: unsolicited reply 250 when no command was pending"])
        #expect(!String(decoding: sink, as: UTF8.self).contains("\r\n.\r\n"))
    }

    @Test func replyBeforeAnyCommandIsUnsolicited() throws {
        let result = try transcript(ehloPlain + """
            S: 250 nobody asked
            """, quitWhenDone: false)
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 250)!)))
        #expect(result.closed)
    }

    @Test func earlyNegativeReplyDuringData() throws {
        var harness = try Harness(configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])],
                                  quitWhenDone: true, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.feedLines("220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        // The harness has sent the whole body; make a fresh engine that stops mid-body instead.
        var machine = try SMTPMachine(configuration: .test())
        machine.connectionEstablished(at: .zero)
        machine.received(Array("220 mx\r\n".utf8), at: .zero)
        var id: TransactionID?
        var events: [String] = []
        var sink: [UInt8] = []
        func drain(_ machine: inout SMTPMachine) -> [SMTPAction] {
            var seen: [SMTPAction] = []
            while true {
                let action = machine.nextAction()
                if case .wait = action { return seen }
                if case .write = action { machine.takeOutput(into: &sink) }
                if case .event(let event) = action { events.append(describe(event)) }
                seen.append(action)
            }
        }
        _ = drain(&machine)
        machine.received(Array("250 mx\r\n".utf8), at: .zero)
        for action in drain(&machine) {
            if case .readyForTransaction = action {
                id = try machine.startTransaction(Envelope(sender: "a@example.org", recipients: ["b@example.net"]), at: .zero)
            }
        }
        _ = drain(&machine)
        machine.received(Array("250 ok\r\n".utf8), at: .zero)
        _ = drain(&machine)
        machine.received(Array("250 ok\r\n".utf8), at: .zero)
        _ = drain(&machine)
        machine.received(Array("354 go\r\n".utf8), at: .zero)
        let actions = drain(&machine)
        #expect(actions.contains { if case .sendBody = $0 { true } else { false } })
        try machine.sendBody(Array("part one\r\n".utf8), for: id!, at: .zero)
        _ = drain(&machine)
        machine.received(Array("552 5.3.4 message too big\r\n".utf8), at: .zero)
        let after = drain(&machine)
        #expect(events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rejected #1 552",
            "finished #1 notDelivered 0/1 [message data refused: 552 5.3.4 message too big]",
            "failed: protocol violation: unsolicited reply 552 when no command was pending",
        ])
        #expect(after.contains { if case .close = $0 { true } else { false } })
        #expect(machine.isClosed)
        // Nothing after the early reply: no dot, no more content.
        #expect(!String(decoding: sink, as: UTF8.self).contains("\r\n.\r\n"))
    }
}

@Suite("BDAT (CHUNKING)")
struct ChunkingTests {
    @Test func chunksArePipelinedWithTheEnvelope() throws {
        let message = TestMessage(Envelope(sender: "a@example.org", recipients: ["b@example.net"]),
                                  chunks: [Array("line one\r\n.dot\r\n".utf8), Array("two".utf8)])
        // The whole-input strategy keeps the caller's chunks; the others re-cut them, so only
        // the whole run is checked for exact framing here.
        let result = try run(Script(ehlo("PIPELINING", "CHUNKING") + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: BDAT 16
            X: line one\\r\\n.dot\\r\\n
            C: BDAT 5 LAST
            X: two\\r\\n
            # One recipient: QUIT goes in the same write, before any reply (no further round can follow).
            C: QUIT
            S: 250 ok
            S: 250 ok
            S: 250 16 octets
            S: 250 queued
            S: 221 bye
            """), configuration: .test(), messages: [message], strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "closed",
        ])
    }

    @Test func separateEndOfContentIsAnEmptyLastChunk() throws {
        let message = TestMessage(Envelope(sender: "a@example.org", recipients: ["b@example.net"]),
                                  chunks: [Array("ab".utf8)])
        var harness = try Harness(configuration: .test(), messages: [message], quitWhenDone: true, strategy: .whole)
        harness.marksLastChunk = false
        harness.machine.connectionEstablished(at: harness.now)
        harness.feedLines("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
        #expect(harness.result.clientText.hasSuffix("BDAT 2\r\nabBDAT 2 LAST\r\n\r\nQUIT\r\n"))
        let written = harness.result.clientText
        harness.feed(Array("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n".utf8))
        #expect(harness.events == ["greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250",
                                   "finished #1 delivered 1/1"])
        #expect(harness.result.clientText == written, "QUIT went with the last chunk; nothing more is written")
    }

    @Test func withoutPipeliningEachChunkWaitsForItsReply() throws {
        let message = TestMessage(Envelope(sender: "a@example.org", recipients: ["b@example.net"]),
                                  chunks: [Array("ab\r\n".utf8), Array("cd\r\n".utf8)])
        let result = try run(Script(ehlo("CHUNKING") + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: BDAT 4
            X: ab\\r\\n
            S: 250 ok
            C: BDAT 4 LAST
            X: cd\\r\\n
            S: 250 queued
            C: QUIT
            S: 221 bye
            """), configuration: .test(), messages: [message], strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "closed",
        ])
    }

    @Test func refusedChunkStopsTheDataAndResets() throws {
        let message = TestMessage(Envelope(sender: "a@example.org", recipients: ["b@example.net"]),
                                  chunks: [Array("ab\r\n".utf8), Array("cd\r\n".utf8), Array("ef\r\n".utf8)])
        let result = try run(Script(ehlo("CHUNKING") + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: BDAT 4
            X: ab\\r\\n
            S: 552 too big
            C: RSET
            S: 250 ok
            C: QUIT
            S: 221 bye
            """), configuration: .test(), messages: [message], strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rejected #1 552",
            "finished #1 notDelivered 0/1 [message data refused: 552 too big]", "closed",
        ])
    }

    @Test func binaryMIMEGoesUntouched() throws {
        let body: [UInt8] = [0, 1, 13, 46, 10, 46, 13, 10, 255]
        let message = TestMessage(Envelope(sender: "a@example.org", recipients: ["b@example.net"], bodyType: .binaryMIME),
                                  chunks: [body])
        let result = try run(Script(ehlo("PIPELINING", "CHUNKING", "BINARYMIME") + """
            C: MAIL FROM:<a@example.org> BODY=BINARYMIME
            C: RCPT TO:<b@example.net>
            C: BDAT 9 LAST
            X: \\0\\x01\\r.\\n.\\r\\n\\xff
            C: QUIT
            S: 250 ok
            S: 250 ok
            S: 250 ok
            S: 221 bye
            """), configuration: .test(), messages: [message], strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "closed",
        ])
    }

    @Test func chunkingAllSplitsDeliverTheSameContent() throws {
        // Under every split the engine must produce BDAT framing whose payload, reassembled,
        // is the normalized content.
        let content = "a\n.b\r\rc\r\n\r\n.\r\n..\nend"
        for strategy in SplitStrategy.allCases {
            var harness = try Harness(configuration: .test(), messages: [TestMessage(Envelope(sender: "a@example.org", recipients: ["b@example.net"]), body: content)],
                                      quitWhenDone: true, strategy: strategy)
            harness.machine.connectionEstablished(at: harness.now)
            harness.feedLines("220 mx\r\n250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
            let payload = FakeServer.bdatPayload(harness.client)
            #expect(String(decoding: payload, as: UTF8.self) == "a\r\n.b\r\n\r\nc\r\n\r\n.\r\n..\r\nend\r\n", "\(strategy)")
        }
    }
}

@Suite("LMTP")
struct LMTPTests {
    @Test func oneReplyPerAcceptedRecipientAfterTheDot() throws {
        let message = TestMessage(from: "a@example.org", to: ["r1@example.net", "r2@example.net", "r3@example.net"], body: "x\r\n")
        let result = try transcript("""
            S: 220 lmtp ready
            C: LHLO client.example
            S: 250-lmtp
            S: 250 PIPELINING
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r1@example.net>
            C: RCPT TO:<r2@example.net>
            C: RCPT TO:<r3@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 550 unknown
            S: 250 ok
            S: 354 go
            C: x
            C: .
            C: QUIT
            S: 250 delivered r1
            S: 452 mailbox full r3
            S: 221 bye
            """, configuration: .test(dialect: .lmtp), messages: [message])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rcpt #1 1 550", "rcpt #1 2 250",
            "delivery #1 0 250", "delivery #1 2 452", "finished #1 partiallyDelivered 1/3 [some recipients were refused]",
            "closed",
        ])
    }

    @Test func lmtpWithChunkingLearnsTheReplyCountLate() throws {
        let message = TestMessage(Envelope(sender: "a@example.org", recipients: ["r1@example.net", "r2@example.net"]), chunks: [Array("x\r\n".utf8)])
        let result = try run(Script("""
            S: 220 lmtp ready
            C: LHLO client.example
            S: 250-lmtp
            S: 250-PIPELINING
            S: 250 CHUNKING
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r1@example.net>
            C: RCPT TO:<r2@example.net>
            C: BDAT 3 LAST
            X: x\\r\\n
            S: 250 ok
            S: 250 ok
            S: 250 ok
            S: 250 delivered r1
            S: 250 delivered r2
            C: QUIT
            S: 221 bye
            """), configuration: .test(dialect: .lmtp), messages: [message], strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rcpt #1 1 250", "delivery #1 0 250",
            "delivery #1 1 250", "finished #1 delivered 2/2", "closed",
        ])
    }
}

@Suite("Engine-level reply framing and limits")
struct EngineFramingTests {
    @Test(arguments: [
        ("R: 250-mx\\r\\n251 changed\\r\\n", SMTPProtocolViolation.inconsistentCode(first: 250, later: 251)),
        ("R: 650 mx\\r\\n", .invalidCode(650)),
        ("R: 150 mx\\r\\n", .invalidCode(150)),
        ("R: 250 mx\\n", .bareLineFeed),
        ("R: 250 m\\rx\\r\\n", .bareCarriageReturn),
        ("R: 25O mx\\r\\n", .malformedLine),
    ])
    func malformedEHLOReplyEndsTheSessionSilently(_ step: String, _ violation: SMTPProtocolViolation) throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            \(step)
            """)
        #expect(result.failure == .protocolViolation(violation))
        #expect(result.closed)
        #expect(result.clientText == "EHLO client.example\r\n", "nothing after a violation, not even QUIT")
    }

    @Test func limitsAreConfigurableAndEnforced() throws {
        var limits = Limits()
        limits.reply = ReplyParser.Limits(maxLineLength: 100, maxLinesPerReply: 5, maxReplySize: 400)
        let long = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250 \(String(repeating: "x", count: 200))
            """, configuration: .test(limits: limits))
        #expect(long.failure == .protocolViolation(.lineTooLong(limit: 100)))
        var endless = "S: 220 mx ESMTP\nC: EHLO client.example\n"
        for _ in 0..<10 { endless += "S: 250-more\n" }
        let many = try transcript(endless, configuration: .test(limits: limits))
        #expect(many.failure == .protocolViolation(.tooManyLines(limit: 5)))
    }

    @Test func cutOffByEOF() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            R: 250-mx\\r\\n250-PIPELI
            EOF
            """)
        #expect(result.failure == .connectionClosed(.hello))
        #expect(result.closed)
    }

    @Test func enhancedCodesOnlyOnceOffered() throws {
        // 552 with 5.5.3 means "too many recipients" only when the code can be trusted.
        let message = TestMessage(from: "a@example.org", to: ["r1@example.net", "r2@example.net"], body: "b")
        let offered = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 ENHANCEDSTATUSCODES
            C: MAIL FROM:<a@example.org>
            S: 250 2.1.0 ok
            C: RCPT TO:<r1@example.net>
            S: 250 2.1.5 ok
            C: RCPT TO:<r2@example.net>
            S: 552 5.5.3 too many recipients
            C: DATA
            S: 354 go
            C: b
            C: .
            S: 250 2.0.0 ok
            C: MAIL FROM:<a@example.org>
            S: 250 2.1.0 ok
            C: RCPT TO:<r2@example.net>
            S: 250 2.1.5 ok
            C: DATA
            S: 354 go
            C: b
            C: .
            S: 250 2.0.0 ok
            C: QUIT
            S: 221 2.0.0 bye
            """, messages: [message])
        #expect(offered.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "rcpt #1 1 250",
            "accepted #1 250", "finished #1 delivered 2/2", "closed",
        ])
        let notOffered = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            S: 250 2.1.0 ok
            C: RCPT TO:<r1@example.net>
            S: 250 2.1.5 ok
            C: RCPT TO:<r2@example.net>
            S: 552 5.5.3 too many recipients
            C: DATA
            S: 354 go
            C: b
            C: .
            S: 250 2.0.0 ok
            C: QUIT
            S: 221 2.0.0 bye
            """, messages: [message])
        #expect(notOffered.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rcpt #1 1 552", "accepted #1 250",
            "finished #1 partiallyDelivered 1/2 [some recipients were refused]", "closed",
        ])
    }

    @Test func oauthBearerThroughTheEngine() throws {
        let mechanism = OAuthBearerMechanism(username: "u@example.com", token: "tok", host: "mx.example", port: 465)
        let result = try transcript("""
            TLS
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 AUTH OAUTHBEARER XOAUTH2
            C: AUTH OAUTHBEARER bixhPXVAZXhhbXBsZS5jb20sAWhvc3Q9bXguZXhhbXBsZQFwb3J0PTQ2NQFhdXRoPUJlYXJlciB0b2sBAQ==
            S: 334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=
            C: AQ==
            S: 535 5.7.8 invalid token
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .implicit, authentication: AuthenticationOptions(mechanisms: [mechanism])))
        guard case .authenticationFailed(let reply)? = result.failure else {
            Issue.record("expected authenticationFailed, got \(String(describing: result.failure))"); return
        }
        #expect(reply.code.rawValue == 535)
    }

    @Test(arguments: [
        Envelope(sender: "a@example.org", recipients: [Recipient("b@example.net", originalRecipient: "x@y\r\nQUIT")]),
        Envelope(sender: "a@example.org", recipients: ["b@example.net"], dsnEnvelopeID: "id\u{0}"),
        Envelope(sender: "a@example.org", recipients: ["b@example.net"], dsnEnvelopeID: "id\nRSET"),
    ])
    func controlCharactersInParametersAreRefused(_ envelope: Envelope) throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 DSN
            C: QUIT
            S: 221 bye
            """, messages: [TestMessage(envelope, body: "x")])
        #expect(result.startErrors.count == 1)
        #expect(result.startErrors.first?.hasPrefix("invalid parameter") == true)
    }
}

@Suite("Replies sent ahead of their command")
struct AnsweredAheadTests {
    @Test func aheadOfEHLOIsUnsolicitedWhenItArrivesTogether() throws {
        let result = try run(Script("""
            R: 220 mx ESMTP\\r\\n250 mx\\r\\n
            C: EHLO client.example
            """), configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])], strategy: .whole)
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 250)!)))
        #expect(result.closed)
        #expect(!result.clientText.contains("MAIL"))
    }

    @Test func authSuccessAheadOfThePasswordIsRefused() throws {
        var configuration = SMTPConfiguration.test(tls: .off, authentication: .password(username: "u", password: "p", forcing: "LOGIN", allowWithoutTLS: true))
        configuration.usePipelining = false
        let result = try run(Script("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 AUTH LOGIN
            C: AUTH LOGIN
            R: 334 VXNlcm5hbWU6\\r\\n235 2.7.0 welcome\\r\\n
            C: dQ==
            """), configuration: configuration, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])], strategy: .whole)
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 235)!)))
        #expect(!result.clientText.contains("MAIL"))
        #expect(!result.clientText.contains("cA=="), "the password never went out")
    }

    @Test func finalReplyAheadOfTheDotIsNotADelivery() throws {
        let result = try run(Script("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            R: 354 go\\r\\n250 2.0.0 queued ahead\\r\\n
            C: x
            C: .
            """), configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")], strategy: .whole)
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 250)!)))
        #expect(!result.events.contains { $0.hasPrefix("accepted") })
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250",
            "finished #1 unknown 0/1 [protocol violation: unsolicited reply 250 when no command was pending]",
            "failed: protocol violation: unsolicited reply 250 when no command was pending",
        ])
    }

    @Test func pipelinedRepliesArrivingTogetherAreFine() throws {
        // MAIL, RCPT and DATA were all written before any reply: one write of three replies is normal.
        let result = try run(Script("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 PIPELINING
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            R: 250 ok\\r\\n250 ok\\r\\n354 go\\r\\n
            C: x
            C: .
            C: QUIT
            S: 250 queued
            S: 221 bye
            """), configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")], strategy: .whole)
        #expect(result.failure == nil)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "closed",
        ])
    }
}

@Suite("Unsolicited input between transactions")
struct UnsolicitedBetweenTransactionsTests {
    @Test func extraReplyAfterEHLOIsReadBeforeAnyTransactionStarts() throws {
        let result = try run(Script("""
            S: 220 mx ESMTP
            C: EHLO client.example
            R: 250 mx\\r\\n250 2.1.0 extra\\r\\n
            """), configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])], strategy: .whole)
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 250)!)))
        #expect(!result.clientText.contains("MAIL"), "no transaction starts while unsolicited bytes wait")
    }

    @Test func partOfAReplyBetweenTransactionsTimesOut() throws {
        let result = try run(Script("""
            S: 220 mx ESMTP
            C: EHLO client.example
            R: 250 mx\\r\\n25
            WAIT 299
            WAIT 2
            """), configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])], strategy: .whole)
        #expect(result.failure == .timeout(.unsolicitedReply))
        #expect(result.closed)
        #expect(!result.clientText.contains("MAIL"))
    }
}
