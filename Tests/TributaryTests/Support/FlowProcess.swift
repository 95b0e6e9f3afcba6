import Foundation
import Glibc

/// `trib run` of a registered flow over the test broker, in a process of its own (a coordinator
/// apart from the test's), with what it prints and what it logs in temporary files.
final class FlowProcess: @unchecked Sendable {
    let process = Process()
    private let outputURL: URL
    private let logURL: URL

    /// Starts the flow. At `logLevel` info the client logs its flow-run id.
    init(flow: String, input: String, logLevel: String = "info") throws {
        let directory = FileManager.default.temporaryDirectory
        let stem = "trib-run-\(flow)-\(UUID().uuidString)"
        outputURL = directory.appendingPathComponent("\(stem).out")
        logURL = directory.appendingPathComponent("\(stem).log")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.executableURL = WorkerProcess.binDirectory.appendingPathComponent("trib")
        process.arguments = ["run", flow, input, "--broker", TestBroker.url, "--no-progress"]
        process.environment = ProcessInfo.processInfo.environment.merging(["TRIB_LOG_LEVEL": logLevel]) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: logURL)
        try process.run()
    }

    /// What the flow printed (its output).
    var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }
    /// What the client logged, and the error it ended with.
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// The flow-run id from the client's log, once it has logged it.
    func flowRunID(within limit: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let id = log.firstMatch(of: /flow-run=([0-9a-f-]{36})/)?.1 { return String(id) }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw WorkerProcessError("the flow never logged its flow-run id:\n\(log)")
    }

    /// Waits for the process to exit and returns its status, or nil after `limit`.
    func waitForExit(within limit: Duration) async -> Int32? {
        await process.waitForExit(within: limit)
    }

    /// Sends SIGINT, as Ctrl-C in a terminal would.
    func interrupt() {
        if process.isRunning { kill(process.processIdentifier, SIGINT) }
    }

    /// Sends SIGKILL and waits for the process to be gone.
    func killHard() async {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = await waitForExit(within: .seconds(30))
    }

    /// Ends the process if it still runs and deletes its files.
    func dispose() async {
        await killHard()
        try? FileManager.default.removeItem(at: outputURL)
        try? FileManager.default.removeItem(at: logURL)
    }
}
