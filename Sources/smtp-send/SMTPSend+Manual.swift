/// The manual `smtp-send --help` prints: the overview, the usage, the arguments and options (from
/// the option table), then the discussion, DESCRIPTION to EXAMPLES.
extension SMTPSend {
    static let overview = "Send a message over SMTP, with STARTTLS when the server offers it."

    static let usage = """
        smtp-send [OPTIONS] SERVER FROM TO [TO ...]
                 smtp-send [OPTIONS] --account NAME FROM TO [TO ...]
                 smtp-send -t [OPTIONS] SERVER [TO ...]      (or -t --account NAME)
                 sendmail [-t] [-i] [-oi] [-f FROM] [--config FILE] [--account NAME] [TO ...]
        """

    static let argumentsLabel = "<SERVER FROM TO>"
    static let argumentsHelp = "SERVER (unless --account or a default account), FROM (unless -t), then the TO addresses."

    static var manual: String {
        var text = "OVERVIEW: \(overview)\n\nUSAGE: \(usage)\n\nARGUMENTS:\n"
        text += ManualLayout.entry(argumentsLabel, argumentsHelp)
        text += "\nOPTIONS:\n"
        for option in optionTable.options {
            text += ManualLayout.entry(option.label, option.help)
        }
        return text + "\n" + discussion + "\n"
    }

    static let discussion = """
        DESCRIPTION
          Connects to SERVER and greets it with EHLO (HELO when EHLO is
          refused and TLS is not required). Upgrades to TLS with STARTTLS
          when the server offers it, authenticates when --user is given,
          and sends one message from FROM to every TO, reporting how each
          recipient fared. The certificate is verified against the system
          trust store (or --ca-file) and the server's name. A server that
          offered STARTTLS and then fails it is never used in plaintext.

        SERVER
          host, host:port, [v6addr] or [v6addr]:port. The port defaults to
          25, or 465 with --tls implicit. FROM and TO are bare addresses,
          without angle brackets; FROM may be "" for a null sender.

        THE MESSAGE
          Without --data or a message option, a built-in test message is
          sent. --subject, --header, --body, --html and --attach build a
          MIME message instead (From = FROM, To = the TO addresses, Date
          now, a Message-ID under the FROM domain); it is built before
          connecting, so non-ASCII text is sent quoted-printable (7-bit),
          never as 8bit, whether or not the server offers 8BITMIME.
          --data with a message option is a usage error.

        -t (RECIPIENTS FROM THE MESSAGE)
          The recipients are the addresses of the message's To, Cc and Bcc
          fields (display names, quoted strings, comments and groups are
          understood), plus any TO given. The Bcc fields are removed from
          the copy sent (the header is rewritten on a spooled copy; the
          body is untouched). The sender is -f ADDR, else the account's
          from, else the From field. The message is --data, or stdin.

        ACCOUNTS (--config FILE, default $XDG_CONFIG_HOME/smtp-send/config
        or ~/.config/smtp-send/config)
          [default]
          account = work
          [account work]
          host = smtp.example.org        port = 587
          tls = required                 (opportunistic|required|implicit|off)
          user = alice@example.org
          password-file = ~/.smtp-pass   (or password-command = pass show smtp;
                                         run with /bin/sh -c, first line used)
          from = alice@example.org       (envelope sender for -t and sendmail)
          ca-file = /path/ca.pem         tls-name = smtp.example.org
          One key = value a line; # starts a comment. With --account NAME
          SERVER is omitted; it may be omitted for the default account too
          when the first argument is an address. Options given on the
          command line win over the account's. A password file that group
          or others may read (mode & 077) is refused. A bad key or value is
          exit 2 (78 in sendmail mode) with FILE:LINE.

        SENDMAIL MODE
          Run through a link named sendmail (ln -s smtp-send sendmail), it
          takes sendmail's arguments: the message on stdin (always read to
          its end, so -i and -oi change nothing), the recipients as
          arguments or -t, -f FROM; -oX, -odX, -bm, -v and -F NAME are
          accepted and ignored. The server is the default account (or
          --account). Nothing is printed on success; an error is one line on
          stderr, and the exit status is a sysexits code: 64 usage, 65 bad
          message, 67 recipient refused, 68 host not found, 69 cannot
          connect or refused (5xx), 75 temporary failure (4xx, timeout),
          76 protocol violation, 78 configuration error.

        OUTPUT (stdout)
          Negotiating TLS....             just before STARTTLS is sent
          Using TLS connection.           once TLS is up
          Server does not support TLS; using normal connection.
          Message successfully sent to N recipient(s)
          Message sent to K of N recipient(s)
            refused ADDR: CODE TEXT       one line per refused recipient
           *** Your message may not have been sent!
          <one line saying why>
          Sent N messages in T s (R msg/s), F failed    (load mode)

        EXIT STATUS
          0  sent to every recipient
          1  not sent (any failure, TLS failures included)
          2  usage error, or bad input caught before connecting
          3  sent to some recipients only
          5  the server refused EHLO after STARTTLS

        ENVIRONMENT
          SMTP_PASSWORD    password for --user (unless --password-file, or the
                           account's password-file or password-command)
          XDG_CONFIG_HOME, HOME   where the accounts file is looked for

        EXAMPLES
          Relay through a mail server, TLS when offered:
            smtp-send mx.example.org alice@example.org bob@example.net

          Submission on 587 with AUTH, TLS required:
            SMTP_PASSWORD=secret smtp-send --tls required \\
              --user alice@example.org smtp.example.org:587 \\
              alice@example.org bob@example.net

          Implicit TLS on 465, message from a file:
            smtp-send --tls implicit --user alice \\
              --password-file ~/.smtp-pass --data message.eml \\
              smtp.example.org alice@example.org bob@example.net

          A message with a subject, a body and a file, through an account:
            smtp-send --account work --subject 'Grüße' --body @note.txt \\
              --attach report.pdf alice@example.org bob@example.net

          Forward a message, recipients from its header, Bcc removed:
            smtp-send -t --account work --data message.eml

          git send-email through the sendmail link:
            git send-email --sendmail-cmd=~/bin/sendmail --to=... PATCH

          Load test: 10,000 messages over 50 sessions on one libuv loop:
            smtp-send --tls off --driver uv --repeat 10000 \\
              --connections 50 127.0.0.1:2525 load@example.org \\
              sink@example.net
        """
}

/// Two columns, as swift-argument-parser laid them out: the label at 2, the help wrapped at 26,
/// lines of at most 79 characters; a label too wide for its column gets a line of its own.
enum ManualLayout {
    static let indent = 2, helpColumn = 26, width = 79

    static func entry(_ label: String, _ help: String) -> String {
        let pad = String(repeating: " ", count: helpColumn)
        var lines: [String] = []
        var line = String(repeating: " ", count: indent) + label
        if line.count + 2 > helpColumn {
            lines.append(line)
            line = pad
        } else {
            line += String(repeating: " ", count: helpColumn - line.count)
        }
        var empty = true
        for word in help.split(separator: " ") {
            if !empty, line.count + 1 + word.count > width {
                lines.append(line)
                line = pad
                empty = true
            }
            line += (empty ? "" : " ") + word
            empty = false
        }
        lines.append(line)
        return lines.joined(separator: "\n") + "\n"
    }
}
