import CAMQPShim
import CRabbitMQ
import Foundation
import Glibc

extension ConnectionLoop {
    /// Opens a session on the first node that answers, trying them in turn from `currentNode`.
    /// With one node, throws its error; with several, one that names each node's.
    func openSession() throws(AMQPError) {
        let nodes = configuration.nodes, start = currentNode
        var failures: [AMQPError] = []
        for offset in 0..<nodes.count {
            currentNode = (start + offset) % nodes.count
            do {
                try openSession(to: nodes[currentNode])
                return
            } catch where error.kind == .unreachable && nodes.count > 1 {
                failures.append(error)
                dropSession()
            }
        }
        currentNode = start
        throw AMQPError(.unreachable, message: "cannot reach any of the \(nodes.count) broker nodes: "
            + failures.map(\.message).joined(separator: "; "))
    }

    /// Opens the socket to `node`, logs in, opens the data channel (with confirms) and the control
    /// channel, then restores the topology and consumers this connection had.
    private func openSession(to node: AMQPConfiguration.Node) throws(AMQPError) {
        guard let state = amqp_new_connection() else {
            throw AMQPError(.library, message: "rabbitmq-c could not allocate a connection")
        }
        connection = state
        generation += 1
        let where_ = "\(node)"
        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(state)
            guard let socket else { throw AMQPError(.library, message: "rabbitmq-c could not create a TLS socket") }
            try configureTLS(socket, tls)
        } else {
            socket = amqp_tcp_socket_new(state)
        }
        guard let socket else { throw AMQPError(.library, message: "rabbitmq-c could not create a socket") }
        var connectTimeout = timeval(configuration.connectTimeout)
        let opened = amqp_socket_open_noblock(socket, node.host, Int32(node.port), &connectTimeout)
        guard opened == AMQP_STATUS_OK.rawValue else {
            if opened == AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue
                || opened == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue {
                throw AMQPError(.unreachable, message: "the broker at \(where_) presented a TLS certificate this "
                    + "client does not accept (\(statusText(opened))); if your own CA signed it, pass its PEM file as "
                    + "cacertfile=PATH in the URL's query, and connect by the host name the certificate names")
            }
            throw AMQPError(.unreachable, message: "cannot reach the broker at \(where_): \(statusText(opened)); "
                + "check that RabbitMQ is running there (deploy/rabbitmq.sh start) and the host and port are right")
        }
        // Once the socket is open the broker is there: a loaded one may take seconds to log in, so
        // the handshake may take as long as RabbitMQ's own handshake_timeout (10 s) allows.
        var handshakeTimeout = timeval(max(configuration.connectTimeout, .seconds(10)))
        _ = amqp_set_handshake_timeout(state, &handshakeTimeout)
        var rpcTimeout = timeval(max(configuration.connectTimeout, .seconds(30)))
        _ = amqp_set_rpc_timeout(state, &rpcTimeout)
        let heartbeat = Int32(configuration.heartbeat.components.seconds)
        var arena = CArena()
        var clientProperties = arena.table(configuration.connectionName.map { ["connection_name": .string($0)] } ?? [:])
        let login = trib_amqp_login_plain_with_properties(state, configuration.virtualHost, 0, 131_072, heartbeat,
                                                          &clientProperties, configuration.user, configuration.password)
        try checkLogin(login)
        amqp_channel_open(state, Self.dataChannel)
        try checkReply(amqp_get_rpc_reply(state), on: Self.dataChannel, doing: "open channel \(Self.dataChannel)")
        amqp_confirm_select(state, Self.dataChannel)
        try checkReply(amqp_get_rpc_reply(state), on: Self.dataChannel, doing: "turn on publisher confirms")
        nextPublishTag = 1
        lowestUnconfirmedTag = 1
        amqp_channel_open(state, Self.controlChannel)
        try checkReply(amqp_get_rpc_reply(state), doing: "open channel \(Self.controlChannel)")
        for item in topology { try declare(item) }
        for tag in consumerOrder {
            if let record = consumers[tag] { try startConsumer(record) }
        }
    }

    private func configureTLS(_ socket: OpaquePointer, _ tls: AMQPConfiguration.TLSOptions) throws(AMQPError) {
        amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
        amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
        if let ca = tls.caCertificatePath, amqp_ssl_socket_set_cacert(socket, ca) != AMQP_STATUS_OK.rawValue {
            throw AMQPError(.library, message: "cannot read the CA certificate '\(ca)' (cacertfile)")
        }
        if let cert = tls.clientCertificatePath, let key = tls.clientKeyPath,
           amqp_ssl_socket_set_key(socket, cert, key) != AMQP_STATUS_OK.rawValue {
            throw AMQPError(.library, message: "cannot read the client certificate '\(cert)' or key '\(key)'")
        }
    }

    /// Closes the connection politely (used by `close()`).
    func closeSession() {
        guard let state = connection else { return }
        _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        dropSession()
    }

    /// Forgets the C connection without a handshake; unconfirmed publishes wait to be re-sent.
    /// When the broker itself closed the connection (`brokerError`), a publish that was in flight
    /// each of the last ``maxBrokerClosuresPerPublish`` times is taken to be what the broker cannot
    /// take: it fails instead of being sent again, so it cannot close the connection for ever.
    func dropSession(brokerError: AMQPError? = nil) {
        if let state = connection {
            amqp_destroy_connection(state)
            connection = nil
        }
        partialDelivery = nil
        var pending = unconfirmed.sorted { $0.key < $1.key }.map(\.value)
        unconfirmed.removeAll()
        for publish in pending where !publish.message.resendAfterReconnect {
            publish.onConfirm?(.failure(AMQPError(.connectionLost, message: "the connection broke before the broker "
                + "confirmed this publish; it is not re-sent by the connection")))
        }
        pending.removeAll { !$0.message.resendAfterReconnect }
        if let brokerError {
            for index in pending.indices { pending[index].brokerClosures += 1 }
            let poison = pending.filter { $0.brokerClosures >= Self.maxBrokerClosuresPerPublish }
            pending.removeAll { $0.brokerClosures >= Self.maxBrokerClosuresPerPublish }
            for publish in poison {
                publish.onConfirm?(.failure(AMQPError(.invalidMessage, message: "the broker closed the connection "
                    + "each of the \(Self.maxBrokerClosuresPerPublish) times this message was in flight (last: "
                    + "\(brokerError)); it is not sent again")))
            }
        }
        for publish in pending.reversed() { toResend.prepend(publish) }
    }

    func resendUnconfirmed() throws(AMQPError) {
        while let pending = toResend.popFirst() {
            try publish(pending)
        }
    }

    /// Runs one command on the open connection.
    func execute(_ command: ConnectionCommand) throws(AMQPError) {
        guard let state = connection else { throw AMQPError(.connectionLost, message: "not connected") }
        switch command {
        case .publish(let message, let handler), .publishPacked(let message, _, let handler):
            try publish(PendingPublish(message: message, onConfirm: handler))
        case .publishWhileHolding(let tag, var message, let handler):
            guard tag.generation == generation else {
                handler(.failure(AMQPError(.connectionLost, message: "the delivery is no longer held: the broker "
                    + "took it back when the connection or channel closed")))
                return
            }
            message.resendAfterReconnect = false
            try publish(PendingPublish(message: message, onConfirm: handler))
        case .ack(let tag, let multiple):
            guard tag.generation == generation else { return }
            try checkStatus(amqp_basic_ack(state, Self.dataChannel, tag.value, multiple ? 1 : 0), doing: "ack")
        case .nack(let tag, let multiple, let requeue):
            guard tag.generation == generation else { return }
            try checkStatus(amqp_basic_nack(state, Self.dataChannel, tag.value, multiple ? 1 : 0, requeue ? 1 : 0),
                            doing: "nack")
        case .reject(let tag, let requeue):
            guard tag.generation == generation else { return }
            try checkStatus(amqp_basic_reject(state, Self.dataChannel, tag.value, requeue ? 1 : 0), doing: "reject")
        case .declare(let item, let continuation):
            do throws(AMQPError) {
                try declare(item)
                topology.insert(item)
                continuation.resume()
            } catch where error.kind == .channelClosedByBroker {
                continuation.resume(throwing: error)
            }
        case .consume(let record, let continuation):
            do throws(AMQPError) {
                try passiveDeclare(queue: record.queue)
                consumers[record.tag] = record
                consumerOrder.append(record.tag)
                try startConsumer(record)
                continuation.resume()
            } catch where error.kind == .channelClosedByBroker {
                consumers[record.tag] = nil
                consumerOrder.removeAll { $0 == record.tag }
                record.onEnd()
                continuation.resume(throwing: error)
            }
        case .cancelConsumer(let tag, let continuation):
            var arena = CArena()
            amqp_basic_cancel(state, Self.dataChannel, arena.bytes(tag))
            try checkReply(amqp_get_rpc_reply(state), on: Self.dataChannel, doing: "cancel consumer \(tag)")
            if let record = consumers.removeValue(forKey: tag) {
                if record.noAck {
                    cancelledNoAckTags.append(tag)
                    if cancelledNoAckTags.count > Self.cancelledNoAckMemory { cancelledNoAckTags.removeFirst() }
                }
                record.onEnd()
            }
            consumerOrder.removeAll { $0 == tag }
            continuation.resume()
        case .get(let queue, let continuation):
            do throws(AMQPError) {
                continuation.resume(returning: try get(queue: queue))
            } catch where error.kind == .channelClosedByBroker {
                continuation.resume(throwing: error)
            }
        case .peek(let queue, let limit, let continuation):
            do throws(AMQPError) {
                continuation.resume(returning: try peek(queue: queue, limit: limit))
            } catch where error.kind == .channelClosedByBroker {
                continuation.resume(throwing: error)
            }
        case .purge(let queue, let continuation):
            var arena = CArena()
            let ok = amqp_queue_purge(state, Self.controlChannel, arena.bytes(queue))
            do throws(AMQPError) {
                try checkReply(amqp_get_rpc_reply(state), doing: "purge queue '\(queue)'")
                continuation.resume(returning: ok?.pointee.message_count ?? 0)
            } catch where error.kind == .channelClosedByBroker {
                continuation.resume(throwing: error)
            }
        case .inspect(let queue, let continuation):
            do throws(AMQPError) {
                continuation.resume(returning: try passiveDeclare(queue: queue, doing: "inspect queue '\(queue)'"))
            } catch where error.kind == .channelClosedByBroker {
                continuation.resume(throwing: error)
            }
        case .deleteQueue(let queue, let continuation):
            var arena = CArena()
            amqp_queue_delete(state, Self.controlChannel, arena.bytes(queue), 0, 0)
            do throws(AMQPError) {
                try checkReply(amqp_get_rpc_reply(state), doing: "delete queue '\(queue)'")
                topology.removeAll {
                    switch $0 {
                    case .queue(let declared): declared.name == queue
                    case .binding(let binding): binding.queue == queue
                    case .exchange: false
                    }
                }
                continuation.resume()
            } catch where error.kind == .channelClosedByBroker {
                continuation.resume(throwing: error)
            }
        case .close(let continuation):
            continuation.resume()
        }
    }

    func publish(_ pending: PendingPublish) throws(AMQPError) {
        guard let state = connection else {
            keepForResend(pending)
            throw AMQPError(.connectionLost, message: "not connected")
        }
        do throws(AMQPError) {
            try pending.message.checkFits(frameMax: Int(amqp_get_frame_max(state)))
        } catch {
            pending.onConfirm?(.failure(error))
            return
        }
        var arena = CArena()
        let exchange = arena.bytes(pending.message.exchange)
        let routingKey = arena.bytes(pending.message.routingKey)
        var properties = arena.properties(pending.message.properties)
        let status = pending.message.body.withUnsafeBytes { raw in
            amqp_basic_publish(state, Self.dataChannel, exchange, routingKey, 0, 0, &properties,
                               amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            keepForResend(pending)
            throw AMQPError(.connectionLost, message: "publish failed: \(statusText(status))")
        }
        unconfirmed[nextPublishTag] = pending
        nextPublishTag += 1
    }

    /// A publish the broken connection could not send goes out after the reconnect, unless its
    /// sender asked to decide for itself.
    private func keepForResend(_ pending: PendingPublish) {
        if pending.message.resendAfterReconnect {
            toResend.append(pending)
        } else {
            pending.onConfirm?(.failure(AMQPError(.connectionLost, message: "the connection broke before this "
                + "publish went out; it is not re-sent by the connection")))
        }
    }

    func declare(_ item: TopologyItem) throws(AMQPError) {
        guard let state = connection else { throw AMQPError(.connectionLost, message: "not connected") }
        var arena = CArena()
        switch item {
        case .exchange(let e):
            amqp_exchange_declare(state, Self.controlChannel, arena.bytes(e.name), arena.bytes(e.kind.rawValue),
                                  0, e.durable ? 1 : 0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
            try checkReply(amqp_get_rpc_reply(state), doing: "declare exchange '\(e.name)'")
        case .queue(let q):
            amqp_queue_declare(state, Self.controlChannel, arena.bytes(q.name), 0, q.durable ? 1 : 0,
                               q.exclusive ? 1 : 0, q.autoDelete ? 1 : 0, arena.table(q.arguments))
            try checkReply(amqp_get_rpc_reply(state), doing: "declare queue '\(q.name)'")
        case .binding(let b):
            amqp_queue_bind(state, Self.controlChannel, arena.bytes(b.queue), arena.bytes(b.exchange),
                            arena.bytes(b.routingKey), amqp_table_t(num_entries: 0, entries: nil))
            try checkReply(amqp_get_rpc_reply(state),
                           doing: "bind queue '\(b.queue)' to exchange '\(b.exchange)'")
        }
    }

    /// Declares `queue` passively: fails with NOT_FOUND if it does not exist, and says how many
    /// messages are ready on it and how many consumers it has.
    @discardableResult
    private func passiveDeclare(queue: String, doing what: String? = nil) throws(AMQPError) -> QueueStatus {
        guard let state = connection else { throw AMQPError(.connectionLost, message: "not connected") }
        var arena = CArena()
        let ok = amqp_queue_declare(state, Self.controlChannel, arena.bytes(queue), 1, 0, 0, 0,
                                    amqp_table_t(num_entries: 0, entries: nil))
        try checkReply(amqp_get_rpc_reply(state), doing: what ?? "find queue '\(queue)' to consume from")
        return QueueStatus(messages: Int(ok?.pointee.message_count ?? 0), consumers: Int(ok?.pointee.consumer_count ?? 0))
    }

    /// Sets the consumer's prefetch and starts it on the data channel.
    func startConsumer(_ record: ConsumerRecord) throws(AMQPError) {
        guard let state = connection else { throw AMQPError(.connectionLost, message: "not connected") }
        amqp_basic_qos(state, Self.dataChannel, 0, record.prefetch, 0)
        try checkReply(amqp_get_rpc_reply(state), on: Self.dataChannel, doing: "set prefetch \(record.prefetch)")
        var arena = CArena()
        amqp_basic_consume(state, Self.dataChannel, arena.bytes(record.queue), arena.bytes(record.tag), 0,
                           record.noAck ? 1 : 0, 0, amqp_table_t(num_entries: 0, entries: nil))
        try checkReply(amqp_get_rpc_reply(state), on: Self.dataChannel, doing: "consume from queue '\(record.queue)'")
    }

    private func get(queue: String) throws(AMQPError) -> AMQPDelivery? {
        try basicGet(queue: queue, acknowledged: true)
    }

    /// basic.get without acknowledgement up to `limit` times, then every message handed back to
    /// its place (basic.nack, multiple, requeue) on the same channel.
    private func peek(queue: String, limit: Int) throws(AMQPError) -> [AMQPDelivery] {
        var messages: [AMQPDelivery] = []
        while messages.count < limit, let message = try basicGet(queue: queue, acknowledged: false) {
            messages.append(message)
        }
        if let last = messages.last, let state = connection {
            try checkStatus(amqp_basic_nack(state, Self.controlChannel, last.tag.value, 1, 1), doing: "nack")
        }
        return messages
    }

    private func basicGet(queue: String, acknowledged: Bool) throws(AMQPError) -> AMQPDelivery? {
        guard let state = connection else { throw AMQPError(.connectionLost, message: "not connected") }
        var arena = CArena()
        let reply = amqp_basic_get(state, Self.controlChannel, arena.bytes(queue), acknowledged ? 1 : 0)
        try checkReply(reply, doing: "get from queue '\(queue)'")
        guard reply.reply.id == UInt32(TRIB_BASIC_GET_OK),
              let ok = reply.reply.decoded?.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee else {
            return nil
        }
        var message = amqp_message_t()
        try checkReply(amqp_read_message(state, Self.controlChannel, &message, 0), doing: "read message from '\(queue)'")
        defer { amqp_destroy_message(&message) }
        return AMQPDelivery(tag: DeliveryTag(value: ok.delivery_tag, generation: generation),
                            redelivered: ok.redelivered != 0, exchange: ok.exchange.string,
                            routingKey: ok.routing_key.string, properties: message.properties.swiftProperties,
                            body: message.body.array)
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
