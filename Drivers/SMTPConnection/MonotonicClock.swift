import Glibc
import SMTPCore

/// The drivers' clock: CLOCK_MONOTONIC, as the engine's `SMTPInstant`.
public enum MonotonicClock {
    /// The current instant of CLOCK_MONOTONIC.
    public static func now() -> SMTPInstant {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return SMTPInstant(nanoseconds: UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec))
    }

    /// Milliseconds from `now` until `deadline`, for poll() and timers: 0 when due, nil when there
    /// is no deadline, rounded up so a wake-up is never early.
    public static func milliseconds(until deadline: SMTPInstant?, from now: SMTPInstant) -> Int? {
        guard let deadline else { return nil }
        guard deadline > now else { return 0 }
        let nanoseconds = deadline.nanoseconds - now.nanoseconds
        return Int(min(UInt64(Int32.max), (nanoseconds + 999_999) / 1_000_000))
    }
}
