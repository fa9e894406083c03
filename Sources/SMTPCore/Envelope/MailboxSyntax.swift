/// Public syntax checks, so a front end can refuse bad input before it connects (the engine
/// applies the same checks again when a transaction starts).
public enum MailboxSyntax {
    /// Why `address` (without angle brackets) cannot be a reverse-path or forward-path, or nil
    /// when it can. "" is the null reverse-path, valid only as a sender; "Postmaster" alone is
    /// valid only as a recipient.
    public static func problem(with address: String, asRecipient: Bool) -> AddressProblem? {
        if address.isEmpty { return asRecipient ? .empty : nil }
        switch AddressSyntax.checkMailbox(address, allowPostmaster: asRecipient) {
        case .success: return nil
        case .failure(let problem): return problem
        }
    }

    /// Whether `name` may follow EHLO/HELO: a domain or an address literal.
    public static func isValidHeloName(_ name: String) -> Bool {
        AddressSyntax.isValidHeloName(name)
    }
}
