import Foundation
import Logging

/// A swift-log handler that keeps every line (level, message, merged metadata) for a test.
struct RecordingLogHandler: LogHandler {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    final class Store: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Line] = []
        func append(_ line: Line) { lock.withLock { stored.append(line) } }
        var lines: [Line] { lock.withLock { stored } }
    }

    let store: Store
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        store.append(Line(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
    }

    /// A logger at `level` whose lines go to the returned store.
    static func logger(level: Logger.Level) -> (Logger, Store) {
        let store = Store()
        return (Logger(label: "smtp.test") { _ in RecordingLogHandler(store: store, logLevel: level) }, store)
    }
}
