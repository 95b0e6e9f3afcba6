/// An exchange to declare.
public struct ExchangeDeclaration: Sendable, Hashable {
    public enum Kind: String, Sendable { case direct, fanout, topic, headers }
    public var name: String
    public var kind: Kind
    public var durable: Bool
    public init(name: String, kind: Kind, durable: Bool = true) {
        self.name = name
        self.kind = kind
        self.durable = durable
    }
}

/// A queue to declare, with arguments such as `x-dead-letter-exchange` or `x-queue-type`.
public struct QueueDeclaration: Sendable, Hashable {
    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    public var arguments: AMQPTable
    public init(name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
                arguments: AMQPTable = [:]) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }
}

/// A binding of a queue to an exchange.
public struct QueueBinding: Sendable, Hashable {
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public init(queue: String, exchange: String, routingKey: String) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
    }
}

/// Everything a connection re-declares after a reconnect, in the order it was first declared.
enum TopologyItem: Sendable, Hashable {
    case exchange(ExchangeDeclaration)
    case queue(QueueDeclaration)
    case binding(QueueBinding)
}

/// What a connection has declared, each item once, in the order first declared (the order it is
/// declared again after a reconnect: exchanges and queues before their bindings). A set beside
/// the list keeps "declared already?" constant-time: a server declares two items per flow run.
struct DeclaredTopology: Sequence {
    private var items: [TopologyItem] = []
    private var known = Set<TopologyItem>()

    mutating func insert(_ item: TopologyItem) {
        if known.insert(item).inserted { items.append(item) }
    }

    mutating func removeAll(where shouldBeRemoved: (TopologyItem) -> Bool) {
        items.removeAll(where: shouldBeRemoved)
        known = Set(items)
    }

    func makeIterator() -> IndexingIterator<[TopologyItem]> { items.makeIterator() }
}
