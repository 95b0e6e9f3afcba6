import CAMQPShim
import CRabbitMQ

extension ConnectionLoop {
    /// Turns a login reply into a clear error: wrong credentials, unknown vhost, or a broken socket.
    func checkLogin(_ reply: amqp_rpc_reply_t) throws(AMQPError) {
        let who = "user '\(configuration.user)' on vhost '\(configuration.virtualHost)'"
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            let (code, text) = closeDetails(reply.reply)
            sendCloseOk(for: reply.reply, channel: 0)
            if code == 403 {
                throw AMQPError(.authenticationFailed,
                                message: "the broker refused the login of \(who); check the user name and password "
                                    + "in the broker URL", replyCode: code, replyText: text)
            }
            if code == 530 {
                throw AMQPError(.connectionClosedByBroker,
                                message: "the broker refused \(who); check that the vhost exists and the user may "
                                    + "use it (rabbitmqctl set_permissions)", replyCode: code, replyText: text)
            }
            throw AMQPError(.connectionClosedByBroker, message: "the broker refused the connection of \(who)",
                            replyCode: code, replyText: text)
        default:
            let status = reply.library_error
            if status == AMQP_STATUS_CONNECTION_CLOSED.rawValue || status == AMQP_STATUS_SOCKET_ERROR.rawValue {
                throw AMQPError(.authenticationFailed,
                                message: "the broker closed the connection during login of \(who): usually a wrong "
                                    + "user name or password, or a user that may not connect from this host")
            }
            throw AMQPError(.unreachable, message: "logging in to \(configuration.nodes[currentNode]) failed: "
                + statusText(status))
        }
    }

    /// Throws a clear error for a failed RPC. A channel the broker closed is re-opened first, so the
    /// connection stays usable; a connection the broker closed is reported as lost.
    func checkReply(_ reply: amqp_rpc_reply_t, on channel: amqp_channel_t = controlChannel,
                    doing what: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            let (code, text) = closeDetails(reply.reply)
            if reply.reply.id == UInt32(TRIB_CHANNEL_CLOSE) {
                let error = AMQPError(.channelClosedByBroker, message: "the broker refused to \(what)",
                                      replyCode: code, replyText: text)
                try recoverChannel(channel, after: error, closing: reply.reply)
                throw error
            }
            sendCloseOk(for: reply.reply, channel: 0)
            throw AMQPError(.connectionLost, message: "the broker closed the connection while trying to \(what)",
                            replyCode: code, replyText: text)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw AMQPError(.connectionLost, message: "could not \(what): \(statusText(reply.library_error))")
        default:
            throw AMQPError(.library, message: "could not \(what): rabbitmq-c gave no reply")
        }
    }

    func checkStatus(_ status: Int32, doing what: String) throws(AMQPError) {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        throw AMQPError(.connectionLost, message: "could not \(what): \(statusText(status))")
    }

    /// Acknowledges a channel.close and opens the channel again. On the data channel, every
    /// unconfirmed publish fails with `error` and consumers are re-created.
    func recoverChannel(_ channel: amqp_channel_t, after error: AMQPError,
                        closing method: amqp_method_t) throws(AMQPError) {
        guard let state = connection else { return }
        sendCloseOk(for: method, channel: channel)
        amqp_channel_open(state, channel)
        try checkReply(amqp_get_rpc_reply(state), on: channel, doing: "re-open channel \(channel)")
        guard channel == Self.dataChannel else { return }
        logger.error("the broker closed the data channel; unconfirmed publishes fail", metadata: ["error": "\(error)"])
        amqp_confirm_select(state, Self.dataChannel)
        try checkReply(amqp_get_rpc_reply(state), on: channel, doing: "turn on publisher confirms")
        let failed = unconfirmed.values
        unconfirmed.removeAll()
        nextPublishTag = 1
        lowestUnconfirmedTag = 1
        for pending in failed { pending.onConfirm?(.failure(error)) }
        generation += 1
        for tag in consumerOrder where consumers[tag]?.noAck == false { consumers[tag]?.onDeliveriesLost?(error) }
        // An auto-delete queue went away with its consumer when the channel closed: declare again.
        for item in topology { try declare(item) }
        for tag in consumerOrder {
            if let record = consumers[tag] { try startConsumer(record) }
        }
    }

    func sendCloseOk(for method: amqp_method_t, channel: amqp_channel_t) {
        guard let state = connection else { return }
        if method.id == UInt32(TRIB_CHANNEL_CLOSE) {
            var ok = amqp_channel_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, channel, UInt32(TRIB_CHANNEL_CLOSE_OK), &ok)
        } else if method.id == UInt32(TRIB_CONNECTION_CLOSE) {
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, UInt32(TRIB_CONNECTION_CLOSE_OK), &ok)
        }
    }

    /// The reply code and text of a channel.close or connection.close method.
    func closeDetails(_ method: amqp_method_t) -> (UInt16?, String?) {
        guard let decoded = method.decoded else { return (nil, nil) }
        if method.id == UInt32(TRIB_CHANNEL_CLOSE) {
            let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            return (close.reply_code, close.reply_text.string)
        }
        if method.id == UInt32(TRIB_CONNECTION_CLOSE) {
            let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            return (close.reply_code, close.reply_text.string)
        }
        return (nil, nil)
    }

    func statusText(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }
}
