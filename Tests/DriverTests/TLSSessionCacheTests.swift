import COpenSSL
import Dispatch
@testable import SMTPTLS
import Testing

/// The session store's rules, on hand-made sessions with a chosen creation time and lifetime:
/// expiry, the per-peer and peer bounds, forgetting a refused session, peers kept apart, and
/// many threads at once.
@Suite("TLS session cache")
struct TLSSessionCacheTests {
    static let a = TLSSessionCache.Key(name: "mx.example", host: "mx.example", port: 25)

    /// A resumable session whose id is `id`, made at `time`, valid for `lifetime` seconds.
    private func session(_ id: UInt8, time: Int = 1_000, lifetime: Int = 100) -> OpaquePointer {
        let session = SSL_SESSION_new()!
        var bytes = [UInt8](repeating: id, count: 32)
        #expect(SSL_SESSION_set1_id(session, &bytes, 32) == 1)
        _ = SSL_SESSION_set_time(session, time)
        _ = SSL_SESSION_set_timeout(session, lifetime)
        return session
    }

    /// The first id byte of what `take` offers (nil: nothing), freeing the copy.
    private func offered(_ cache: TLSSessionCache, _ key: TLSSessionCache.Key = a, now: Int = 1_050) -> UInt8? {
        guard let offer = cache.take(for: key, now: now) else { return nil }
        defer { SSL_SESSION_free(offer.session) }
        var length: UInt32 = 0
        let id = SSL_SESSION_get_id(offer.session, &length)!
        return length == 32 ? id[0] : nil
    }

    @Test func newestValidSessionIsOfferedAgainAndStays() {
        let cache = TLSSessionCache()
        cache.store(session(1), for: Self.a, now: 1_000)
        cache.store(session(2), for: Self.a, now: 1_000)
        #expect([offered(cache), offered(cache)] == [2, 2])
        #expect(cache.count(for: Self.a) == 2)
    }

    @Test func expiredSessionsAreNeitherStoredNorOfferedAndAreDropped() {
        let cache = TLSSessionCache()
        cache.store(session(9, time: 1_000, lifetime: 100), for: Self.a, now: 1_100)
        #expect(cache.count(for: Self.a) == 0, "already expired when it arrived")
        cache.store(session(1, time: 1_000, lifetime: 100), for: Self.a, now: 1_000)
        cache.store(session(2, time: 1_000, lifetime: 10), for: Self.a, now: 1_000)
        // At 1,050 the newest (lifetime 10) has expired: the older one is offered.
        #expect(offered(cache, now: 1_050) == 1)
        #expect(cache.count(for: Self.a) == 1)
        #expect(offered(cache, now: 1_099) == 1)
        #expect(offered(cache, now: 1_100) == nil)
        #expect(cache.count(for: Self.a) == 0)
        #expect(cache.peerCount == 0)
    }

    @Test func eachPeerKeepsItsNewestSessionsOnly() {
        let cache = TLSSessionCache(peerLimit: 8, perPeerLimit: 3)
        for id in UInt8(1)...5 { cache.store(session(id), for: Self.a, now: 1_000) }
        #expect(cache.count(for: Self.a) == 3)
        // Dropping the newest two by refusal leaves the third newest.
        for _ in 0..<2 {
            let offer = cache.take(for: Self.a, now: 1_050)!
            cache.discard(serial: offer.serial, for: Self.a)
            SSL_SESSION_free(offer.session)
        }
        #expect(offered(cache) == 3)
        #expect(cache.count(for: Self.a) == 1)
    }

    @Test func thePeerStoredToLeastRecentlyGoesFirst() {
        let cache = TLSSessionCache(peerLimit: 2, perPeerLimit: 4)
        let b = TLSSessionCache.Key(name: "b.example", host: "b.example", port: 25)
        let c = TLSSessionCache.Key(name: "c.example", host: "c.example", port: 25)
        cache.store(session(1), for: Self.a, now: 1_000)
        cache.store(session(2), for: b, now: 1_000)
        cache.store(session(3), for: Self.a, now: 1_000)
        cache.store(session(4), for: c, now: 1_000)
        #expect(cache.peerCount == 2)
        #expect([offered(cache, Self.a), offered(cache, b), offered(cache, c)] == [3, nil, 4])
    }

    @Test func peersAreTheNameTheHostAndThePort() {
        let cache = TLSSessionCache()
        cache.store(session(1), for: Self.a, now: 1_000)
        let others = [TLSSessionCache.Key(name: "other.example", host: "mx.example", port: 25),
                      TLSSessionCache.Key(name: "mx.example", host: "192.0.2.1", port: 25),
                      TLSSessionCache.Key(name: "mx.example", host: "mx.example", port: 587)]
        #expect(others.map { offered(cache, $0) } == [nil, nil, nil])
        #expect(offered(cache) == 1)
    }

    @Test func manyThreadsStoreAndTakeAtOnce() {
        let cache = TLSSessionCache(peerLimit: 4, perPeerLimit: 2)
        let keys = (0..<8).map { TLSSessionCache.Key(name: "h\($0)", host: "h\($0)", port: 25) }
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<500 {
                let key = keys[(worker + round) % keys.count]
                cache.store(session(UInt8(truncatingIfNeeded: round)), for: key, now: 1_000)
                if let offer = cache.take(for: key, now: 1_050) {
                    if round % 3 == 0 { cache.discard(serial: offer.serial, for: key) }
                    SSL_SESSION_free(offer.session)
                }
                cache.noteHandshake(resumed: round % 2 == 0)
            }
        }
        #expect(cache.peerCount <= 4)
        #expect(keys.allSatisfy { cache.count(for: $0) <= 2 })
        #expect(cache.handshakeCounts == TLSHandshakeCounts(full: 2_000, resumed: 2_000))
    }
}
