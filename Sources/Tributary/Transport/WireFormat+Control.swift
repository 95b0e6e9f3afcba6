import AMQPClient

/// Control messages on the wire: `type` is the kind, header `x-trib-flow-run` the flow run, the
/// body the detail as UTF-8 text.
extension WireFormat {
    static let controlContentType = "text/plain; charset=utf-8"

    static func encode(_ control: ControlMessage, exchange: String, routingKey: String) -> OutboundMessage {
        var properties = AMQPProperties(contentType: controlContentType, replyTo: control.replyTo,
                                        type: control.kind.rawValue, headers: [
                                            Header.wire: .int(version),
                                            Header.flowRun: .string(control.flowRunID),
                                        ])
        if let taskRunID = control.taskRunID { properties.headers[Header.taskRun] = .string(taskRunID) }
        if let attempt = control.attempt { properties.headers[Header.attempt] = .int(Int64(attempt)) }
        if let epoch = control.epoch { properties.headers[Header.epoch] = .int(Int64(epoch)) }
        return OutboundMessage(exchange: exchange, routingKey: routingKey, properties: properties,
                               body: Array(control.detail.utf8))
    }

    static func decodeControl(_ delivery: AMQPDelivery) -> Result<ControlMessage, MalformedTask> {
        let p = delivery.properties
        func malformed(_ reason: String) -> Result<ControlMessage, MalformedTask> {
            .failure(MalformedTask(reason: reason, replyTo: nil, taskRunID: nil, attempt: 0))
        }
        if let problem = versionProblem(p, expected: version, what: "control message") { return malformed(problem) }
        guard let kindText = p.type, let kind = ControlMessage.Kind(rawValue: kindText) else {
            return malformed("missing or unknown type (the control message's kind)")
        }
        guard let flowRunID = p.headers[Header.flowRun]?.stringValue, !flowRunID.isEmpty else {
            return malformed("missing \(Header.flowRun)")
        }
        let taskRunID = p.headers[Header.taskRun]?.stringValue
        let attempt = p.headers[Header.attempt]?.intValue.map { Int(clamping: $0) }
        if kind == .discardTaskAttempt, taskRunID == nil || attempt == nil {
            return malformed("\(kind.rawValue) needs headers \(Header.taskRun) and \(Header.attempt)")
        }
        let epoch = p.headers[Header.epoch]?.intValue.map { Int(clamping: $0) }
        if kind == .fenceFlowRun, (epoch ?? 0) < 1 {
            return malformed("\(kind.rawValue) needs header \(Header.epoch), an integer from 1")
        }
        return .success(ControlMessage(kind: kind, flowRunID: flowRunID, detail: String(decoding: delivery.body, as: UTF8.self),
                                       replyTo: p.replyTo, taskRunID: taskRunID, attempt: attempt, epoch: epoch))
    }
}
