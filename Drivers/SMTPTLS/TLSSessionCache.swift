import COpenSSL
import Glibc

/// The client's store of resumable TLS sessions (TLS 1.3 tickets, TLS 1.2 session ids and
/// tickets), kept in a `TLSClientContext` and shared by every connection made with it, from any
/// thread.
///
/// A session is filed under its peer: the name the certificate was verified against, and the
/// host and port connected to. It is offered only to that same peer, so a session made with one
/// server name never goes to another. The newest session still valid is offered, to as many
/// connections as ask, until it expires, a newer one arrives, or the server refuses it. (RFC 8446
/// §C.4 would rather a TLS 1.3 ticket were used once, so that an observer cannot link the
/// connections; but servers such as Postfix issue one ticket per full handshake and none after a
/// resumed one, so single use would make every other connection a full handshake. An SMTP
/// client names itself in EHLO anyway.) Expired sessions are dropped when seen; the store holds
/// at most `peerLimit` peers (the one stored to least recently goes first) and `perPeerLimit`
/// sessions each (the oldest goes first).
final class TLSSessionCache: @unchecked Sendable {
    /// "name\0host\0port": the name the certificate is checked against, and where it was reached.
    struct Key: Hashable {
        let text: String
        init(name: String, host: String, port: UInt16) { text = "\(name)\u{0}\(host)\u{0}\(port)" }
    }

    let peerLimit: Int
    let perPeerLimit: Int
    /// A kept session and its serial number (how an offered copy names it later).
    private struct Entry {
        let session: OpaquePointer
        let serial: UInt64
    }

    /// A copy of a kept session, to offer (the caller owns it), and which one it copies.
    struct Offer {
        let session: OpaquePointer
        let serial: UInt64
    }

    private var sessions: [Key: [Entry]] = [:]
    /// When each peer was last stored to (a counter, for the eviction order).
    private var lastStored: [Key: UInt64] = [:]
    private var clock: UInt64 = 0
    private var counts = TLSHandshakeCounts()
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init(peerLimit: Int = 256, perPeerLimit: Int = 4) {
        self.peerLimit = max(1, peerLimit)
        self.perPeerLimit = max(1, perPeerLimit)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        for list in sessions.values { list.forEach { SSL_SESSION_free($0.session) } }
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Takes over `session` (one reference) for `key`.
    func store(_ session: OpaquePointer, for key: Key, now: Int = Int(time(nil))) {
        guard Self.isUsable(session, now: now) else {
            SSL_SESSION_free(session)
            return
        }
        var dropped: [OpaquePointer] = []
        locked {
            clock += 1
            var list = sessions[key] ?? []
            list.append(Entry(session: session, serial: clock))
            while list.count > perPeerLimit { dropped.append(list.removeFirst().session) }
            sessions[key] = list
            lastStored[key] = clock
            while sessions.count > peerLimit, let oldest = lastStored.min(by: { $0.value < $1.value })?.key {
                dropped += (sessions.removeValue(forKey: oldest) ?? []).map(\.session)
                lastStored.removeValue(forKey: oldest)
            }
        }
        dropped.forEach { SSL_SESSION_free($0) }
    }

    /// A session to offer to `key` (a copy of the newest one still valid, which stays in the
    /// store), owned by the caller. A copy, because OpenSSL marks the session a connection used
    /// as not resumable when that connection ends (a TLS 1.3 session, or one that ended without
    /// close_notify), which would spoil it for every later connection.
    func take(for key: Key, now: Int = Int(time(nil))) -> Offer? {
        var expired: [OpaquePointer] = []
        let found: Offer? = locked {
            guard var list = sessions[key] else { return nil }
            defer {
                if list.isEmpty {
                    sessions.removeValue(forKey: key)
                    lastStored.removeValue(forKey: key)
                } else {
                    sessions[key] = list
                }
            }
            while let newest = list.last {
                guard Self.isUsable(newest.session, now: now) else {
                    expired.append(list.removeLast().session)
                    continue
                }
                return SSL_SESSION_dup(newest.session).map { Offer(session: $0, serial: newest.serial) }
            }
            return nil
        }
        expired.forEach { SSL_SESSION_free($0) }
        return found
    }

    /// Forgets the session `serial` if `key` still holds it (a copy was offered, and the server
    /// did not take it).
    func discard(serial: UInt64, for key: Key) {
        let dropped: OpaquePointer? = locked {
            guard var list = sessions[key], let index = list.firstIndex(where: { $0.serial == serial }) else { return nil }
            let entry = list.remove(at: index)
            if list.isEmpty {
                sessions.removeValue(forKey: key)
                lastStored.removeValue(forKey: key)
            } else {
                sessions[key] = list
            }
            return entry.session
        }
        if let dropped { SSL_SESSION_free(dropped) }
    }

    /// Sessions held for `key` (for tests).
    func count(for key: Key) -> Int { locked { sessions[key]?.count ?? 0 } }
    var peerCount: Int { locked { sessions.count } }

    func noteHandshake(resumed: Bool) {
        locked {
            if resumed { counts.resumed += 1 } else { counts.full += 1 }
        }
    }

    var handshakeCounts: TLSHandshakeCounts { locked { counts } }

    /// Resumable and within the lifetime the server gave it.
    static func isUsable(_ session: OpaquePointer, now: Int) -> Bool {
        guard SSL_SESSION_is_resumable(session) == 1 else { return false }
        let made = SSL_SESSION_get_time(session)
        let lifetime = SSL_SESSION_get_timeout(session)
        return lifetime > 0 && now >= made && now < made + lifetime
    }
}

/// How many handshakes a context's sessions completed, and how many of them resumed a session.
public struct TLSHandshakeCounts: Sendable, Hashable {
    /// Handshakes that verified the server's certificate in full.
    public var full = 0
    /// Handshakes that resumed a session from an earlier, verified handshake.
    public var resumed = 0
    /// Counts to start from (zero by default).
    public init(full: Int = 0, resumed: Int = 0) {
        self.full = full
        self.resumed = resumed
    }
}
