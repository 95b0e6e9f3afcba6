import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Conditional failure logic, with real workers over RabbitMQ")
struct ConditionalFailureTests {
    @Test("a run waiting with allowingFailure() runs after its upstream failed, and the flow sees the upstream's state")
    func allowFailure() async throws {
        let queue = TestBroker.uniqueQueue("allowfail")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let options = TaskOptions(queue: queue)
            let (strict, tolerant, upstream) = try await client.run(flowNamed: "allow-failure") { flow in
                let extract = await flow.submit(AlwaysFails.self, "source offline", options: options)
                let strict = await flow.submit(Increment.self, 1, waitFor: [extract], options: options)
                let tolerant = await flow.submit(Increment.self, 1, waitFor: [extract.allowingFailure()], options: options)
                return (await strict.state, try await tolerant.value, await extract.state)
            }
            await client.close()
            #expect(strict.name == "Cancelled", "a plain dependency on a failed run is not run")
            #expect(tolerant == 2, "allowingFailure() lets the downstream run")
            #expect(upstream.name == "Failed")
        }
    }

    @Test("a cleanup branch runs only when extract failed")
    func runOnFailure() async throws {
        let queue = TestBroker.uniqueQueue("cleanup")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let options = TaskOptions(queue: queue)
            for extractFails in [true, false] {
                let ranCleanup = try await client.run(flowNamed: "cleanup-branch") { flow in
                    let extract = extractFails
                        ? await flow.submit(AlwaysFails.self, "bad file", options: options)
                        : await flow.submit(Increment.self, 1, options: options)
                    if await extract.state.isFailure {
                        _ = try await flow.call(Increment.self, 100, options: options)
                        return true
                    }
                    return false
                }
                #expect(ranCleanup == extractFails)
            }
            await client.close()
        }
    }

    @Test("a flow whose body returns but leaves a failed run unlooked-at is Failed; looking at it makes it Completed")
    func unhandledFailureFailsTheFlow() async throws {
        let queue = TestBroker.uniqueQueue("unhandled")
        try await withWorkers(1, queue: queue) { _ in
            let client = Tributary(broker: TestBroker.url)
            let options = TaskOptions(queue: queue)
            let error = await #expect(throws: UnhandledTaskFailures.self) {
                try await client.run(flowNamed: "forgets-a-failure") { flow in
                    _ = await flow.submit(AlwaysFails.self, "nobody checks me", options: options)
                    return try await flow.call(Increment.self, 1, options: options)
                }
            }
            #expect(error?.failures.map(\.taskName) == ["always-fails"])
            #expect(error?.description.contains("nobody checks me") == true)

            let handled = try await client.run(flowNamed: "checks-its-failure") { flow in
                let risky = await flow.submit(AlwaysFails.self, "checked", options: options)
                return await risky.state.name
            }
            #expect(handled == "Failed")
            await client.close()
        }
    }
}
