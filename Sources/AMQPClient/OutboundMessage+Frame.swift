extension OutboundMessage {
    /// Bytes of a content-header frame that are not properties: frame header and end (8), class,
    /// weight, body size and property flags (14).
    private static let headerFrameOverhead = 22

    /// Checks that the message can go on the wire as it is: every short string (exchange, routing
    /// key, properties, header names) at most 255 bytes, and the properties small enough to fit in
    /// one frame of `frameMax` bytes (rabbitmq-c would otherwise fail half-way through a publish and
    /// leave the connection unusable), and no NaN or infinite number in a header (RabbitMQ closes
    /// the connection with INTERNAL_ERROR on one).
    func checkFits(frameMax: Int) throws(AMQPError) {
        func tooLong(_ what: String, _ value: String) -> AMQPError {
            AMQPError(.invalidMessage, message: "cannot publish: the \(what) is \(value.utf8.count) bytes; "
                + "AMQP allows at most 255")
        }
        if exchange.utf8.count > 255 { throw tooLong("exchange name", exchange) }
        if routingKey.utf8.count > 255 { throw tooLong("routing key (queue name)", routingKey) }
        var size = Self.headerFrameOverhead
        let shortStrings = [("content type", properties.contentType), ("correlation id", properties.correlationID),
                            ("reply-to", properties.replyTo), ("message id", properties.messageID),
                            ("type (task name)", properties.type), ("expiration", properties.expiration)]
        for case let (what, value?) in shortStrings {
            if value.utf8.count > 255 { throw tooLong(what, value) }
            size += 1 + value.utf8.count
        }
        size += 1 + (properties.timestamp == nil ? 0 : 8)
        size += 4
        for (name, value) in properties.headers {
            if name.utf8.count > 255 { throw tooLong("header name '\(name.prefix(40))…'", name) }
            if case .double(let number) = value, !number.isFinite {
                throw AMQPError(.invalidMessage, message: "cannot publish: header '\(name.prefix(40))' is \(number); "
                    + "RabbitMQ takes only finite numbers (send it as a string)")
            }
            size += 1 + name.utf8.count + 1 + value.encodedSize
        }
        if size > frameMax {
            throw AMQPError(.invalidMessage, message: "cannot publish: the message's properties and headers take "
                + "\(size) bytes, more than one AMQP frame (\(frameMax) bytes) holds; send large values in the body")
        }
    }
}

private extension AMQPFieldValue {
    /// The value's size in an AMQP field table, after its type byte.
    var encodedSize: Int {
        switch self {
        case .string(let s): 4 + s.utf8.count
        case .bytes(let b): 4 + b.count
        case .int, .double: 8
        case .bool: 1
        case .array(let values): 4 + values.reduce(0) { $0 + 1 + $1.encodedSize }
        }
    }
}
