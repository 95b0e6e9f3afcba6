import AMQPClient

/// Maps task and result messages to AMQP messages and back (docs/wire-format.md). Decoding never
/// traps: a message that is not valid says why.
enum WireFormat {
    /// The version of the control, flow-run, status and event messages.
    static let version: Int64 = 1
    /// The version of task and result messages. 2: their fields are in a body envelope
    /// (``WireEnvelope``) rather than in AMQP properties and headers.
    static let taskVersion: Int64 = 2
    static let contentType = "application/json"

    enum Header {
        static let wire = "x-trib-wire"
        static let attempt = "x-trib-attempt"
        static let flowRun = "x-trib-flow-run"
        static let taskRun = "x-trib-task-run"
        static let epoch = "x-trib-epoch"
    }

    /// The fields of a task message's envelope (``WireEnvelope``).
    enum TaskField {
        static let name: UInt8 = 1
        static let flowRun: UInt8 = 2
        static let attempt: UInt8 = 3
        static let timeoutMs: UInt8 = 4
        static let reportRunning: UInt8 = 5
        static let deliveries: UInt8 = 6
        static let epoch: UInt8 = 7
        /// A task in a pack: its task-run id (a single task has it as its correlation id).
        static let taskRun: UInt8 = 8
        /// A pack of tasks: how many it holds (the only field of a pack's own envelope).
        static let pack: UInt8 = 9
        /// The fields of a single task message.
        static let all: ClosedRange<UInt8> = 1...7
    }

    /// The fields of a result message's envelope.
    enum ResultField {
        static let status: UInt8 = 1
        static let attempt: UInt8 = 2
        static let worker: UInt8 = 3
        static let started: UInt8 = 4
        static let logs: UInt8 = 5
        static let artifacts: UInt8 = 6
        /// A pack of results: how many it holds (the only field of a pack's own envelope).
        static let pack: UInt8 = 7
        /// A result in a pack: its task-run id (a single result has it as its correlation id).
        static let taskRun: UInt8 = 8
        /// A returned attempt: the delivery count to send it again with.
        static let deliveries: UInt8 = 9
        /// A returned attempt of a submitted run: the take of the run that sent it.
        static let epoch: UInt8 = 10
        static let all: ClosedRange<UInt8> = 1...10
    }

    /// Packs results for one reply queue that a worker published at the same time (see
    /// ``MessagePacker``): up to 64, and 256 KiB of bodies.
    static let resultPacker = MessagePacker(maxMessages: 64, maxBytes: 256 * 1024) { packResults($0) }

    /// Several result messages (from ``encode(_:replyTo:)``, to one reply queue) as one: a pack's
    /// envelope holds only the count, and its payload the results, each a length and a result's
    /// body with its task-run id added to its envelope.
    static func packResults(_ messages: [OutboundMessage]) -> OutboundMessage {
        OutboundMessage(exchange: messages[0].exchange, routingKey: messages[0].routingKey,
                        properties: AMQPProperties(persistent: messages[0].properties.persistent, headers: versionHeader),
                        body: packBody(messages, runField: ResultField.taskRun, countField: ResultField.pack),
                        resendAfterReconnect: messages[0].resendAfterReconnect)
    }

    /// The body of a pack of `messages` (task or result messages): an envelope with only
    /// `countField`, then each message's body as an entry, with its task-run id (its correlation
    /// id) added to its envelope as `runField`.
    static func packBody(_ messages: [OutboundMessage], runField: UInt8, countField: UInt8) -> [UInt8] {
        var entries: [UInt8] = []
        entries.reserveCapacity(messages.reduce(0) { $0 + $1.body.count + 64 })
        for message in messages {
            var entry = WireEnvelope.Writer(capacity: 48 + message.body.count)
            entry.text(runField, message.properties.correlationID ?? "")
            WireEnvelope.appendEntry(entry.bytes, message.body, to: &entries)
        }
        var envelope = WireEnvelope.Writer(capacity: 8 + entries.count)
        envelope.integer(countField, UInt64(messages.count))
        return envelope.finish(payload: entries)
    }

