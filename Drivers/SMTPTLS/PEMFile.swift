import Glibc

/// What a PEM file holds, read once before OpenSSL parses it, so a set-up error can say whether
/// the file could not be read, is not PEM at all, or holds no block of the kind wanted.
struct PEMFile {
    /// The labels of its blocks in order: "CERTIFICATE", "PRIVATE KEY", ...
    let labels: [String]

    enum Problem: Error {
        /// errno's words ("No such file or directory", "Is a directory", ...).
        case unreadable(String)
        /// No "-----BEGIN ...-----" line at all.
        case notPEM
    }

    /// Files larger than this are not trust stores or keys.
    static let sizeLimit = 16 << 20

    static func read(_ path: String) -> Result<PEMFile, Problem> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.unreadable(String(cString: strerror(errno)))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= sizeLimit {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreadable(String(cString: strerror(errno))))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        guard bytes.count <= sizeLimit else { return .failure(.unreadable("larger than \(sizeLimit >> 20) MiB")) }
        let labels = labels(in: bytes)
        return labels.isEmpty ? .failure(.notPEM) : .success(PEMFile(labels: labels))
    }

    /// The label of every line "-----BEGIN LABEL-----" (RFC 7468 §2).
    static func labels(in bytes: [UInt8]) -> [String] {
        let begin = Array("-----BEGIN ".utf8), end = Array("-----".utf8)
        var labels: [String] = []
        for line in bytes.split(omittingEmptySubsequences: true, whereSeparator: { $0 == 10 || $0 == 13 }) {
            guard line.starts(with: begin) else { continue }
            let rest = line.dropFirst(begin.count)
            guard rest.count > end.count, rest.suffix(end.count).elementsEqual(end) else { continue }
            labels.append(String(decoding: rest.dropLast(end.count), as: UTF8.self))
        }
        return labels
    }

    static let certificateLabels: Set<String> = ["CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CERTIFICATE"]

    var certificateCount: Int { labels.filter { Self.certificateLabels.contains($0) }.count }
}
