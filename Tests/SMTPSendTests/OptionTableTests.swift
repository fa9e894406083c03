@testable import smtp_send
import Testing

/// The parser alone, on a small command of its own: every form of an option, and each error.
@Suite("OptionTable: smtp-send's command-line parser")
struct OptionTableTests {
    enum Mode: String, CaseIterable, Sendable { case fast, slow }

    struct Toy: Equatable {
        var name: String?
        var count: Int?
        var ratio: Double?
        var mode: Mode?
        var loud = false
        var quick = false
        var tags: [String] = []
        var from: String?
        var words: [String] = []
    }

    static let table = OptionTable<Toy>(options: [
        .string("name", value: "NAME", help: "A name.") { $0.name = $1 },
        .integer("count", value: "N", help: "A count.") { $0.count = $1 },
        .number("ratio", value: "R", help: "A ratio.") { $0.ratio = $1 },
        .choice("mode", value: "MODE", help: "A mode.") { $0.mode = $1 },
        .flag("loud", short: "l", help: "Loud.") { $0.loud = true },
        .flag(nil, short: "q", help: "Quick.") { $0.quick = true },
        .string("tag", value: "TAG", help: "A tag (repeatable).") { $0.tags.append($1) },
        .string(nil, short: "f", value: "ADDR", help: "A sender.") { $0.from = $1 },
        .flag("help", short: "h", help: "Show help information.") { _ in },
    ], positional: { $0.words.append($1) })

    static func parse(_ words: [String]) throws -> Toy? {
        guard case .command(let toy) = try table.parse(words, into: Toy()) else { return nil }
        return toy
    }

    static func error(_ words: [String]) -> String? {
        do {
            _ = try table.parse(words, into: Toy())
            return nil
        } catch let error as UsageError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func bothValueFormsPositionalsAnywhereAndTheLastValueWins() throws {
        let toy = try Self.parse(["a", "--name", "x", "b", "--count=3", "--ratio", ".5", "--mode=slow",
                                  "--tag", "t1", "-l", "--tag=t2=x", "c", "--name=y", "-f", "s@x"])
        #expect(toy == Toy(name: "y", count: 3, ratio: 0.5, mode: .slow, loud: true, tags: ["t1", "t2=x"],
                           from: "s@x", words: ["a", "b", "c"]))
    }

    @Test func groupedShortFlagsAndAGroupedValueOption() throws {
        #expect(try Self.parse(["-lq"]) == Toy(loud: true, quick: true))
        #expect(try Self.parse(["-qf", "s@x", "w"]) == Toy(quick: true, from: "s@x", words: ["w"]))
        #expect(try Self.parse(["-f=s@x"]) == Toy(from: "s@x"))
    }

    @Test func aLoneDashIsAValueAndDoubleDashEndsTheOptions() throws {
        #expect(try Self.parse(["--name", "-", "-"]) == Toy(name: "-", words: ["-"]))
        #expect(try Self.parse(["w", "--", "--name", "-h", "--"]) == Toy(words: ["w", "--name", "-h", "--"]))
        #expect(try Self.parse(["--name", ""]) == Toy(name: ""))
    }

    @Test func helpAnywhereBeforeDoubleDashWinsOverErrors() throws {
        for words in [["-h"], ["w", "--help"], ["--bogus", "-h"], ["-lh"], ["--count", "x", "--help"]] {
            #expect(try Self.parse(words) == nil, "\(words)")
        }
        #expect(Self.error(["--help=1"]) == "The option '--help' does not take any value, but '1' was specified.")
    }

    @Test func eachErrorNamesTheOptionAsTheManualDoes() {
        let cases: [([String], String)] = [
            (["--bogus"], "Unknown option '--bogus'"),
            (["--nmae=x"], "Unknown option '--nmae'. Did you mean '--name'?"),
            (["--LOUD"], "Unknown option '--LOUD'. Did you mean '--loud'?"),
            (["-x"], "Unknown option '-x'"),
            (["-lx"], "Unknown option '-x'"),
            (["-fADDR"], "Unknown option '-fADDR'"),
            (["-lq=1"], "Unknown option '-lq=1'"),
            (["--name"], "Missing value for '--name <NAME>'"),
            (["--name="], "Missing value for '--name <NAME>'"),
            (["--name", "-x"], "Missing value for '--name <NAME>'"),
            (["--name", "--"], "Missing value for '--name <NAME>'"),
            (["-f"], "Missing value for '-f <ADDR>'"),
            (["--count", "1.5"], "The value '1.5' is invalid for '--count <N>'"),
            (["--count=99999999999999999999"], "The value '99999999999999999999' is invalid for '--count <N>'"),
            (["--ratio", "x"], "The value 'x' is invalid for '--ratio <R>'"),
            (["--mode", "Fast"], "The value 'Fast' is invalid for '--mode <MODE>'. Please provide one of 'fast' and 'slow'."),
            (["--loud=yes"], "The option '--loud' does not take any value, but 'yes' was specified."),
            (["-l="], "The option '-l' does not take any value, but '' was specified."),
        ]
        for (words, message) in cases {
            #expect(Self.error(words) == message, "\(words)")
        }
    }

    @Test func theManualListsEachOptionWithItsValueName() {
        let text = Self.table.options.map { ManualLayout.entry($0.label, $0.help) }.joined()
        #expect(text == """
              --name <NAME>           A name.
              --count <N>             A count.
              --ratio <R>             A ratio.
              --mode <MODE>           A mode. (values: fast, slow)
              -l, --loud              Loud.
              -q                      Quick.
              --tag <TAG>             A tag (repeatable).
              -f <ADDR>               A sender.
              -h, --help              Show help information.

            """)
    }

    @Test func longHelpWrapsAtColumn26WithinSeventyNineCharacters() {
        let entry = ManualLayout.entry("--a-rather-long-option <VALUE>", String(repeating: "word ", count: 20))
        #expect(entry == """
              --a-rather-long-option <VALUE>
                                      word word word word word word word word word word
                                      word word word word word word word word word word

            """)
    }
}
