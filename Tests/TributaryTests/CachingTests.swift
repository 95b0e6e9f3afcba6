import Foundation
import Synchronization
import Testing
import Tributary
import TributaryExamples

@Suite("Caching and resume, with real workers over RabbitMQ")
struct CachingTests {
    /// A result store in a directory of the test's own.
    static func temporaryStore() -> LocalResultStore {
        LocalResultStore(directory: FileManager.default.temporaryDirectory
            .appendingPathComponent("trib-results-\(UUID().uuidString)"))
    }

    @Test("re-running a flow that failed half-way skips the completed tasks (they never reach a worker) and resumes at the failure")
    func resumeAfterFailure() async throws {
        let queue = TestBroker.uniqueQueue("resume")
        let store = Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let cached = TaskOptions(queue: queue, cache: .inputs())
        /// extract → transform → load, where load fails on the first run (its API is down).
        @Sendable func pipeline(loadIsDown: Bool) -> @Sendable (FlowContext) async throws -> [String] {
            { flow in
                let extract = await flow.submit(Increment.self, 1, options: cached)
                let transform = await flow.submit(Square.self, try await extract.value, options: cached)
                let load = loadIsDown
                    ? await flow.submit(AlwaysFails.self, "warehouse API down", options: cached)
                    : await flow.submit(Increment.self, try await transform.value, options: cached)
                _ = try await load.value
                return [await extract.state.name, await transform.state.name, await load.state.name]
            }
        }
        let worker = try await WorkerProcess(id: "resume-\(queue.suffix(6))", queue: queue)
        let (first, second, workerLog) = try await withWorkers([worker]) {
            let client = Tributary(broker: TestBroker.url, resultStore: store)
            let first = try? await client.run(flowNamed: "etl", pipeline(loadIsDown: true))
            let second = try await client.run(flowNamed: "etl", pipeline(loadIsDown: false))
            await client.close()
            await worker.stop()
            return (first, second, worker.log)
        }
        #expect(first == nil, "the first run failed at load")
        #expect(second == ["Cached", "Cached", "Completed"], "the re-run resumed at load")
        // The worker's own count: 2 completed + 1 failed in the first run, 1 completed in the second.
        #expect(workerLog.contains("completed=3 ") && workerLog.contains("failed=1 "),
                "skipped tasks never reached the worker:\n\(workerLog)")
    }

    @Test("a cache policy keys by inputs and task version, or by a key of the flow's; an expired result is not reused")
    func keysAndExpiration() async throws {
        let queue = TestBroker.uniqueQueue("cachekeys")
        let store = Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url, resultStore: store)
            func state(_ input: Int, _ cache: CachePolicy) async throws -> String {
                try await client.run(flowNamed: "cache") { flow in
                    let future = await flow.submit(Increment.self, input, options: TaskOptions(queue: queue, cache: cache))
                    _ = try await future.value
                    return await future.state.name
                }
            }
            #expect(try await state(1, .inputs()) == "Completed")
            #expect(try await state(1, .inputs()) == "Cached", "same task, same input")
            #expect(try await state(2, .inputs()) == "Completed", "another input")
            #expect(try await state(1, .inputs(version: "2")) == "Completed", "a new task version")
            #expect(try await state(5, .key("daily-2026-11-22")) == "Completed")
            #expect(try await state(6, .key("daily-2026-11-22")) == "Cached", "the flow's key, whatever the input")
            #expect(try await state(7, .inputs(expiration: .milliseconds(300))) == "Completed")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await state(7, .inputs(expiration: .milliseconds(300))) == "Completed", "expired")
            await client.close()
        }
    }
}
