import Glibc
import SMTPMessage

extension MessageDate {
    /// The current time with the local UTC offset (the one place that reads a clock).
    public static func now() -> MessageDate {
        var seconds = time(nil)
        var local = tm()
        localtime_r(&seconds, &local)
        return MessageDate(secondsSince1970: Int64(seconds), utcOffsetMinutes: Int(local.tm_gmtoff) / 60)
    }
}