    /// The frame carries only what routing, results and dead letters need (the task-run id, where
    /// results go, persistence) and the wire version; the rest travels in the body's envelope.
    static func encode(_ task: TaskMessage, exchange: String) -> OutboundMessage {
        var envelope = WireEnvelope.Writer(capacity: 48 + task.taskName.utf8.count + task.flowRunID.utf8.count
                                               + task.input.count)
        envelope.text(TaskField.name, task.taskName)
        envelope.text(TaskField.flowRun, task.flowRunID)
        envelope.integer(TaskField.attempt, UInt64(task.attempt))
        if let timeout = task.timeout { envelope.integer(TaskField.timeoutMs, UInt64(max(1, timeout.wholeMilliseconds))) }
        if task.reportRunning { envelope.flag(TaskField.reportRunning) }
        if task.deliveries > 1 { envelope.integer(TaskField.deliveries, UInt64(task.deliveries)) }
        if let epoch = task.epoch { envelope.integer(TaskField.epoch, UInt64(epoch)) }
        let properties = AMQPProperties(correlationID: task.taskRunID, replyTo: task.replyTo, persistent: task.persistent,
                                        headers: versionHeader)
        // A submitted run's coordinator re-checks that the run is still its own before it re-sends.
        return OutboundMessage(exchange: exchange, routingKey: task.queue, properties: properties,
                               body: envelope.finish(payload: task.input), resendAfterReconnect: task.epoch == nil)
    }

    /// The one header of a task or result message.
    private static let versionHeader: AMQPTable = [Header.wire: .int(taskVersion)]

    /// Why a message of another wire version (or none) cannot be read here, or nil: `expected` is
    /// the version this process writes for `what`.
    static func versionProblem(_ properties: AMQPProperties, expected: Int64, what: String) -> String? {
        guard let wire = properties.headers[Header.wire] else {
            return "missing header \(Header.wire); not a Tributary \(what)"
        }
        guard wire.intValue == expected else {
            return "unsupported wire version \(wire.intValue.map(String.init) ?? "\(wire)") (header \(Header.wire)); "
                + "this process reads version \(expected) of a \(what): run workers, agents and clients of the same "
                + "Tributary release"
        }
        return nil
    }

    /// Decodes a task taken from Tributary queue `queue` (its routing key when published; a held
    /// copy that came back carries another).
    static func decodeTask(_ delivery: AMQPDelivery, queue: String) -> Result<TaskMessage, MalformedTask> {
        let p = delivery.properties
        let runID = p.correlationID ?? p.messageID
        func malformed(_ reason: String) -> Result<TaskMessage, MalformedTask> {
            .failure(MalformedTask(reason: reason, replyTo: p.replyTo, taskRunID: runID, attempt: 1))
        }
        if let problem = versionProblem(p, expected: taskVersion, what: "task message") { return malformed(problem) }
        guard let runID, !runID.isEmpty else { return malformed("missing correlation_id (the task-run id)") }
        guard let replyTo = p.replyTo, !replyTo.isEmpty else { return malformed("missing reply_to") }
        do throws(WireEnvelope.Problem) {
            let envelope = try WireEnvelope(parsing: delivery.body[...], known: TaskField.all)
            return task(from: envelope, taskRunID: runID, replyTo: replyTo, persistent: p.persistent, queue: queue, where: "")
        } catch {
            return malformed("the body is not a task envelope: \(error.reason)")
        }
    }

