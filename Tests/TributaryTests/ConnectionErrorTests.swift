import AMQPClient
import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Broker connection errors a user sees")
struct ConnectionErrorTests {
    @Test("wrong credentials fail the run within seconds, naming the problem and hiding the password")
    func wrongCredentials() async throws {
        let client = Tributary(broker: "amqp://guest:wrong-secret@localhost:5672/")
        let started = ContinuousClock.now
        let error = await #expect(throws: AMQPError.self) {
            try await client.run(flowNamed: "never") { flow in try await flow.call(Increment.self, 1) }
        }
        #expect(error?.kind == .authenticationFailed)
        #expect(!"\(error!)".contains("wrong-secret"))
        #expect(started.duration(to: .now) < .seconds(30), "within seconds, not a hang (generous for a loaded machine)")
    }

    @Test("an unreachable broker fails the run within seconds, naming host and port")
    func unreachable() async throws {
        let client = Tributary(broker: "amqp://guest:guest@127.0.0.1:1/")
        let started = ContinuousClock.now
        let error = await #expect(throws: AMQPError.self) {
            try await client.run(flowNamed: "never") { flow in try await flow.call(Increment.self, 1) }
        }
        #expect(error?.kind == .unreachable)
        #expect("\(error!)".contains("127.0.0.1:1"))
        #expect(started.duration(to: .now) < .seconds(30), "within seconds, not a hang (generous for a loaded machine)")
    }

    @Test("a worker given a bad broker URL exits with the reason instead of hanging")
    func workerBadURL() async throws {
        let result = try await Command.trib(["worker", "--broker", "amqp://guest:guest@127.0.0.1:1/"])
        #expect(result.status != 0)
        #expect(result.output.contains("cannot reach the broker at 127.0.0.1:1"))
    }
}
