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
            try await BrokerAdmin.ensureVhost(tenant)
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
        let result = try await Command.trib(["worker", "--broker", "amqp://guest:Sup3r-Secret@localhost:5672/"],
                                      environment: ["TRIB_LOG_LEVEL": "trace"])
        #expect(result.status != 0)
        #expect(result.output.contains("refused the login of user 'guest'"))
        #expect(!result.output.contains("Sup3r-Secret"))
    }
}

/// Broker administration for tests, through rabbitmqctl.
enum BrokerAdmin {
    /// Creates a vhost (if missing) that the guest user may use.
    static func ensureVhost(_ name: String) async throws {
        _ = try? await Command.rabbitmqctl(["add_vhost", name])
        try await Command.rabbitmqctl(["set_permissions", "-p", name, "guest", ".*", ".*", ".*"])
        // As deploy/test.sh does on the default vhost: unused test queues go away after 10 minutes.
        try await Command.rabbitmqctl(["set_policy", "-p", name, "--apply-to", "queues", "trib-test-queues",
                                       #"^trib\.q\.test-"#, #"{"expires": 600000}"#])
    }

    /// Every queue on the default vhost with its ready + unacknowledged messages and consumers.
    static func queues() async throws -> [String: (messages: Int, consumers: Int)] {
        let text = try await Command.rabbitmqctl(["list_queues", "--no-table-headers", "name", "messages", "consumers"])
        var result: [String: (messages: Int, consumers: Int)] = [:]
        for line in text.split(separator: "\n") {
            let columns = line.split(separator: "\t")
            guard columns.count == 3, let messages = Int(columns[1]), let consumers = Int(columns[2]) else { continue }
            result[String(columns[0])] = (messages, consumers)
        }
        return result
    }
}