    /// The task in `envelope` (a single task message's, or a pack's entry); `place` starts a
    /// refusal's reason (which task of a pack).
    static func task(from envelope: WireEnvelope, taskRunID runID: String, replyTo: String, persistent: Bool,
                     queue: String, where place: String) -> Result<TaskMessage, MalformedTask> {
        var attempt = 1
        func malformed(_ reason: String) -> Result<TaskMessage, MalformedTask> {
            .failure(MalformedTask(reason: place + reason, replyTo: replyTo, taskRunID: runID, attempt: attempt))
        }
        do throws(WireEnvelope.Problem) {
            guard let number = try envelope.integer(TaskField.attempt, "the attempt"), (1...1_000_000).contains(number) else {
                return malformed("the attempt (envelope field \(TaskField.attempt)) must be an integer from 1 to 1000000")
            }
            attempt = Int(number)
            guard let name = try envelope.text(TaskField.name, "the task name"), !name.isEmpty else {
                return malformed("missing the task name (envelope field \(TaskField.name))")
            }
            var timeout: Duration?
            if let ms = try envelope.integer(TaskField.timeoutMs, "the timeout") {
                guard (1...UInt64(Int64.max / 1_000_000)).contains(ms) else {
                    return malformed("the timeout (envelope field \(TaskField.timeoutMs)) must be a positive number of milliseconds")
                }
                timeout = .milliseconds(Int64(ms))
            }
            let deliveries = try envelope.integer(TaskField.deliveries, "the delivery count") ?? 1
            guard (1...1_000_000).contains(deliveries) else {
                return malformed("the delivery count (envelope field \(TaskField.deliveries)) must be an integer from 1 to 1000000")
            }
            var epoch: Int?
            if let number = try envelope.integer(TaskField.epoch, "the epoch") {
                guard (1...UInt64(Int.max)).contains(number) else {
                    return malformed("the epoch (envelope field \(TaskField.epoch)) must be an integer from 1")
                }
                epoch = Int(number)
            }
            return .success(TaskMessage(taskRunID: runID, flowRunID: try envelope.text(TaskField.flowRun, "the flow-run id") ?? "",
                                        taskName: name, queue: queue, attempt: attempt,
                                        timeout: timeout, replyTo: replyTo, persistent: persistent,
                                        reportRunning: envelope.has(TaskField.reportRunning),
                                        deliveries: Int(deliveries), epoch: epoch, input: envelope.payload))
        } catch {
            return malformed("the body is not a task envelope: \(error.reason)")
        }
    }

    static func encode(_ result: ResultMessage, replyTo: String) -> OutboundMessage {
        var envelope = WireEnvelope.Writer(capacity: 48 + result.workerID.utf8.count + result.body.count)
        envelope.text(ResultField.status, result.status.rawValue)
        envelope.integer(ResultField.attempt, UInt64(result.attempt))
        envelope.text(ResultField.worker, result.workerID)
        if let startedAt = result.startedAt { envelope.double(ResultField.started, startedAt) }
        if !result.logs.isEmpty, let logs = try? WireJSON.encode(result.logs) { envelope.bytes(ResultField.logs, logs) }
        if !result.artifacts.isEmpty, let artifacts = try? WireJSON.encode(result.artifacts) {
            envelope.bytes(ResultField.artifacts, artifacts)
        }
        if result.status == .returned { envelope.integer(ResultField.deliveries, UInt64(result.deliveries)) }
        if let epoch = result.epoch { envelope.integer(ResultField.epoch, UInt64(epoch)) }
        let properties = AMQPProperties(correlationID: result.taskRunID, headers: versionHeader)
        return OutboundMessage(routingKey: replyTo, properties: properties, body: envelope.finish(payload: result.body))
    }

