/// A value in an AMQP field table (message headers, queue arguments).
public enum AMQPFieldValue: Sendable, Equatable, Hashable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case double(Double)
    case bytes([UInt8])
    /// A field array (AMQP kind `A`), such as the `CC` header's routing keys.
    case array([AMQPFieldValue])

    /// The value as a string, if it is one (or bytes that are UTF-8).
    public var stringValue: String? {
        switch self {
        case .string(let s): s
        case .bytes(let b): String(validating: b, as: UTF8.self)
        default: nil
        }
    }

    /// The value as an integer, if it is one.
    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }
}

/// A field table: header or argument names to values.
public typealias AMQPTable = [String: AMQPFieldValue]

/// The basic-class properties of a message that Tributary uses.
public struct AMQPProperties: Sendable, Equatable {
    public var contentType: String?
    public var correlationID: String?
    public var replyTo: String?
    public var messageID: String?
    public var type: String?
    public var expiration: String?
    public var timestamp: UInt64?
    /// Delivery mode 2: the broker writes the message to disk in a durable queue.
    public var persistent: Bool
    public var headers: AMQPTable

    public init(contentType: String? = nil, correlationID: String? = nil, replyTo: String? = nil,
                messageID: String? = nil, type: String? = nil, expiration: String? = nil, timestamp: UInt64? = nil,
                persistent: Bool = false, headers: AMQPTable = [:]) {
        self.contentType = contentType
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.messageID = messageID
        self.type = type
        self.expiration = expiration
        self.timestamp = timestamp
        self.persistent = persistent
        self.headers = headers
    }
}

/// A message to publish.
public struct OutboundMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var properties: AMQPProperties
    public var body: [UInt8]
    /// Whether the connection publishes it again by itself when it was unconfirmed as the
    /// connection broke (the default). If false, its confirm handler gets a `connectionLost`
    /// error instead, and the sender decides (for example, after checking it still may).
    public var resendAfterReconnect: Bool

    public init(exchange: String = "", routingKey: String, properties: AMQPProperties = .init(), body: [UInt8],
                resendAfterReconnect: Bool = true) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.body = body
        self.resendAfterReconnect = resendAfterReconnect
    }
}

/// Identifies a delivery for ack, nack and reject. Tags from before a reconnect are stale: acting on
/// them is a no-op, since the broker has already put those messages back on their queue.
public struct DeliveryTag: Sendable, Hashable {
    public let value: UInt64
    let generation: Int
}

/// A message the broker delivered to a consumer, or handed out by `get`.
public struct AMQPDelivery: Sendable {
    public let tag: DeliveryTag
    public let redelivered: Bool
    public let exchange: String
    public let routingKey: String
    public let properties: AMQPProperties
    public let body: [UInt8]
}
