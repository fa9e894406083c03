/// A first-in first-out queue over one array that keeps its capacity: once grown, pushing and
/// popping allocate nothing. Popped slots are released when the queue drains, so elements that
/// hold references do not outlive their turn by much.
struct FIFO<Element>: Sendable where Element: Sendable {
    private var storage: [Element] = []
    private var head = 0

    init() {}

    var isEmpty: Bool { head == storage.count }
    var count: Int { storage.count - head }
    var first: Element? { isEmpty ? nil : storage[head] }

    mutating func append(_ element: Element) {
        storage.append(element)
    }

    /// Puts an element in front of all others.
    mutating func prepend(_ element: Element) {
        if head > 0 {
            head -= 1
            storage[head] = element
        } else {
            storage.insert(element, at: 0)
        }
    }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        }
        return element
    }

    mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        head = 0
    }

    /// Keeps only the elements for which `keep` is true (rare paths only: it may copy).
    mutating func filter(_ keep: (Element) -> Bool) {
        storage = storage[head...].filter(keep)
        head = 0
    }

    func contains(where predicate: (Element) -> Bool) -> Bool {
        storage[head...].contains(where: predicate)
    }
}
