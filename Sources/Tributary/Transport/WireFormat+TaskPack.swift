import AMQPClient

/// Task packs (wire version 3): task messages for one queue and one reply queue that a client
/// published at the same time, as one AMQP message on the queue's pack queue
/// (docs/wire-format.md, "Task pack").
extension WireFormat {
    /// The version of a task pack.
    static let taskPackVersion: Int64 = 3
    /// The most tasks one pack holds: small enough that a burst still spreads across workers.
    static let maxTasksPerPack = 8

    /// Several task messages (from ``encode(_:exchange:)``, for one queue and one reply queue) as
    /// one, sent straight to the queue's pack queue: a pack's envelope holds only the count, and
    /// its payload the tasks, each a length and a task's body with its task-run id added to its envelope.
    static func packTasks(_ messages: [OutboundMessage]) -> OutboundMessage {
        let first = messages[0]
        let properties = AMQPProperties(replyTo: first.properties.replyTo, persistent: first.properties.persistent,
                                        headers: taskPackHeader)
        return OutboundMessage(routingKey: AMQPBroker.packQueue(for: first.routingKey), properties: properties,
                               body: packBody(messages, runField: TaskField.taskRun, countField: TaskField.pack),
                               resendAfterReconnect: first.resendAfterReconnect)
    }

    /// The one header of a task pack (and of a dead-lettered entry that is not a valid task).
    static let taskPackHeader: AMQPTable = [Header.wire: .int(taskPackVersion)]

    /// A task pack as a worker reads it: where results go, and each task (or why it is not one).
    struct TaskPack {
        struct Entry {
            let content: Result<TaskMessage, MalformedTask>
            /// The entry's bytes: a task envelope with its task-run id, then the input.
            let body: ArraySlice<UInt8>
        }
        let replyTo: String
        let entries: [Entry]
    }

    /// Decodes a pack taken from Tributary queue `queue`'s pack queue: a task that is not valid is
    /// refused alone, its neighbours decoded; a pack that cannot be split is refused whole.
    static func decodeTaskPack(_ delivery: AMQPDelivery, queue: String) -> Result<TaskPack, MalformedTask> {
        let p = delivery.properties
        func malformed(_ reason: String) -> Result<TaskPack, MalformedTask> {
            .failure(MalformedTask(reason: reason, replyTo: p.replyTo, taskRunID: nil, attempt: 1))
        }
        if let problem = versionProblem(p, expected: taskPackVersion, what: "task pack") { return malformed(problem) }
        guard let replyTo = p.replyTo, !replyTo.isEmpty else { return malformed("missing reply_to") }
        do throws(WireEnvelope.Problem) {
            let envelope = try WireEnvelope(parsing: delivery.body[...], known: TaskField.pack...TaskField.pack)
            guard let count = try envelope.integer(TaskField.pack, "the pack's count") else {
                return malformed("missing the pack's count (envelope field \(TaskField.pack))")
            }
            let bodies = try WireEnvelope.entries(in: envelope.payloadBytes)
            guard count >= 2, count == bodies.count else {
                return malformed("the task pack says it holds \(count) tasks and holds \(bodies.count); a pack holds 2 or more")
            }
            let entries = bodies.enumerated().map { index, body in
                let place = "task \(index + 1) of a pack of \(bodies.count): "
                func refused(_ reason: String, taskRunID: String? = nil) -> TaskPack.Entry {
                    TaskPack.Entry(content: .failure(MalformedTask(reason: place + reason, replyTo: replyTo,
                                                                   taskRunID: taskRunID, attempt: 1)), body: body)
                }
                do throws(WireEnvelope.Problem) {
                    let inner = try WireEnvelope(parsing: body, known: TaskField.all.lowerBound...TaskField.taskRun)
                    guard let runID = try inner.text(TaskField.taskRun, "the task-run id"), !runID.isEmpty else {
                        return refused("missing the task-run id (envelope field \(TaskField.taskRun))")
                    }
                    return TaskPack.Entry(content: task(from: inner, taskRunID: runID, replyTo: replyTo, persistent: p.persistent,
                                                        queue: queue, where: place), body: body)
                } catch {
                    return refused("not a task envelope: \(error.reason)")
                }
            }
            return .success(TaskPack(replyTo: replyTo, entries: entries))
        } catch {
            return malformed("the body is not a task pack envelope: \(error.reason)")
        }
    }
}
