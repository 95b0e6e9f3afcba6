import Foundation

/// Where and how to connect: parsed from an `amqp://user:pass@host:port/vhost` URL
/// (`amqps://` for TLS), with options in the query string:
/// `heartbeat` (seconds), `connection_timeout` (ms), `cacertfile`, `certfile`, `keyfile`, `verify`
/// (`verify_peer`, the default, or `verify_none`).
public struct AMQPConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String
    /// TLS settings; `nil` for a plain TCP connection.
    public var tls: TLSOptions?
    /// Heartbeat interval negotiated with the broker; zero turns heartbeats off.
    public var heartbeat: Duration = .seconds(10)
    /// How long opening the socket may take; the AMQP handshake after it may take this or 10 s
    /// (RabbitMQ's own `handshake_timeout`), whichever is longer.
    public var connectTimeout: Duration = .seconds(5)
    /// How a connection that broke is re-opened.
    public var reconnect = ReconnectPolicy()
    /// A name the broker shows for this connection (`rabbitmqctl list_connections user_provided_name`).
    public var connectionName: String?

    /// TLS through rabbitmq-c's SSL socket. Certificate verification is on by default.
    public struct TLSOptions: Sendable, Equatable {
        public var caCertificatePath: String?
        public var clientCertificatePath: String?
        public var clientKeyPath: String?
        public var verifyPeer = true
        public var verifyHostname = true
        public init() {}
    }

    /// Backoff between reconnect attempts; `maxAttempts` nil retries for ever.
    public struct ReconnectPolicy: Sendable, Equatable {
        public var initialDelay: Duration = .milliseconds(100)
        public var maxDelay: Duration = .seconds(5)
        public var maxAttempts: Int?
        public init() {}

        /// The delay before reconnect attempt `attempt` (1-based): doubling from `initialDelay` up to `maxDelay`.
        public func delay(beforeAttempt attempt: Int) -> Duration {
            let doublings = min(max(attempt - 1, 0), 30)
            let delay = initialDelay * (1 << doublings)
            return min(delay, maxDelay)
        }
    }

    public init(host: String = "localhost", port: Int = 5672, user: String = "guest", password: String = "guest",
                virtualHost: String = "/", tls: TLSOptions? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
        self.tls = tls
    }

    /// Parses a broker URL. Throws an ``AMQPError`` of kind `.invalidURL` that names what is wrong.
    public init(url: String) throws {
        func invalid(_ why: String) -> AMQPError {
            AMQPError(.invalidURL, message: "invalid broker URL '\(AMQPConfiguration.redact(url))': \(why); "
                + "expected amqp://user:password@host:port/vhost (or amqps:// for TLS)")
        }
        guard let components = URLComponents(string: url) else { throw invalid("it is not a URL") }
        let scheme = components.scheme?.lowercased()
        guard scheme == "amqp" || scheme == "amqps" else {
            throw invalid("the scheme must be amqp or amqps, not '\(components.scheme ?? "")'")
        }
        let secure = scheme == "amqps"
        guard let host = components.host, !host.isEmpty else { throw invalid("the host is missing") }
        if let port = components.port, !(1...65535).contains(port) { throw invalid("port \(port) is out of range") }
        self.init(host: host, port: components.port ?? (secure ? 5671 : 5672),
                  user: components.user ?? "guest", password: components.password ?? "guest")
        let path = components.percentEncodedPath
        if path.isEmpty || path == "/" {
            virtualHost = "/"
        } else {
            let encoded = String(path.dropFirst())
            guard !encoded.contains("/") else { throw invalid("the vhost must be one path segment (write / as %2F)") }
            virtualHost = encoded.removingPercentEncoding ?? encoded
        }
        if secure { tls = TLSOptions() }
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "heartbeat":
                guard let seconds = Int(value), seconds >= 0 else { throw invalid("heartbeat must be whole seconds") }
                heartbeat = .seconds(seconds)
            case "connection_timeout":
                guard let ms = Int(value), ms > 0 else { throw invalid("connection_timeout must be milliseconds > 0") }
                connectTimeout = .milliseconds(ms)
            case "cacertfile", "certfile", "keyfile", "verify":
                guard secure else { throw invalid("\(item.name) is a TLS option; use amqps://") }
                switch item.name {
                case "cacertfile": tls?.caCertificatePath = value
                case "certfile": tls?.clientCertificatePath = value
                case "keyfile": tls?.clientKeyPath = value
                default:
                    guard value == "verify_peer" || value == "verify_none" else {
                        throw invalid("verify must be verify_peer or verify_none")
                    }
                    tls?.verifyPeer = value == "verify_peer"
                    tls?.verifyHostname = value == "verify_peer"
                }
            default:
                throw invalid("unknown option '\(item.name)'")
            }
        }
    }

    /// The URL with the password replaced by `***`, safe to log.
    public var redactedURL: String {
        let scheme = tls == nil ? "amqp" : "amqps"
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost
        return "\(scheme)://\(user):***@\(host):\(port)/\(vhost)"
    }

    /// Replaces the password in any URL-like string with `***`, for error messages.
    public static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url.range(of: "@", options: .backwards),
              schemeEnd.upperBound <= at.lowerBound else { return url }
        let userInfo = url[schemeEnd.upperBound..<at.lowerBound]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at.lowerBound...])
    }
}
