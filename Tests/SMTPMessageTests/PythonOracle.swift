import Foundation
import Testing

/// What Python's email package (policy=default) reads from a message: Tests/MessageOracle/oracle.py.
struct OracleReading: Decodable, Equatable {
    struct Part: Decodable, Equatable {
        var type: String
        var cte: String?
        var disposition: String?
        var filename: String?
        var cid: String?
        var text: String?
        var size: Int?
        var sha256: String?
        var hex: String?
    }
    var headers: [[String]]
    var addresses: [String: [[String]]]
    var parts: [Part]
    var defects: [String]
    var longest_line: Int

    func header(_ name: String) -> [String] { headers.filter { $0[0].lowercased() == name.lowercased() }.map { $0[1] } }
}

enum PythonOracle {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("MessageOracle/oracle.py").path

    static func run(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "oracle.py \(arguments) failed")
        return data
    }

    /// Python's reading of the message stored at `path`.
    static func read(path: String) throws -> OracleReading {
        try JSONDecoder().decode(OracleReading.self, from: run([path]))
    }

    static func read(_ bytes: [UInt8]) throws -> OracleReading {
        let path = NSTemporaryDirectory() + "oracle-\(UUID().uuidString).eml"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try read(path: path)
    }

    static func sha256(ofFile path: String) throws -> String {
        try JSONDecoder().decode(String.self, from: run(["--sha256", path]))
    }
}
