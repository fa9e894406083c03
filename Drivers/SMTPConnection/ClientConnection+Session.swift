import Glibc
import SMTPCore
import SMTPTLS

extension ClientConnection {
    /// The connection a driver's session runs once its socket is connected, as every driver makes
    /// it: the engine configured from `options`, the EHLO name the options' own or else one made
    /// from `localAddress` (the socket's end, nil for none known), TLS verified and resumed for
    /// `options.host` and `options.port`, and every event given to `observer`.
    package convenience init(options: ClientOptions, localAddress: (sockaddr_storage, socklen_t)?,
                             tlsContext: TLSClientContext?, idlePolicy: IdlePolicy, supplier: MessageSupplier? = nil,
                             supplyLimit: Int? = nil, observer: SessionObserver?) throws(SMTPError) {
        let helo = options.heloName ?? LocalName.heloName(localAddress: localAddress?.0, length: localAddress?.1 ?? 0)
        try self.init(configuration: options.engineConfiguration(heloName: helo), tlsContext: tlsContext,
                      tlsHost: options.host, tlsPort: options.port, chunkSize: options.chunkSize, idlePolicy: idlePolicy,
                      supplier: supplier, supplyLimit: supplyLimit)
        onEvent = observer
    }
}
