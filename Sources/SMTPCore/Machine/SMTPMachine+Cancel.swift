/// Withdrawing one message, and resetting an idle session before the next one: the two calls a
/// connection pool needs. The engine decides what each means on the wire; the caller only asks.
extension SMTPMachine {
    /// Withdraws one message (its caller's task was cancelled, its deadline passed, or its
    /// client shut down). Its `.transactionFinished` event comes at once, with failure
    /// `.cancelled(reason)`, and no other event of that message follows. What happens on the
    /// wire depends on how far it got:
    ///
    /// - None of its bytes has reached the driver (`takeOutput`): they are taken back. Every
    ///   recipient `.notAttempted`, safe to send again; the session goes on.
    /// - MAIL and RCPT went out, but not DATA, or BDAT chunks without LAST: nothing more of it
    ///   is written. Its outstanding replies are read without a word, then RSET when the server
    ///   may hold the transaction, and the session goes on. `.notDelivered`, safe to send again
    ///   unless a reply already refused a recipient.
    /// - DATA went out (pipelined or not) and its reply has not come: a 354 would have to be
    ///   followed by content, and the server may hold it for as long as it likes, so the
    ///   connection is dropped at once, as below (behind an earlier message still waiting for
    ///   its final reply: as soon as that reply is in). Nothing of the content went out.
    /// - After DATA's 354, with the final dot not yet handed over (or BDAT LAST not yet handed
    ///   over): DATA cannot be aborted, so the connection is dropped without the end of data and
    ///   the server discards the partial message. `.notDelivered`, safe to send again; the
    ///   session fails with `SMTPError.messageCancelled`, and any other message in flight gets
    ///   the outcome a lost connection gives it.
    /// - The final dot or BDAT LAST went to the driver: only the server's reply can decide the
    ///   message now, and the caller stopped waiting for it. The outcome is `.unknown` for each
    ///   recipient the server may have taken, not safe to send again, and the connection is
    ///   dropped as above (nobody would read that reply, and a pooled connection must not stay
    ///   busy with it).
    ///
    /// A message already finished, or an unknown `id`, is a no-op; so is any call once the
    /// session has failed. Transcript lines already reported for bytes taken back stay.
    public mutating func cancelTransaction(_ id: TransactionID, because reason: CancelReason, at now: SMTPInstant) {
        self.now = now
        guard failure == nil, !isClosed, let index = transactions.firstIndex(where: { $0.id == id }),
              transactions[index].cancelled == nil else { return }
        if takeBackUnsent(index, reason) {
            pump()
            return
        }
        let step = transactions[index].step
        let endWritten = step == .ended && transactions[index].roundFailure == nil && !transactions[index].sentEmptyData
        let endHandedOver = endWritten && transactions[index].endHandover != outputHandovers
        let streaming = step == .body && !transactions[index].usesChunking
        if endWritten || streaming {
            // Dropped, so that no more of it (and not its end, when still held here) goes out.
            let outcome = transactions[index].cancelledOutcome(reason, endPending: endHandedOver)
            transactions.remove(at: index)
            emit(.transactionFinished(id, outcome))
            fail(.messageCancelled(reason), quit: false)
            return
        }
        // Nothing more is written for it; its replies are still read, in order, and a reset
        // follows if the server may hold its state (`finishResolvedTransaction`). With its DATA
        // out, `pump` drops the connection as soon as nothing is ahead of it.
        transactions[index].cancelled = reason
        transactions[index].failRound(.cancelled(reason))
        if step == .body { stopBodyRequests(for: id) }
        emit(.transactionFinished(id, transactions[index].cancelledOutcome(reason, endPending: false)))
        pump()
    }

    /// Takes back a message none of whose bytes reached the driver (its first round's MAIL,
    /// and all after it, are still in the output). Returns false when some went.
    private mutating func takeBackUnsent(_ index: Int, _ reason: CancelReason) -> Bool {
        guard transactions[index].retryRound == nil, index == transactions.count - 1 else { return false }
        let id = transactions[index].id
        if let written = transactions[index].firstWrite {
            guard written.handover == outputHandovers, written.offset <= output.count else { return false }
            // Everything after its MAIL in this output is its own, but for a QUIT written
            // behind its last command: no other command can follow a transaction still this new.
            output.removeSubrange(written.offset...)
            var quitTaken = false
            expected.filter { expectation in
                if expectation == .quit { quitTaken = true }
                return expectation.transaction != id && expectation != .quit
            }
            if quitTaken { unwindUnsentQuit() }
            if expected.isEmpty { commandAwaitingHandover = false }
        }
        if transactions[index].step == .body { stopBodyRequests(for: id) }
        let envelope = transactions[index].envelope
        transactions.remove(at: index)
        emit(.transactionFinished(id, .notAttempted(envelope, because: .cancelled(reason))))
        readyAnnounced = false
        return true
    }

    /// No more content is asked for this message, and a request not yet acted on is withdrawn.
    private mutating func stopBodyRequests(for id: TransactionID) {
        bodyRequested = false
        actions.filter { action in
            if case .sendBody(let requested, _) = action { return requested != id }
            return true
        }
    }

    /// Resets an idle session before its next message, as a client does when it takes a
    /// connection that waited in a pool: RSET. Only when the session is ready with nothing in
    /// flight (otherwise a no-op, so no RSET ever goes between pipelined messages).
    ///
    /// With PIPELINING the next message may follow at once, in the same group (RFC 2920 §3.1
    /// lets RSET stand anywhere in a group): `.readyForTransaction` comes without waiting, and
    /// the round trip is saved. Without, it comes after the 250. A 421 (or the connection
    /// closing) ends the session as it does for any command, and a message pipelined behind
    /// then ends `.notAttempted`, safe to send again; a refusal ends it with
    /// `SMTPError.resetRefused`.
    public mutating func resetBeforeNextTransaction(at now: SMTPInstant) {
        self.now = now
        guard !quitRequested, canSendNewGroup, transactions.isEmpty, expected.isEmpty else { return }
        writeCommand(.reset) { $0.appendASCII("RSET") }
        readyAnnounced = false
        pump()
    }

    /// The oldest message in flight was cancelled with its DATA out and unanswered: the
    /// connection goes now (its outcome went out when it was cancelled), rather than once the
    /// server sends its 354 (which no content may follow) or the timeout passes. Returns true
    /// when it dropped the connection.
    mutating func dropCancelledMessageAwaitingGoAhead() -> Bool {
        // Read in place: a copy of the transaction would cost retains on every pump.
        guard !transactions.isEmpty, let reason = transactions[0].cancelled, transactions[0].step == .awaitingGoAhead else {
            return false
        }
        transactions.removeFirst()
        fail(.messageCancelled(reason), quit: false)
        return true
    }
}
