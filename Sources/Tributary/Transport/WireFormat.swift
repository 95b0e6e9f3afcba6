import AMQPClient

/// Maps task and result messages to AMQP messages and back (docs/wire-format.md). Decoding never
/// traps: a message that is not valid says why.
enum WireFormat {
    static let version: Int64 = 1
    static let contentType = "application/json"

    enum Header {
        static let wire = "x-trib-wire"
        static let attempt = "x-trib-attempt"
        static let flowRun = "x-trib-flow-run"
        static let timeoutMs = "x-trib-timeout-ms"
        static let reportRunning = "x-trib-report-running"
        static let deliveries = "x-trib-deliveries"
        static let status = "x-trib-status"
        static let worker = "x-trib-worker"
        static let logs = "x-trib-logs"
        static let artifacts = "x-trib-artifacts"
        static let started = "x-trib-started"
        static let taskRun = "x-trib-task-run"
        static let epoch = "x-trib-epoch"
    }

    static func encode(_ task: TaskMessage, exchange: String) -> OutboundMessage {
        var headers: AMQPTable = [
            Header.wire: .int(version),
            Header.attempt: .int(Int64(task.attempt)),
            Header.flowRun: .string(task.flowRunID),
        ]
        if let timeout = task.timeout { headers[Header.timeoutMs] = .int(timeout.wholeMilliseconds) }
        if task.reportRunning { headers[Header.reportRunning] = .bool(true) }
        if task.deliveries > 1 { headers[Header.deliveries] = .int(Int64(task.deliveries)) }
        if let epoch = task.epoch { headers[Header.epoch] = .int(Int64(epoch)) }
        let properties = AMQPProperties(contentType: contentType, correlationID: task.taskRunID,
                                        replyTo: task.replyTo, messageID: task.taskRunID, type: task.taskName,
                                        persistent: task.persistent, headers: headers)
        // A submitted run's coordinator re-checks that the run is still its own before it re-sends.
        return OutboundMessage(exchange: exchange, routingKey: task.queue, properties: properties, body: task.input,
                               resendAfterReconnect: task.epoch == nil)
    }

    /// Decodes a task taken from Tributary queue `queue` (its routing key when published; a held
    /// copy that came back carries another).
    static func decodeTask(_ delivery: AMQPDelivery, queue: String) -> Result<TaskMessage, MalformedTask> {
        let p = delivery.properties
        let runID = p.messageID ?? p.correlationID
        func malformed(_ reason: String) -> Result<TaskMessage, MalformedTask> {
            .failure(MalformedTask(reason: reason, replyTo: p.replyTo, taskRunID: runID,
                                   attempt: Int(p.headers[Header.attempt]?.intValue ?? 1)))
        }
        guard let wire = p.headers[Header.wire] else {
            return malformed("missing header \(Header.wire); not a Tributary task message")
        }
        guard wire.intValue == version else {
            return malformed("unsupported wire version \(wire); this worker speaks version \(version)")
        }
        guard let runID, !runID.isEmpty else { return malformed("missing message_id (the task-run id)") }
        guard let name = p.type, !name.isEmpty else { return malformed("missing type (the task name)") }
        guard let replyTo = p.replyTo, !replyTo.isEmpty else { return malformed("missing reply_to") }
        guard let attempt = p.headers[Header.attempt]?.intValue, (1...1_000_000).contains(attempt) else {
            return malformed("header \(Header.attempt) must be an integer from 1")
        }
        var timeout: Duration?
        if let value = p.headers[Header.timeoutMs] {
            guard let ms = value.intValue, ms > 0 else {
                return malformed("header \(Header.timeoutMs) must be a positive integer")
            }
            timeout = .milliseconds(ms)
        }
        if let type = p.contentType, type != contentType {
            return malformed("content type '\(type)' is not \(contentType)")
        }
        let reportRunning: Bool
        if case .bool(let b)? = p.headers[Header.reportRunning] { reportRunning = b } else { reportRunning = false }
        let deliveries = Int(clamping: p.headers[Header.deliveries]?.intValue ?? 1)
        guard (1...1_000_000).contains(deliveries) else {
            return malformed("header \(Header.deliveries) must be an integer from 1 to 1000000")
        }
        var epoch: Int?
        if let value = p.headers[Header.epoch] {
            guard let number = value.intValue, number >= 1 else {
                return malformed("header \(Header.epoch) must be an integer from 1")
            }
            epoch = Int(clamping: number)
        }
        return .success(TaskMessage(taskRunID: runID, flowRunID: p.headers[Header.flowRun]?.stringValue ?? "",
                                    taskName: name, queue: queue, attempt: Int(attempt),
                                    timeout: timeout, replyTo: replyTo, persistent: p.persistent,
                                    reportRunning: reportRunning, deliveries: deliveries, epoch: epoch,
                                    input: delivery.body))
    }

    static func encode(_ result: ResultMessage, replyTo: String) -> OutboundMessage {
        var properties = AMQPProperties(contentType: contentType, correlationID: result.taskRunID, headers: [
            Header.wire: .int(version),
            Header.status: .string(result.status.rawValue),
            Header.attempt: .int(Int64(result.attempt)),
            Header.worker: .string(result.workerID),
        ])
        if !result.logs.isEmpty, let logs = try? WireJSON.encode(result.logs) {
            properties.headers[Header.logs] = .bytes(logs)
        }
        if !result.artifacts.isEmpty, let artifacts = try? WireJSON.encode(result.artifacts) {
            properties.headers[Header.artifacts] = .bytes(artifacts)
        }
        if let startedAt = result.startedAt { properties.headers[Header.started] = .double(startedAt) }
        return OutboundMessage(routingKey: replyTo, properties: properties, body: result.body)
    }

    static func decodeResult(_ delivery: AMQPDelivery) -> Result<ResultMessage, MalformedTask> {
        let p = delivery.properties
        func malformed(_ reason: String) -> Result<ResultMessage, MalformedTask> {
            .failure(MalformedTask(reason: reason, replyTo: nil, taskRunID: p.correlationID, attempt: 0))
        }
        guard p.headers[Header.wire]?.intValue == version else {
            return malformed("missing or unsupported \(Header.wire)")
        }
        guard let runID = p.correlationID, !runID.isEmpty else { return malformed("missing correlation_id") }
        guard let statusText = p.headers[Header.status]?.stringValue, let status = ResultStatus(rawValue: statusText)
        else { return malformed("missing or unknown \(Header.status)") }
        guard let attempt = p.headers[Header.attempt]?.intValue, attempt >= 1 else {
            return malformed("missing \(Header.attempt)")
        }
        // Logs are a courtesy: a header that does not decode loses them, not the result.
        var logs: [TaskLogRecord] = []
        if case .bytes(let bytes)? = p.headers[Header.logs] {
            logs = (try? WireJSON.decode([TaskLogRecord].self, from: bytes)) ?? []
        }
        var startedAt: Double?
        if case .double(let seconds)? = p.headers[Header.started], seconds.isFinite { startedAt = seconds }
        var artifacts: [PublishedArtifact] = []
        if case .bytes(let bytes)? = p.headers[Header.artifacts] {
            artifacts = (try? WireJSON.decode([PublishedArtifact].self, from: bytes)) ?? []
        }
        return .success(ResultMessage(taskRunID: runID, attempt: Int(attempt), status: status,
                                      workerID: p.headers[Header.worker]?.stringValue ?? "unknown", body: delivery.body,
                                      logs: logs, artifacts: artifacts, startedAt: startedAt))
    }
}
