/// An error from the AMQP client: what went wrong, the broker's reply code and text when the
/// broker said no, and a message that says what to do about it.
public struct AMQPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The broad kind of failure.
    public enum Kind: Sendable, Equatable {
        /// The broker URL could not be parsed.
        case invalidURL
        /// No TCP (or TLS) connection could be opened to the broker.
        case unreachable
        /// The broker refused the user name or password.
        case authenticationFailed
        /// The broker closed the connection (wrong vhost, permissions, ...).
        case connectionClosedByBroker
        /// The broker closed a channel after a failed operation (NOT_FOUND, PRECONDITION_FAILED, ...).
        case channelClosedByBroker
        /// The connection broke (socket error, missed heartbeats) after it was open.
        case connectionLost
        /// The connection was closed by this process.
        case closed
        /// The broker did not confirm a publish (basic.nack).
        case publishRejected
        /// A message that cannot go on the wire (a name over 255 bytes, headers larger than a frame).
        /// Only that publish fails; the connection carries on.
        case invalidMessage
        /// rabbitmq-c reported an error of its own.
        case library
    }

    /// The broad kind of failure.
    public var kind: Kind
    /// The AMQP reply code when the broker sent one (403, 404, 406, 530, ...).
    public var replyCode: UInt16?
    /// The broker's reply text, such as `ACCESS_REFUSED - Login was refused ...`.
    public var replyText: String?
    /// A sentence for people: what happened and what to do.
    public var message: String

    public init(_ kind: Kind, message: String, replyCode: UInt16? = nil, replyText: String? = nil) {
        self.kind = kind
        self.message = message
        self.replyCode = replyCode
        self.replyText = replyText
    }

    public var description: String {
        guard let replyText else { return message }
        let code = replyCode.map { " \($0)" } ?? ""
        return "\(message) (broker said\(code): \(replyText))"
    }
}
