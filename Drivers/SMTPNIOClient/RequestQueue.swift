/// The pool's waiting requests, oldest first: appends and takes from the front in constant time
/// (a retried request goes back to the front). Withdrawing one from the middle (a cancelled
/// send) is linear, which is rare and bounded by the queue's length.
struct RequestQueue {
    private var storage: [RequestID] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    var first: RequestID? { isEmpty ? nil : storage[head] }

    mutating func append(_ request: RequestID) {
        storage.append(request)
    }

    /// Puts a request back at the front.
    mutating func prepend(_ request: RequestID) {
        if head > 0 {
            head -= 1
            storage[head] = request
        } else {
            storage.insert(request, at: 0)
        }
    }

    @discardableResult
    mutating func removeFirst() -> RequestID {
        let request = storage[head]
        head += 1
        compact()
        return request
    }

    /// Withdraws `request` wherever it waits; false when it does not.
    @discardableResult
    mutating func remove(_ request: RequestID) -> Bool {
        guard let index = storage[head...].firstIndex(of: request) else { return false }
        storage.remove(at: index)
        return true
    }

    /// The first `count` requests, oldest first.
    func prefix(_ count: Int) -> [RequestID] {
        Array(storage[head..<min(storage.count, head + count)])
    }

    /// Takes every request, oldest first.
    mutating func drain() -> [RequestID] {
        let all = Array(storage[head...])
        storage.removeAll(keepingCapacity: true)
        head = 0
        return all
    }

    /// Drops the taken front once it is most of the storage.
    private mutating func compact() {
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= storage.count {
            storage.removeSubrange(0..<head)
            head = 0
        }
    }
}
