/// A first-in first-out queue over one array that keeps its capacity: once grown, pushing and
/// popping allocate nothing. Popped slots are released when the queue drains, or once they are
/// most of the array, so elements that hold references do not outlive their turn by much, and a
/// queue that never drains (the async client's waiting sends under steady load) does not grow
/// without bound. The engine's queues and the async client's pool share it.
package struct FIFO<Element>: Sendable where Element: Sendable {
    private var storage: [Element] = []
    private var head = 0

    package init() {}

    package var isEmpty: Bool { head == storage.count }
    package var count: Int { storage.count - head }
    package var first: Element? { isEmpty ? nil : storage[head] }

    package mutating func append(_ element: Element) {
        storage.append(element)
    }

    /// Puts an element in front of all others.
    package mutating func prepend(_ element: Element) {
        if head > 0 {
            head -= 1
            storage[head] = element
        } else {
            storage.insert(element, at: 0)
        }
    }

    package mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= storage.count {
            storage.removeSubrange(0..<head)
            head = 0
        }
        return element
    }

    /// The first `count` elements, oldest first.
    package func prefix(_ count: Int) -> [Element] {
        Array(storage[head..<min(storage.count, head + max(0, count))])
    }

    /// Takes every element, oldest first.
    package mutating func drain() -> [Element] {
        let all = Array(storage[head...])
        removeAll()
        return all
    }

    package mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        head = 0
    }

    /// Keeps only the elements for which `keep` is true (rare paths only: it may copy).
    package mutating func filter(_ keep: (Element) -> Bool) {
        storage = storage[head...].filter(keep)
        head = 0
    }

    package func contains(where predicate: (Element) -> Bool) -> Bool {
        storage[head...].contains(where: predicate)
    }
}

extension FIFO where Element: Equatable {
    /// Withdraws the first `element` wherever it waits (linear: for rare paths, such as a
    /// cancelled send); false when it is not there.
    @discardableResult
    package mutating func remove(_ element: Element) -> Bool {
        guard let index = storage[head...].firstIndex(of: element) else { return false }
        storage.remove(at: index)
        return true
    }
}
