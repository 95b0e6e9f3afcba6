import AMQPClient

/// Control messages on the wire: `type` is the kind, header `x-trib-flow-run` the flow run, the
/// body the detail as UTF-8 text.
extension WireFormat {
    static let controlContentType = "text/plain; charset=utf-8"

    static func encode(_ control: ControlMessage, exchange: String, routingKey: String) -> OutboundMessage {
        let properties = AMQPProperties(contentType: controlContentType, replyTo: control.replyTo,
                                        type: control.kind.rawValue, headers: [
                                            Header.wire: .int(version),
                                            Header.flowRun: .string(control.flowRunID),
                                        ])
        return OutboundMessage(exchange: exchange, routingKey: routingKey, properties: properties,
                               body: Array(control.detail.utf8))
    }

    static func decodeControl(_ delivery: AMQPDelivery) -> Result<ControlMessage, MalformedTask> {
        let p = delivery.properties
        func malformed(_ reason: String) -> Result<ControlMessage, MalformedTask> {
            .failure(MalformedTask(reason: reason, replyTo: nil, taskRunID: nil, attempt: 0))
        }
        guard p.headers[Header.wire]?.intValue == version else {
            return malformed("missing or unsupported \(Header.wire)")
        }
        guard let kindText = p.type, let kind = ControlMessage.Kind(rawValue: kindText) else {
            return malformed("missing or unknown type (the control message's kind)")
        }
        guard let flowRunID = p.headers[Header.flowRun]?.stringValue, !flowRunID.isEmpty else {
            return malformed("missing \(Header.flowRun)")
        }
        return .success(ControlMessage(kind: kind, flowRunID: flowRunID, detail: String(decoding: delivery.body, as: UTF8.self),
                                       replyTo: p.replyTo))
    }
}
