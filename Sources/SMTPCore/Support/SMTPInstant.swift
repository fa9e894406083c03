/// A point in time as the driver's clock sees it.
///
/// The engine never reads a clock. Drivers pass the current instant with every input and the
/// engine answers with deadlines on the same scale. The epoch is the driver's business (a
/// monotonic clock's zero, the process start, a test's virtual zero); only differences matter.
public struct SMTPInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the driver's epoch.
    public var nanoseconds: UInt64

    /// The instant this many nanoseconds after the driver's epoch.
    @inlinable
    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// The driver's epoch.
    public static let zero = SMTPInstant(nanoseconds: 0)

    /// Whether `lhs` comes before `rhs`.
    @inlinable
    public static func < (lhs: SMTPInstant, rhs: SMTPInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// Adds a duration, saturating instead of overflowing (a timeout of `.seconds(Int64.max)`
    /// means "never").
    public static func + (lhs: SMTPInstant, rhs: Duration) -> SMTPInstant {
        let delta = rhs.saturatingNanoseconds
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(delta)
        return SMTPInstant(nanoseconds: overflow ? .max : sum)
    }

    /// The time from `rhs` to `lhs`, zero when `rhs` is later.
    public static func - (lhs: SMTPInstant, rhs: SMTPInstant) -> Duration {
        guard lhs.nanoseconds > rhs.nanoseconds else { return .zero }
        return .nanoseconds(Int64(clamping: lhs.nanoseconds - rhs.nanoseconds))
    }

    /// "t+" and the nanoseconds, for logs.
    public var description: String { "t+\(nanoseconds)ns" }
}

extension Duration {
    /// Non-negative nanoseconds, clamped to `UInt64`.
    var saturatingNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (total, overflow2) = whole.addingReportingOverflow(UInt64(max(0, attoseconds)) / 1_000_000_000)
        return overflow2 ? .max : total
    }
}
