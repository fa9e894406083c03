import Foundation

/// Peak memory is measured for the whole test process, and Swift Testing runs suites in
/// parallel: the tests that measure it (or move tens of megabytes) take this lock, a file lock
/// shared by every test target in the process, so no two of them overlap.
enum MemoryLock {
    static func exclusively<T>(_ body: () throws -> T) rethrows -> T {
        let descriptor = open("/tmp/smtp-machine-memory-tests.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        precondition(descriptor >= 0, "cannot open the memory-test lock file")
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 { precondition(errno == EINTR, "flock failed") }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}
