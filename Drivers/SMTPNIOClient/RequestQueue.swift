import SMTPCore

/// The pool's waiting requests, oldest first: appends and takes from the front in constant time
/// (a retried request goes back to the front with `prepend`), and withdraws one from the middle
/// (a cancelled send) in linear time, which is rare and bounded by the queue's length. The
/// engine's own queue, so the pool's waiting line keeps its capacity and sheds taken slots the
/// same way.
typealias RequestQueue = FIFO<RequestID>
