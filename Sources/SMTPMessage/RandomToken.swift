/// Unpredictable identifiers (Message-ID, Content-ID, MIME boundaries) from the system's random
/// source (the standard library's, no Foundation).
enum RandomToken {
    static func hex(_ octets: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        for _ in 0..<octets { text += Hex.byte(UInt8.random(in: 0...255, using: &generator)).lowercased() }
        return text
    }
}