    /// Decodes a result message, or each result of a pack: a pack's result that is not valid is
    /// refused alone, its neighbours decoded.
    static func decodeResults(_ delivery: AMQPDelivery) -> [Result<ResultMessage, MalformedTask>] {
        let p = delivery.properties
        func malformed(_ reason: String) -> [Result<ResultMessage, MalformedTask>] {
            [.failure(MalformedTask(reason: reason, replyTo: nil, taskRunID: p.correlationID, attempt: 0))]
        }
        if let problem = versionProblem(p, expected: taskVersion, what: "result message") {
            // Version 1 named the attempt in a header: the coordinator can end that attempt with the
            // reason (its worker, of another release, will not answer in a way it can read).
            let attempt = Int(clamping: p.headers[Header.attempt]?.intValue ?? 0)
            return [.failure(MalformedTask(reason: problem, replyTo: nil, taskRunID: p.correlationID, attempt: attempt))]
        }
        do throws(WireEnvelope.Problem) {
            let envelope = try WireEnvelope(parsing: delivery.body[...], known: ResultField.all)
            guard let count = try envelope.integer(ResultField.pack, "the pack's count") else {
                guard let runID = p.correlationID, !runID.isEmpty else { return malformed("missing correlation_id") }
                return [result(from: envelope, taskRunID: runID, where: "")]
            }
            guard ResultField.all.allSatisfy({ $0 == ResultField.pack || !envelope.has($0) })
            else { return malformed("a result pack's envelope holds only its count (field \(ResultField.pack))") }
            guard count >= 2 else { return malformed("a result pack holds 2 results or more; this one says \(count)") }
            let entries = try WireEnvelope.entries(in: envelope.payloadBytes)
            guard count == entries.count else {
                return malformed("the result pack says it holds \(count) results and holds \(entries.count)")
            }
            return entries.enumerated().map { index, entry in
                let place = "result \(index + 1) of a pack of \(entries.count): "
                func refused(_ reason: String) -> Result<ResultMessage, MalformedTask> {
                    .failure(MalformedTask(reason: place + reason, replyTo: nil, taskRunID: nil, attempt: 0))
                }
                do throws(WireEnvelope.Problem) {
                    let inner = try WireEnvelope(parsing: entry, known: ResultField.all)
                    guard !inner.has(ResultField.pack) else { return refused("a pack inside a pack") }
                    guard let runID = try inner.text(ResultField.taskRun, "the task-run id"), !runID.isEmpty else {
                        return refused("missing the task-run id (envelope field \(ResultField.taskRun))")
                    }
                    return result(from: inner, taskRunID: runID, where: place)
                } catch {
                    return refused("not a result envelope: \(error.reason)")
                }
            }
        } catch {
            return malformed("the body is not a result envelope: \(error.reason)")
        }
    }

    /// The result in `envelope`; `place` starts a refusal's reason (which result of a pack).
    private static func result(from envelope: WireEnvelope, taskRunID runID: String,
                               where place: String) -> Result<ResultMessage, MalformedTask> {
        func malformed(_ reason: String) -> Result<ResultMessage, MalformedTask> {
            .failure(MalformedTask(reason: place + reason, replyTo: nil, taskRunID: runID, attempt: 0))
        }
        do throws(WireEnvelope.Problem) {
            guard let statusText = try envelope.text(ResultField.status, "the status"),
                  let status = ResultStatus(rawValue: statusText)
            else { return malformed("missing or unknown status (envelope field \(ResultField.status))") }
            guard let attempt = try envelope.integer(ResultField.attempt, "the attempt"), (1...1_000_000).contains(attempt) else {
                return malformed("the attempt (envelope field \(ResultField.attempt)) must be an integer from 1 to 1000000")
            }
            // Logs and artifacts are a courtesy: a field that does not decode loses them, not the result.
            let logs = envelope.bytes(ResultField.logs).flatMap { try? WireJSON.decode([TaskLogRecord].self, from: $0) } ?? []
            let artifacts = envelope.bytes(ResultField.artifacts)
                .flatMap { try? WireJSON.decode([PublishedArtifact].self, from: $0) } ?? []
            let startedAt = try envelope.double(ResultField.started, "the start time").flatMap { $0.isFinite ? $0 : nil }
            let deliveries = try envelope.integer(ResultField.deliveries, "the delivery count") ?? 1
            guard (1...1_000_000).contains(deliveries) else {
                return malformed("the delivery count (envelope field \(ResultField.deliveries)) must be an integer from 1 to 1000000")
            }
            let epoch = try envelope.integer(ResultField.epoch, "the epoch")
            guard epoch.map({ (1...UInt64(Int.max)).contains($0) }) ?? true else {
                return malformed("the epoch (envelope field \(ResultField.epoch)) must be an integer from 1")
            }
            return .success(ResultMessage(taskRunID: runID, attempt: Int(attempt), status: status,
                                          workerID: try envelope.text(ResultField.worker, "the worker id") ?? "unknown",
                                          body: envelope.payload, logs: logs, artifacts: artifacts, startedAt: startedAt,
                                          deliveries: Int(deliveries), epoch: epoch.map { Int($0) }))
        } catch {
            return malformed("the body is not a result envelope: \(error.reason)")
        }
    }
}
