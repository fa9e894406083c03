@testable import SMTPConnection
import Testing

/// The default EHLO name: the canonical name /etc/hosts gives a short host name, read without DNS.
@Suite("Default EHLO name")
struct LocalNameTests {
    static let hosts = """
        127.0.0.1\tlocalhost
        # 127.0.1.1 commented.example.org vm
        127.0.1.1   Mail.Example.ORG  mail   # Debian's layout
        10.0.0.5 mail-backup backup.example.org
        ::1 localhost ip6-localhost
        """

    @Test func theCanonicalNameOnTheLineThatListsTheHostIsUsed() {
        #expect(LocalName.canonicalName(of: "mail", hostsFile: Self.hosts) == "Mail.Example.ORG")
        #expect(LocalName.canonicalName(of: "MAIL", hostsFile: Self.hosts) == "Mail.Example.ORG")
    }

    @Test func commentsUnqualifiedCanonicalNamesAndUnknownHostsGiveNothing() {
        #expect(LocalName.canonicalName(of: "vm", hostsFile: Self.hosts) == nil, "only in a comment")
        #expect(LocalName.canonicalName(of: "backup.example.org", hostsFile: Self.hosts) == nil,
                "the line's first name, mail-backup, is not qualified")
        #expect(LocalName.canonicalName(of: "localhost", hostsFile: Self.hosts) == nil)
        #expect(LocalName.canonicalName(of: "other", hostsFile: Self.hosts) == nil)
        #expect(LocalName.canonicalName(of: "mail", hostsFile: "") == nil)
    }
}
