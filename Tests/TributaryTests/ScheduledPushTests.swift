import Foundation
import Logging
import Testing
import Tributary
import TributaryExamples
@testable import TributaryServer

/// The scheduler's push of a due run, over the real broker to a real agent process: a run's board
/// is made ahead with the run Pending on it, so a push at its time is one publish; a run whose
/// push may or may not have gone out (its server died, a confirm was lost) is pushed again, and
/// still starts once.
@Suite("Scheduled pushes: prepared ahead, pushed again after a lost push, started once", .timeLimit(.minutes(1)))
struct ScheduledPushTests {
    /// What goes wrong with a first push, as a server dying mid-push would leave it.
    enum FirstPush: Sendable {
        /// The server died after making the run's board (Pending on it), before publishing the run.
        case diesBeforePublishing
        /// The run went out, but its confirm was lost: the scheduler cannot tell it went out.
        case confirmLost
    }

    struct LostPush: Error {}

    /// A deployment of `checkpoint` on `workQueue` with one run due now, in a SQLite store of its own;
    /// a scheduler over it whose first push of a run fails as `firstPush` says, and whose later
    /// pushes go as the server's do.
    struct Setup {
        let store: any RunStore
        let path: String
        let client: Tributary
        let scheduler: Scheduler
        let flowRunID: String

        static func start(workQueue: String, label: String, firstPush: FirstPush, dueIn: Double = 0,
                          failFirstPush: Bool = true) async throws -> Setup {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("trib-push-\(UUID().uuidString).db").path
            let store = try SQLiteRunStore(path: path)
            let deployment = try await store.saveDeployment(
                DeploymentSpec(name: "push-\(workQueue.suffix(6))", flow: Checkpoint.name,
                               parameters: .object(["label": .string(label)]), workQueue: workQueue),
                at: Date().timeIntervalSince1970)
            let now = Date().timeIntervalSince1970 + dueIn
            let flowRunID = Scheduler.flowRunID(deployment, at: now)
            try await store.addScheduledRuns([NewScheduledRun(flowRunID: flowRunID, scheduledAt: now,
                                                              parameters: deployment.parameters, origin: "schedule")],
                                             deployment: deployment, through: nil, ifUnchanged: false)
            let client = Tributary(broker: TestBroker.url)
            let server = Pusher.client(client)
            let pusher = Pusher(prepare: server.prepare, push: { run, input, first in
                guard first && failFirstPush else { return try await server.push(run, input, first) }
                if case .confirmLost = firstPush { try await server.push(run, input, first) }
                throw LostPush()
            })
            let scheduler = Scheduler(store: store, pusher: pusher, wakeups: AsyncStream { _ in },
                                      logger: Logger(label: "test-scheduler"))
            return Setup(store: store, path: path, client: client, scheduler: scheduler, flowRunID: flowRunID)
        }

        /// One push pass, now.
        func push() async throws -> Int {
            try await scheduler.push(now: Date().timeIntervalSince1970, missed: nil)
        }


        func dispose() async {
            await client.close()
            await store.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }

    @Test("a first push that failed is pushed again: the run starts once, whether or not its first copy went out",
          arguments: [FirstPush.diesBeforePublishing, .confirmLost])
    func pushedAgainStartsOnce(firstPush: FirstPush) async throws {
        let workQueue = TestBroker.uniqueQueue("repush")
        let setup = try await Setup.start(workQueue: workQueue, label: "again", firstPush: firstPush)
        try await disposing({ await setup.dispose() }) {
            #expect(try await setup.push() == 0, "the first push failed")
            let handle = setup.client.flowRun(id: setup.flowRunID, of: Checkpoint.self)
            #expect(try await handle.state == .pending, "its board was made ahead, with the run Pending on it")
            #expect(try await setup.push() == 1, "its claim handed back, it is pushed again")
            // Only now an agent comes: with the lost confirm, both copies wait on the work queue for it.
            let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue)
            try await withWorkers([agent]) { () async throws in
                #expect(try await handle.result() == Checkpoint.Output(label: "again", ok: true))
                if case .confirmLost = firstPush {
                    try await agent.waitForLog(containing: "dropped a second copy of a flow run's message",
                                               within: .seconds(30))
                }
                #expect(agent.logLines(containing: "flow run started") == 1, "\(agent.log)")
            }
        }
    }

    @Test("a run an agent has taken is not pushed again when its claim comes back: its board says it was taken")
    func takenRunNotPushedAgain() async throws {
        let workQueue = TestBroker.uniqueQueue("taken")
        let setup = try await Setup.start(workQueue: workQueue, label: "taken", firstPush: .confirmLost)
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue)
        try await disposing({ await setup.dispose() }) {
            try await withWorkers([agent]) { () async throws in
                #expect(try await setup.push() == 0, "the first push went out, but its confirm was lost")
                let handle = setup.client.flowRun(id: setup.flowRunID, of: Checkpoint.self)
                #expect(try await handle.result() == Checkpoint.Output(label: "taken", ok: true))
                #expect(try await setup.push() == 1, "its claim handed back, the push is settled without a second copy")
                try await Task.sleep(for: .seconds(1))
                #expect(agent.logLines(containing: "flow run started") == 1)
                #expect(agent.logLines(containing: "discarded") == 0 && agent.logLines(containing: "dropped") == 0,
                        "no second copy reached the agent: \(agent.log)")
            }
        }
    }

    @Test("a run due in seconds reads Pending from its board before its time, and at its time runs once")
    func preparedAhead() async throws {
        let workQueue = TestBroker.uniqueQueue("ahead")
        // The agent first: its start can take seconds on a busy machine, and the run's time counts from the setup.
        let agent = try await WorkerProcess.agent(id: "a-\(workQueue.suffix(6))", workQueue: workQueue)
        let setup = try await disposingOnFailure({ await agent.stop() }) {
            try await Setup.start(workQueue: workQueue, label: "ahead", firstPush: .confirmLost, dueIn: 8,
                                  failFirstPush: false)
        }
        try await disposing({ await setup.dispose() }) {
            try await withWorkers([agent]) { () async throws in
                let scheduler = Task { try await setup.scheduler.run() }
                defer { scheduler.cancel() }
                let handle = setup.client.flowRun(id: setup.flowRunID, of: Checkpoint.self)
                try await waitUntil("its board made ahead", within: .seconds(6)) { (try? await handle.state) == .pending }
                #expect(agent.logLines(containing: "flow run started") == 0, "not before its time")
                #expect(try await handle.result() == Checkpoint.Output(label: "ahead", ok: true))
                #expect(agent.logLines(containing: "flow run started") == 1)
            }
        }
    }
}
