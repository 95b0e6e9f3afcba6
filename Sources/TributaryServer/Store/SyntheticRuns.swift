import Foundation
import Tributary

/// Large stores for measuring the API and the UI at scale: writes runs straight into a store, as
/// their events would, without running them.
public enum SyntheticRuns {
    /// One flow run `id` of `taskRuns` task runs that ended an hour ago: 8 workers, 3 task names,
    /// one task run started every 10 ms, every 50th Failed. Returns the events it wrote.
    @discardableResult
    public static func bigRun(_ id: String, taskRuns: Int, into store: any RunStore) async throws -> Int {
        let start = Date().timeIntervalSince1970 - 3_600 - Double(taskRuns) / 100
        var written = 0
        var batch = [RunEvent(kind: .flowRun, flowRunID: id, name: "big-fanout", state: "Running", sequence: 1, time: start)]
        for index in 0..<taskRuns {
            let taskRunID = "\(id).\(index)", begun = start + Double(index) / 100, name = ["square", "train", "score"][index % 3]
            let worker = "worker-\(index % 8)"
            batch.append(RunEvent(kind: .taskRun, flowRunID: id, taskRunID: taskRunID, name: name, state: "Running",
                                  attempt: 1, worker: worker, sequence: 2, time: begun))
            batch.append(RunEvent(kind: .taskRun, flowRunID: id, taskRunID: taskRunID, name: name,
                                  state: index % 50 == 0 ? "Failed" : "Completed", attempt: 1, worker: worker,
                                  sequence: 3, time: begun + Double(index % 17) / 10))
            if batch.count >= 20_000 {
                try await store.record(batch)
                written += batch.count
                batch.removeAll(keepingCapacity: true)
            }
        }
        batch.append(RunEvent(kind: .flowRun, flowRunID: id, name: "big-fanout", state: "Completed", sequence: 4,
                              time: start + Double(taskRuns) / 100 + 2))
        try await store.record(batch)
        return written + batch.count
    }
}
