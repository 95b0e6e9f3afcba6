import Foundation

/// Where and how to connect: parsed from an `amqp://user:pass@host:port/vhost` URL
/// (`amqps://` for TLS), with options in the query string:
/// `heartbeat` (seconds), `connection_timeout` (ms), `cacertfile`, `certfile`, `keyfile`, `verify`
/// (`verify_peer`, the default, or `verify_none`). The URL may name several nodes of a cluster,
/// comma-separated (`amqp://user:pass@rabbit1:5672,rabbit2,rabbit3:5673/vhost`): a connection
/// opens to the first that answers, and when it is lost, tries the next ones first.
public struct AMQPConfiguration: Sendable, Equatable {
    /// One broker node to connect to.
    public struct Node: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The nodes to connect to, in the order tried first; never empty.
    public var nodes: [Node]
    /// The first node's host.
    public var host: String {
        get { nodes[0].host }
        set { nodes[0].host = newValue }
    }
    /// The first node's port.
    public var port: Int {
        get { nodes[0].port }
        set { nodes[0].port = newValue }
    }
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
        self.nodes = [Node(host: host, port: port)]
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
        // URLComponents reads one host: the URL is parsed with the first node, and each node on its own.
        let (firstNodeURL, nodeTexts) = Self.splitNodes(url)
        guard let components = URLComponents(string: firstNodeURL) else { throw invalid("it is not a URL") }
        let scheme = components.scheme?.lowercased()
        guard scheme == "amqp" || scheme == "amqps" else {
            throw invalid("the scheme must be amqp or amqps, not '\(components.scheme ?? "")'")
        }
        let secure = scheme == "amqps"
        let defaultPort = secure ? 5671 : 5672
        var nodes: [Node] = []
        for text in nodeTexts {
            guard let node = URLComponents(string: "\(scheme!)://\(text)"), let host = node.host, !host.isEmpty else {
                throw invalid(nodeTexts.count > 1 ? "node '\(text)' has no host (write host or host:port, comma-separated)"
                                                  : "the host is missing")
            }
            if let port = node.port, !(1...65535).contains(port) {
                throw invalid("port \(port) is out of range" + (nodeTexts.count > 1 ? " (node '\(text)')" : ""))
            }
            guard node.path.isEmpty, node.user == nil, node.query == nil else {
                throw invalid("node '\(text)' must be host or host:port")
            }
            nodes.append(Node(host: host, port: node.port ?? defaultPort))
        }
        self.init(user: components.user ?? "guest", password: components.password ?? "guest")
        self.nodes = nodes
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
        redactedURL(of: nodes)
    }

    /// The URL of one node, with the password replaced by `***`.
    public func redactedURL(of node: Node) -> String {
        redactedURL(of: [node])
    }

    private func redactedURL(of nodes: [Node]) -> String {
        let scheme = tls == nil ? "amqp" : "amqps"
        let vhost = virtualHost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? virtualHost
        return "\(scheme)://\(user):***@\(nodes.map(\.description).joined(separator: ","))/\(vhost)"
    }

    /// The URL with only its first node, and the text of each node (`host` or `host:port`).
    private static func splitNodes(_ url: String) -> (firstNodeURL: String, nodes: [String]) {
        guard let schemeEnd = url.range(of: "://") else { return (url, [url]) }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let hostsStart = authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex
        let nodes = authority[hostsStart...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let firstNodeURL = String(url[..<hostsStart]) + nodes[0] + String(rest[authorityEnd...])
        return (firstNodeURL, nodes)
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
