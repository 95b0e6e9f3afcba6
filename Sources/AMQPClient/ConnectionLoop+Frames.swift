import CAMQPShim
import CRabbitMQ
import Foundation

/// A delivery whose method frame has arrived and whose header and body frames are still coming.
struct PartialDelivery {
    let consumerTag: String
    let deliveryTag: UInt64
    let redelivered: Bool
    let exchange: String
    let routingKey: String
    var properties: AMQPProperties?
    var expectedSize = 0
    var body: [UInt8] = []
}

extension ConnectionLoop {
    /// Reads and handles every frame that is already available, without blocking.
    func pumpFrames() throws(AMQPError) {
        guard let state = connection else { return }
        var immediately = timeval(tv_sec: 0, tv_usec: 0)
        while true {
            var frame = amqp_frame_t()
            let status = amqp_simple_wait_frame_noblock(state, &frame, &immediately)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            guard status == AMQP_STATUS_OK.rawValue else {
                throw AMQPError(.connectionLost, message: "the connection to the broker broke: \(statusText(status))")
            }
            try handle(frame)
        }
        if amqp_frames_enqueued(state) == 0 { amqp_maybe_release_buffers(state) }
    }

    private func handle(_ frame: amqp_frame_t) throws(AMQPError) {
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            try handleMethod(frame.payload.method, channel: frame.channel)
        case AMQP_FRAME_HEADER:
            guard frame.channel == Self.dataChannel, var partial = partialDelivery,
                  let decoded = frame.payload.properties.decoded else { return }
            partial.properties = decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee.swiftProperties
            partial.expectedSize = Int(frame.payload.properties.body_size)
            partial.body.reserveCapacity(partial.expectedSize)
            partialDelivery = partial
            if partial.expectedSize == 0 { completeDelivery() }
        case AMQP_FRAME_BODY:
            guard frame.channel == Self.dataChannel, partialDelivery != nil else { return }
            let fragment = frame.payload.body_fragment
            if fragment.len > 0, let bytes = fragment.bytes {
                partialDelivery!.body.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: fragment.len))
            }
            if partialDelivery!.body.count >= partialDelivery!.expectedSize { completeDelivery() }
        default:
            return
        }
    }

    private func handleMethod(_ method: amqp_method_t, channel: amqp_channel_t) throws(AMQPError) {
        guard let decoded = method.decoded else { return }
        switch Int(method.id) {
        case TRIB_BASIC_DELIVER:
            let deliver = decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            partialDelivery = PartialDelivery(consumerTag: deliver.consumer_tag.string,
                                              deliveryTag: deliver.delivery_tag,
                                              redelivered: deliver.redelivered != 0,
                                              exchange: deliver.exchange.string,
                                              routingKey: deliver.routing_key.string)
        case TRIB_BASIC_ACK:
            let ack = decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirm(upTo: ack.delivery_tag, multiple: ack.multiple != 0, with: .success(()))
        case TRIB_BASIC_NACK:
            let nack = decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            let error = AMQPError(.publishRejected, message: "the broker could not take a published message "
                + "(basic.nack); it may be out of disk or memory, or the queue is full")
            confirm(upTo: nack.delivery_tag, multiple: nack.multiple != 0, with: .failure(error))
        case TRIB_BASIC_CANCEL:
            let cancel = decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = cancel.consumer_tag.string
            logger.error("the broker cancelled consumer \(tag) (was its queue deleted?)")
            consumers.removeValue(forKey: tag)?.onEnd()
            consumerOrder.removeAll { $0 == tag }
        case TRIB_CHANNEL_CLOSE:
            let (code, text) = closeDetails(method)
            let error = AMQPError(.channelClosedByBroker, message: "the broker closed channel \(channel)",
                                  replyCode: code, replyText: text)
            try recoverChannel(channel, after: error, closing: method)
        case TRIB_CONNECTION_CLOSE:
            let (code, text) = closeDetails(method)
            sendCloseOk(for: method, channel: 0)
            throw AMQPError(.connectionLost, message: "the broker closed the connection", replyCode: code,
                            replyText: text)
        case TRIB_CONNECTION_BLOCKED:
            logger.warning("the broker blocked this connection (a memory or disk alarm); publishes wait")
        case TRIB_CONNECTION_UNBLOCKED:
            logger.info("the broker unblocked this connection")
        default:
            return
        }
    }

    private func completeDelivery() {
        guard let partial = partialDelivery else { return }
        partialDelivery = nil
        let tag = DeliveryTag(value: partial.deliveryTag, generation: generation)
        guard let consumer = consumers[partial.consumerTag] else {
            // The consumer was cancelled while this message was on its way: give it back, unless
            // the broker counted it delivered already (no-ack), when it is dropped.
            if !cancelledNoAckTags.contains(partial.consumerTag), let state = connection {
                _ = amqp_basic_nack(state, Self.dataChannel, tag.value, 0, 1)
            }
            return
        }
        consumer.onDelivery(AMQPDelivery(tag: tag, redelivered: partial.redelivered, exchange: partial.exchange,
                                           routingKey: partial.routingKey, properties: partial.properties ?? .init(),
                                           body: partial.body))
    }

    /// Resolves confirms: with `multiple`, every publish up to and including `tag`.
    private func confirm(upTo tag: UInt64, multiple: Bool, with result: Result<Void, AMQPError>) {
        if multiple {
            var current = lowestUnconfirmedTag
            while current <= tag {
                unconfirmed.removeValue(forKey: current)?.onConfirm?(result)
                current += 1
            }
            lowestUnconfirmedTag = max(lowestUnconfirmedTag, tag + 1)
        } else {
            unconfirmed.removeValue(forKey: tag)?.onConfirm?(result)
            if tag == lowestUnconfirmedTag {
                while lowestUnconfirmedTag < nextPublishTag && unconfirmed[lowestUnconfirmedTag] == nil {
                    lowestUnconfirmedTag += 1
                }
            }
        }
    }
}
