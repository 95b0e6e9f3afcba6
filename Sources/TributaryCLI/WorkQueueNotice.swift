import Foundation
import Tributary

/// Says on standard error when a submitted flow run waits on a work queue that no agent serves,
/// naming the queue and the command that starts an agent for it.
struct WorkQueueNotice {
    /// How long a run may wait on its queue before the agents are counted.
    static let patience = Duration.seconds(3)

    static func say(workQueue: String, flowRunID: String) {
        let executable = (CommandLine.arguments.first as NSString?)?.lastPathComponent ?? "trib"
        FileHandle.standardError.write(Data(("tributary: no agent takes flow runs from work queue '\(workQueue)'; "
            + "flow run \(flowRunID) waits there until one does. Start one: \(executable) agent --work-queue "
            + "\(workQueue)\n").utf8))
    }

    /// Runs `body` (a wait on `handle`); if the run is still Pending after ``patience`` and its
    /// work queue has no agent, says so once.
    func whileWaiting<T: Sendable>(on handle: FlowRunHandle<[UInt8]>, client: Tributary,
                                   _ body: () async throws -> T) async throws -> T {
        let watcher = Task {
            try? await Task.sleep(for: Self.patience)
            guard !Task.isCancelled, let status = try? await handle.status(), status.state == .pending,
                  let agents = try? await client.agentCount(of: status.workQueue), agents == 0 else { return }
            Self.say(workQueue: status.workQueue, flowRunID: handle.id)
        }
        defer { watcher.cancel() }
        return try await body()
    }
}
