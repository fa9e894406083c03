import Glibc

/// Each session of a batch needs a file descriptor.
package enum DescriptorLimit {
    /// Lifts the soft RLIMIT_NOFILE towards the hard one when it is below `wanted`.
    package static func raise(toAtLeast wanted: Int) {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0, limits.rlim_cur < rlim_t(wanted) else { return }
        limits.rlim_cur = min(limits.rlim_max, rlim_t(wanted))
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits)
    }
}
