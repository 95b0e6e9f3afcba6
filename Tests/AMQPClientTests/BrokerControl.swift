import Foundation

/// Drives the local broker with rabbitmqctl, for tests that make the broker itself do things.
enum BrokerControl {
    static let node = "rabbit@localhost"

    /// Runs rabbitmqctl on a thread of its own (never blocking Swift's cooperative pool).
    @discardableResult
    static func rabbitmqctl(_ arguments: [String]) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try rabbitmqctlBlocking(arguments) }) }.start()
        }
    }

    private static func rabbitmqctlBlocking(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/rabbitmqctl")
        process.arguments = ["-n", node, "-q"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Has the broker close the connection whose client named itself `name`; returns how many it closed.
    static func closeConnection(named name: String) async throws -> Int {
        let rows = try await rabbitmqctl(["list_connections", "--no-table-headers", "pid", "client_properties"])
        var closed = 0
        for row in rows.split(separator: "\n") {
            let columns = row.split(separator: "\t", maxSplits: 1)
            guard columns.count == 2, columns[1].contains("{\"connection_name\",\"\(name)\"}") else { continue }
            try await rabbitmqctl(["close_connection", String(columns[0]), "closed by a Tributary test"])
            closed += 1
        }
        return closed
    }
}
