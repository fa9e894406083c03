import NIOCore
import SMTPConnection
import SMTPCore
import SMTPTLS

/// One long-lived SMTP connection on an event loop, for the pool in SMTPNIOClient (a package
/// symbol: its addresses come from the package's resolver): it connects (each
/// address in turn, as the batch's sessions do), runs a `ClientConnection` that stays connected
/// between messages (`IdlePolicy.stayConnected`), and lets its owner act on that connection
/// (`enqueue`, `quit`, cancel a message) with whatever the act produced written at once.
///
/// Everything runs on `loop`; it is not `Sendable`. `onClosed` runs once, when the session is
/// over, with the error that ended it (nil after a clean QUIT).
package final class NIOConnection {
    private var session: NIOSession!

    /// Prepares a connection to `addresses` (from `AddressResolver.resolve(options)`), sharing
    /// `tlsContext` with every other connection made with it (so TLS sessions resume). `observer`
    /// sees the session's events, on the loop, from inside the connection's own processing: it
    /// must not call back into the connection (defer such work with `loop.execute`).
    package init(loop: any EventLoop, addresses: [ResolvedAddress], options: ClientOptions, tlsContext: TLSClientContext?,
                observer: SessionObserver?, onClosed: @escaping (NIOConnection, SMTPError?) -> Void) {
        session = NIOSession(loop: loop, addresses: addresses, options: options, tlsContext: tlsContext,
                             idlePolicy: .stayConnected, supplier: { _ in nil }, observer: observer,
                             onClosed: { [unowned self] session in
                                 let failure = session.connection?.failure ?? session.connectFailure.map(SMTPError.couldNotConnect)
                                 onClosed(self, failure)
                             })
    }

    /// Starts connecting.
    package func start() {
        session.start()
    }

    /// Runs `body` on the live connection, then writes what it produced. Returns false (and does
    /// not run `body`) before the TCP connection is up or once the session has finished.
    @discardableResult
    package func perform(_ body: (ClientConnection) -> Void) -> Bool {
        session.perform(body)
    }

    /// Ends the session at once, without QUIT: a connection still connecting stops; messages in
    /// flight end as the engine decides for a cancelled session.
    package func cancel() {
        session.cancel()
    }
}
