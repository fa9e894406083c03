/// RFC 5802 / RFC 5801 saslname, as SCRAM's "n=" and the GS2 header's "a=" carry it:
/// "=" becomes "=3D" and "," becomes "=2C", everything else goes as it is.
public enum SASLName {
    /// Works on the UTF-8 bytes, not on Characters: Swift folds a combining mark into the
    /// Character before it ("=\u{301}" is one Character), which would hide the "=" or ",".
    public static func escape(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "="): out += Array("=3D".utf8)
            case UInt8(ascii: ","): out += Array("=2C".utf8)
            default: out.append(byte)
            }
        }
        // Only ASCII bytes were replaced by ASCII bytes, so this is the input's valid UTF-8.
        return String(decoding: out, as: UTF8.self)
    }
}
