/// A command line read against a table of options: no reflection, no Foundation, one pass.
///
/// The grammar (that of swift-argument-parser, which smtp-send used before):
/// - `--name value` and `--name=value`; a short option `-f value` or `-f=value`; flags grouped
///   (`-vt`), a value option in a group taking the next word (`-tf ADDR`);
/// - the next word is a value unless it starts with '-' (a lone "-" is a value: stdin);
///   `--name=` with nothing after '=' is a missing value;
/// - a single-valued option given twice keeps the last value; repeatable ones collect each;
/// - positional arguments anywhere, and every word after `--` is positional;
/// - `-h` or `--help` anywhere before `--` asks for the manual, whatever else is wrong.
/// Every error is a `UsageError` whose message names the option as the manual shows it.
struct CommandOption<Command>: Sendable {
    /// The long name without its dashes ("ca-file"), or nil.
    let long: String?
    /// The short name ("v" for -v), or nil.
    let short: Character?
    /// The value's name in the manual ("PATH"); nil for a flag.
    let valueName: String?
    let help: String
    /// Stores the value (a flag gets ""). `label` is how errors name the option.
    let apply: @Sendable (_ command: inout Command, _ value: String, _ label: String) throws -> Void

    /// "--tls <MODE>", "-f <ADDR>", "-v, --verbose": the option as the manual names it.
    var label: String {
        let names = [short.map { "-\($0)" }, long.map { "--\($0)" }].compactMap { $0 }.joined(separator: ", ")
        return valueName.map { "\(names) <\($0)>" } ?? names
    }

    /// The name used in errors: the long one if any ("--max-size <OCTETS>").
    var errorLabel: String {
        let name = long.map { "--\($0)" } ?? short.map { "-\($0)" } ?? ""
        return valueName.map { "\(name) <\($0)>" } ?? name
    }
}

extension CommandOption {
    static func flag(_ long: String?, short: Character? = nil, help: String,
                     _ set: @escaping @Sendable (inout Command) -> Void) -> Self {
        Self(long: long, short: short, valueName: nil, help: help) { command, _, _ in set(&command) }
    }

    static func string(_ long: String?, short: Character? = nil, value: String, help: String,
                       _ set: @escaping @Sendable (inout Command, String) -> Void) -> Self {
        Self(long: long, short: short, valueName: value, help: help) { command, text, _ in set(&command, text) }
    }

    static func integer(_ long: String, value: String, help: String,
                        _ set: @escaping @Sendable (inout Command, Int) -> Void) -> Self {
        Self(long: long, short: nil, valueName: value, help: help) { command, text, label in
            guard let number = Int(text) else { throw UsageError("The value '\(text)' is invalid for '\(label)'") }
            set(&command, number)
        }
    }

    static func number(_ long: String, value: String, help: String,
                       _ set: @escaping @Sendable (inout Command, Double) -> Void) -> Self {
        Self(long: long, short: nil, valueName: value, help: help) { command, text, label in
            guard let number = Double(text) else { throw UsageError("The value '\(text)' is invalid for '\(label)'") }
            set(&command, number)
        }
    }

    /// One of an enumeration's raw values; the manual lists them (and the default, if given).
    static func choice<Value: RawRepresentable & CaseIterable & Sendable>(
        _ long: String, value: String, help: String, default shown: Value? = nil,
        _ set: @escaping @Sendable (inout Command, Value) -> Void
    ) -> Self where Value.RawValue == String {
        let names = Value.allCases.map(\.rawValue)
        let listed = "(values: \(names.joined(separator: ", "))\(shown.map { "; default: \($0.rawValue)" } ?? ""))"
        return Self(long: long, short: nil, valueName: value, help: "\(help) \(listed)") { command, text, label in
            guard let choice = Value(rawValue: text) else {
                let quoted = names.map { "'\($0)'" }
                let list = quoted.count < 2 ? quoted.joined()
                    : quoted.dropLast().joined(separator: ", ") + (quoted.count == 2 ? " and " : " or ") + quoted.last!
                throw UsageError("The value '\(text)' is invalid for '\(label)'. Please provide one of \(list).")
            }
            set(&command, choice)
        }
    }
}

/// What a command line asked for: the manual, or a command to run.
enum ParsedCommandLine<Command> {
    case help
    case command(Command)
}

struct OptionTable<Command>: Sendable {
    let options: [CommandOption<Command>]
    /// Stores one positional argument.
    let positional: @Sendable (inout Command, String) -> Void
    /// The option that asks for the manual (in `options`, for the listing).
    var helpLong = "help"
    var helpShort: Character = "h"

