import Foundation
import Testing
import Tributary
import TributaryExamples

@Suite("Tenants and secrets", .serialized)
struct IsolationTests {
    @Test("workers on separate vhosts never see each other's tasks, even on a queue of the same name")
    func vhostsIsolate() async throws {
        let queue = TestBroker.uniqueQueue("tenant")
        var reports: [String: Set<String>] = [:]
        for tenant in ["trib-tenant-a", "trib-tenant-b"] {
            try BrokerAdmin.ensureVhost(tenant)
            let url = "amqp://guest:guest@localhost:5672/\(tenant)"
            let worker = try await WorkerProcess(id: "\(tenant)-worker", queue: queue, broker: url)
            try await withWorkers([worker]) {
                let client = Tributary(broker: url)
                let ran = try await client.run(flowNamed: "tenant") { flow in
                    try await flow.map(Nap.self, over: Array(repeating: Nap.Input(milliseconds: 1), count: 20),
                                       options: TaskOptions(queue: queue)).values()
                }
                await client.close()
                reports[tenant] = Set(ran.map(\.workerID))
            }
        }
        #expect(reports["trib-tenant-a"] == ["trib-tenant-a-worker"])
        #expect(reports["trib-tenant-b"] == ["trib-tenant-b-worker"])
    }

    @Test("a worker refused by the broker logs the reason but never the password")
    func passwordNeverLogged() async throws {
        let process = Process()
        process.executableURL = WorkerProcess.binDirectory.appendingPathComponent("trib")
        process.arguments = ["worker", "--broker", "amqp://guest:Sup3r-Secret@localhost:5672/"]
        var environment = ProcessInfo.processInfo.environment
        environment["TRIB_LOG_LEVEL"] = "trace"
        process.environment = environment
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(output.contains("refused the login of user 'guest'"))
        #expect(!output.contains("Sup3r-Secret"))
    }
}

/// Broker administration for tests, through rabbitmqctl.
enum BrokerAdmin {
    static func rabbitmqctl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/rabbitmqctl")
        process.arguments = ["-n", "rabbit@localhost", "-q"] + arguments
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw WorkerProcessError("rabbitmqctl \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }

    /// Creates a vhost (if missing) that the guest user may use.
    static func ensureVhost(_ name: String) throws {
        try? rabbitmqctl(["add_vhost", name])
        try rabbitmqctl(["set_permissions", "-p", name, "guest", ".*", ".*", ".*"])
    }
}
