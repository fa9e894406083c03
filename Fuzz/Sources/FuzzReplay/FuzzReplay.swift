#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SMTPFuzzing

/// Without libFuzzer (a build without -DFUZZING), each fuzz product runs its harness over the
/// files named on the command line and reports how many passed; a broken invariant traps.
public enum FuzzReplay {
    public static func main(_ target: FuzzHarness.Target) {
        var paths = CommandLine.arguments.dropFirst()
        if paths.first == "-v" {
            paths = paths.dropFirst()
            FuzzHarness.tracesEngine = true
            setvbuf(stdout, nil, _IONBF, 0) // the trace must survive the crash it explains
        }
        if paths.isEmpty {
            print("usage: \(target.rawValue) [-v] FILE...  (replays inputs through the \(target.rawValue) harness; -v traces the engine)")
            exit(2)
        }
        for path in paths {
            guard let bytes = read(path) else {
                print("cannot read \(path)")
                exit(1)
            }
            FuzzHarness.run(target, bytes)
        }
        print("\(target.rawValue): \(paths.count) inputs passed")
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count > 0 { bytes += chunk[0..<count] }
            if count < chunk.count { break }
        }
        return ferror(file) == 0 ? bytes : nil
    }
}