    /// `help: false` reads -h and --help as any other flag (sendmail mode has no manual).
    func parse(_ words: [String], into start: Command, help: Bool = true) throws -> ParsedCommandLine<Command> {
        if help, asksForHelp(words) { return .help }
        var command = start
        var index = 0
        var onlyPositionals = false
        /// The next word as the value of `option`, if it is one.
        func nextValue(for option: CommandOption<Command>) throws -> String {
            guard index < words.count, Self.isValue(words[index]) else {
                throw UsageError("Missing value for '\(option.errorLabel)'")
            }
            index += 1
            return words[index - 1]
        }
        while index < words.count {
            let word = words[index]
            index += 1
            if onlyPositionals || Self.isValue(word) {
                positional(&command, word)
            } else if word == "--" {
                onlyPositionals = true
            } else if word.hasPrefix("--") {
                let (name, inline) = Self.split(word.dropFirst(2))
                guard let option = options.first(where: { $0.long == String(name) }), !name.isEmpty else {
                    throw unknown("--" + name)
                }
                try apply(option, inline: inline, named: "--" + name, to: &command, next: nextValue)
            } else {
                let (letters, inline) = Self.split(word.dropFirst())
                let group = try letters.map { letter in
                    guard let option = options.first(where: { $0.short == letter }) else {
                        // "-fADDR" reads as a value glued to -f; "-vx" names the letter.
                        let glued = letters.first.flatMap { first in options.first { $0.short == first } }
                        throw unknown(glued?.valueName != nil || inline != nil ? word : "-\(letter)")
                    }
                    return option
                }
                if inline != nil, group.count > 1 { throw unknown(word) }
                for (option, letter) in zip(group, letters) {
                    try apply(option, inline: inline, named: "-\(letter)", to: &command, next: nextValue)
                }
            }
        }
        return .command(command)
    }

    private func apply(_ option: CommandOption<Command>, inline: Substring?, named name: String,
                       to command: inout Command,
                       next: (CommandOption<Command>) throws -> String) throws {
        guard option.valueName != nil else {
            if let inline {
                throw UsageError("The option '\(name)' does not take any value, but '\(inline)' was specified.")
            }
            return try option.apply(&command, "", option.errorLabel)
        }
        if let inline, inline.isEmpty { throw UsageError("Missing value for '\(option.errorLabel)'") }
        let value = try inline.map(String.init) ?? next(option)
        try option.apply(&command, value, option.errorLabel)
    }

    /// A word that is not an option: anything not starting with '-', and "-" itself.
    static func isValue(_ word: String) -> Bool {
        word == "-" || !word.hasPrefix("-")
    }

    /// "name=value" as ("name", "value"); "name" as ("name", nil).
    static func split(_ text: Substring) -> (Substring, Substring?) {
        guard let equals = text.firstIndex(of: "=") else { return (text, nil) }
        return (text[..<equals], text[text.index(after: equals)...])
    }

    /// -h or --help before any `--`, or h in a group of short flags.
    func asksForHelp(_ words: [String]) -> Bool {
        for word in words {
            if word == "--" { return false }
            if word == "--\(helpLong)" { return true }
            if !Self.isValue(word), !word.hasPrefix("--"), !word.contains("="), word.contains(helpShort) {
                return true
            }
        }
        return false
    }

    /// "Unknown option '--tsl'. Did you mean '--tls'?" (a long name at most two edits away).
    private func unknown(_ word: String) -> UsageError {
        var text = "Unknown option '\(word)'"
        if word.hasPrefix("--") {
            let typed = Array(word.dropFirst(2))
            let near = options.compactMap { option in
                option.long.map { (name: $0, distance: Self.distance(typed, Array($0.lowercased()))) }
            }.filter { $0.distance <= 2 }.min { $0.distance < $1.distance }
            if let near { text += ". Did you mean '--\(near.name)'?" }
        }
        return UsageError(text)
    }

    /// Levenshtein distance, case-insensitive on the typed side.
    static func distance(_ typed: [Character], _ name: [Character]) -> Int {
        let typed = typed.map { Character($0.lowercased()) }
        var previous = Array(0...name.count)
        for (i, a) in typed.enumerated() {
            var current = [i + 1]
            for (j, b) in name.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (a == b ? 0 : 1)))
            }
            previous = current
        }
        return previous[name.count]
    }
}
