import SMTPCore
import Testing

/// The queue the engine keeps its expected replies and actions in, and the async client its
/// waiting sends: checked against a plain array over long runs of every operation, including a
/// queue that never drains (where taken slots are shed without emptying it).
@Suite("FIFO")
struct FIFOTests {
    /// A deterministic generator, so a failure names the step it happened at.
    private struct Steps {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    @Test(arguments: [(UInt64(1), 60), (UInt64(7), 45), (UInt64(42), 55)])
    func behavesAsAnArrayWouldUnderEveryOperation(seed: UInt64, pushPercent: Int) {
        var queue = FIFO<Int>()
        var model: [Int] = []
        var steps = Steps(state: seed)
        var made = 0
        for step in 0..<40_000 {
            switch steps.next(100) {
            case ..<pushPercent:
                queue.append(made); model.append(made); made += 1
            case pushPercent..<(pushPercent + 3):
                queue.prepend(made); model.insert(made, at: 0); made += 1
            case (pushPercent + 3)..<(pushPercent + 5) where !model.isEmpty:
                let victim = model[steps.next(model.count)]
                let removed = queue.remove(victim)
                #expect(removed, "step \(step)")
                model.remove(at: model.firstIndex(of: victim)!)
            default:
                let popped = queue.popFirst()
                #expect(popped == model.first, "step \(step)")
                if !model.isEmpty { model.removeFirst() }
            }
            #expect(queue.count == model.count && queue.first == model.first && queue.isEmpty == model.isEmpty,
                    "step \(step)")
        }
        #expect(queue.prefix(5) == Array(model.prefix(5)))
        let removedAbsent = queue.remove(-1)
        #expect(!removedAbsent)
        let drained = queue.drain()
        #expect(drained == model)
        let afterDrain = queue.popFirst()
        #expect(queue.isEmpty && afterDrain == nil)
    }

    /// A queue that is pushed and popped in step and never empties keeps its length and order:
    /// the slots taken from its front are dropped once they are most of its storage.
    @Test func aQueueThatNeverDrainsKeepsItsOrder() {
        var queue = FIFO<Int>()
        for value in 0..<10 { queue.append(value) }
        for value in 10..<100_000 {
            queue.append(value)
            let popped = queue.popFirst()
            #expect(popped == value - 10)
        }
        let left = queue.drain()
        #expect(left == Array(99_990..<100_000))
    }
}
