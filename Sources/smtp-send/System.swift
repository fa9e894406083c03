import Glibc

// The few operating-system services smtp-send needs, straight from libc. smtp-send does not link
// Foundation: loading it (and its ICU data) cost about 3 ms of a 15 ms send, more than the whole
// SMTP session on loopback.

/// Writes all of `text` to a file descriptor (1 or 2), retrying short writes.
func writeAll(_ descriptor: Int32, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// `value` with exactly `decimals` digits after the point ("12.345"), rounded half up.
func fixed(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return "\(value)" }
    let units = UInt64(scaled)
    let whole = units / UInt64(scale)
    var result = (value < 0 && units > 0 ? "-" : "") + String(whole)
    if decimals > 0 {
        let fraction = String(units % UInt64(scale))
        result += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return result
}

/// The current local time as RFC 5322 §3.3 writes it: "Sun, 29 Nov 2026 01:02:03 +0100".
func rfc5322Now() -> String {
    var now = time(nil)
    var parts = tm()
    localtime_r(&now, &parts)
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let offset = Int32(parts.tm_gmtoff / 60)
    let zone = (offset < 0 ? "-" : "+") + two(abs(offset) / 60) + two(abs(offset) % 60)
    return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) \(zone)"
}

/// A random (version 4) UUID in lower case, for Message-ID.
func randomUUID() -> String {
    var generator = SystemRandomNumberGenerator()
    var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
    bytes[6] = bytes[6] & 0x0F | 0x40
    bytes[8] = bytes[8] & 0x3F | 0x80
    let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
    return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
}

/// An environment variable.
func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

/// Whether this process may read `path`.
func isReadable(_ path: String) -> Bool {
    access(path, R_OK) == 0
}
