/// A display name as RFC 5322 phrase words: atoms when it is made of atoms, a quoted-string
/// when it is ASCII with specials, RFC 2047 encoded-words when it is not ASCII.
enum DisplayName {
    static func words(_ name: String) throws(MessageBuildError) -> [String] {
        try checkHeaderText(name, "a display name")
        let printable = name.utf8.allSatisfy { $0 >= 32 && $0 < 127 }
        if !printable || name.contains("=?") {
            return EncodedWord.encode(name)
        }
        let atoms = name.split(separator: " ", omittingEmptySubsequences: false)
        if atoms.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isAtext) }) {
            return atoms.map(String.init)
        }
        var quoted = "\""
        for character in name {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        quoted += "\""
        return HeaderFolder.words(of: quoted)
    }

    /// RFC 5322 atext.
    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-/=?^_`{|}~".utf8).contains(byte)
        }
    }
}
