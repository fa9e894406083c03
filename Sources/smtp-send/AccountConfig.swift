import Glibc
import SMTPConnection
import SMTPCore

/// One `[account NAME]` section of the config file.
struct Account: Equatable {
    var name: String
    var host: String?
    var port: UInt16?
    var tls: SMTPSend.TLSMode?
    var user: String?
    var passwordFile: String?
    var passwordCommand: String?
    var from: String?
    var caFile: String?
    var tlsName: String?
}

/// A config error: exit 2 (EX_CONFIG 78 in sendmail mode), with file:line when there is one.
struct ConfigError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// The accounts file: INI-like, `[account NAME]` sections of `key = value` lines and a
/// `[default]` section with `account = NAME`; `#` and `;` start comment lines.
struct AccountConfig {
    var accounts: [String: Account] = [:]
    var defaultAccount: String?
    let path: String

    /// `--config`, else $XDG_CONFIG_HOME/smtp-send/config, else ~/.config/smtp-send/config.
    static func defaultPath() -> String? {
        if let xdg = environment("XDG_CONFIG_HOME"), xdg.hasPrefix("/") { return xdg + "/smtp-send/config" }
        guard let home = environment("HOME"), !home.isEmpty else { return nil }
        return home + "/.config/smtp-send/config"
    }

    static func load(_ path: String) throws -> AccountConfig {
        guard let bytes = SmallFile.contents(of: path, limit: 1024 * 1024) else {
            throw ConfigError("cannot read the config file \(path): \(SystemError.words(errno))")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError("\(path): not UTF-8 text")
        }
        return try AccountConfig(parsing: text, path: path)
    }

    init(parsing text: String, path: String) throws {
        self.path = path
        enum Section { case none, defaults, account(String) }
        var section = Section.none
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let at = "\(path):\(index + 1)"
            let line = String(rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine).trimmed
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw ConfigError("\(at): a section header ends with ]") }
                let words = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
                if words == ["default"] {
                    section = .defaults
                } else if words.count == 2, words[0] == "account" {
                    let name = String(words[1])
                    guard accounts[name] == nil else { throw ConfigError("\(at): account \(name) is defined twice") }
                    accounts[name] = Account(name: name)
                    section = .account(name)
                } else {
                    throw ConfigError("\(at): unknown section \(line) (expected [account NAME] or [default])")
                }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw ConfigError("\(at): expected key = value") }
            let key = String(line[..<equals]).trimmed
            let value = String(line[line.index(after: equals)...]).trimmed
            guard !value.isEmpty else { throw ConfigError("\(at): \(key) has no value") }
            switch section {
            case .none:
                throw ConfigError("\(at): \(key) outside a section")
            case .defaults:
                guard key == "account" else { throw ConfigError("\(at): unknown key \(key) in [default] (expected account)") }
                defaultAccount = value
            case .account(let name):
                try Self.set(key, value, in: &accounts[name]!, at: at)
            }
        }
        if let name = defaultAccount, accounts[name] == nil {
            throw ConfigError("\(path): the default account \(name) is not defined")
        }
    }

    private static func set(_ key: String, _ value: String, in account: inout Account, at: String) throws {
        switch key {
        case "host":
            guard ServerAddress(value) != nil, !value.contains(":") || value.hasPrefix("[") else {
                throw ConfigError("\(at): invalid host \(value) (give the port with port =)")
            }
            account.host = value.hasPrefix("[") ? String(value.dropFirst().dropLast()) : value
        case "port":
            guard let port = UInt16(value), port > 0 else { throw ConfigError("\(at): invalid port \(value)") }
            account.port = port
        case "tls":
            guard let mode = SMTPSend.TLSMode(rawValue: value) else {
                throw ConfigError("\(at): invalid tls \(value) (opportunistic, required, implicit or off)")
            }
            account.tls = mode
        case "user": account.user = value
        case "password-file": account.passwordFile = expandingHome(value)
        case "password-command": account.passwordCommand = value
        case "from":
            if let problem = MailboxSyntax.problem(with: value, asRecipient: false) {
                throw ConfigError("\(at): invalid from \(value): \(problem)")
            }
            account.from = value
        case "ca-file": account.caFile = expandingHome(value)
        case "tls-name": account.tlsName = value
        default:
            throw ConfigError("\(at): unknown key \(key) (host, port, tls, user, password-file, password-command, from, ca-file, tls-name)")
        }
    }

    /// "~/x" as $HOME/x (the shell does not see the config file).
    private static func expandingHome(_ path: String) -> String {
        guard path.hasPrefix("~/"), let home = environment("HOME"), !home.isEmpty else { return path }
        return home + path.dropFirst()
    }

    func account(_ name: String) throws -> Account {
        guard let account = accounts[name] else { throw ConfigError("\(path): no account \(name)") }
        guard account.host != nil else { throw ConfigError("\(path): account \(name) has no host") }
        if account.passwordFile != nil, account.passwordCommand != nil {
            throw ConfigError("\(path): account \(name) has both password-file and password-command")
        }
        return account
    }
}

extension Account {
    /// The password: the first line of password-file (refused when others may read it) or of
    /// what password-command prints; nil when the account names neither.
    func password() throws -> String? {
        if let file = passwordFile {
            var info = stat()
            guard stat(file, &info) == 0 else {
                throw ConfigError("account \(name): cannot read password-file \(file): \(SystemError.words(errno))")
            }
            guard info.st_mode & 0o077 == 0 else {
                throw ConfigError("account \(name): password-file \(file) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
            }
            guard let bytes = SmallFile.contents(of: file, limit: 64 * 1024), let text = String(validating: bytes, as: UTF8.self) else {
                throw ConfigError("account \(name): cannot read password-file \(file)")
            }
            return firstLine(text)
        }
        if let command = passwordCommand {
            guard let pipe = popen(command, "r") else {
                throw ConfigError("account \(name): cannot run password-command: \(SystemError.words(errno))")
            }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while bytes.count < 64 * 1024 {
                let count = fread(&buffer, 1, buffer.count, pipe)
                if count == 0 { break }
                bytes += buffer[0..<count]
            }
            let status = pclose(pipe)
            guard status == 0 else { throw ConfigError("account \(name): password-command failed (status \(status >> 8))") }
            return firstLine(String(decoding: bytes, as: UTF8.self))
        }
        return nil
    }

    private func firstLine(_ text: String) -> String {
        let line = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).first.map(String.init) ?? ""
        return line.hasSuffix("\r") ? String(line.dropLast()) : line
    }
}
