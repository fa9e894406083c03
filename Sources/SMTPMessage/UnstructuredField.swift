/// Unstructured header fields (Subject, Comments, custom fields): ASCII text folds at its
/// spaces; text that is not ASCII (or looks like an encoded-word, or cannot fold under 998
/// octets) becomes RFC 2047 encoded-words, split to fit the lines.
enum UnstructuredField {
    static func render(_ name: String, _ value: String) throws(MessageBuildError) -> [UInt8] {
        try checkHeaderText(value, "the \(name) field")
        let plain = value.utf8.allSatisfy { $0 == 9 || ($0 >= 32 && $0 < 127) }
        let words = HeaderFolder.words(of: value)
        let longest = words.map { $0.utf8.count }.max() ?? 0
        if plain && !value.contains("=?") && longest + name.utf8.count + 2 <= 998 && !value.contains("\t") {
            return HeaderFolder.fold(name: name, words: words)
        }
        let first = HeaderFolder.lineLimit - name.utf8.count - 2
        return HeaderFolder.fold(name: name, words: EncodedWord.encode(value, firstLength: min(first, EncodedWord.maxLength)))
    }
}
