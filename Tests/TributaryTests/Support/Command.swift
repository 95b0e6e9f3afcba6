import Foundation

/// Runs a program to its end and captures what it printed (stdout and stderr together).
struct Command {
    let status: Int32
    let reason: Process.TerminationReason
    let output: String

    /// Runs the program on a thread of its own, so waiting for it never blocks a thread of Swift's
    /// cooperative pool (the suite's in-process clients need those).
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) async throws
        -> Command {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try runBlocking(executable, arguments, environment: environment) })
            }.start()
        }
    }

    /// Runs the program and blocks the calling thread: only for synchronous contexts.
    static func runBlocking(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws
        -> Command {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Command(status: process.terminationStatus, reason: process.terminationReason, output: output)
    }

    /// Throws with the command's output unless it exited 0.
    static func require(_ command: Command) throws {
        guard command.status == 0 else { throw WorkerProcessError("command failed:\n\(command.output)") }
    }

    /// `trib` from the build directory.
    static func trib(_ arguments: [String], environment: [String: String] = [:]) async throws -> Command {
        try await run(WorkerProcess.binDirectory.appendingPathComponent("trib"), arguments, environment: environment)
    }

    /// `rabbitmqctl` against the local node; throws if it fails.
    @discardableResult
    static func rabbitmqctl(_ arguments: [String]) async throws -> String {
        let result = try await run(URL(fileURLWithPath: "/usr/sbin/rabbitmqctl"), ["-n", "rabbit@localhost", "-q"] + arguments)
        guard result.status == 0 else {
            throw WorkerProcessError("rabbitmqctl \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
        return result.output
    }
}
