import Foundation
import Glibc

/// A helper process the benchmark starts (a worker or an echo), with its output in a file.
final class HelperProcess: @unchecked Sendable {
    let process = Process()
    let logURL: URL

    static var binDirectory: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    /// Starts `executable` (from the build directory) and waits until its output contains `readyText`.
    init(_ executable: String, _ arguments: [String], readyText: String, label: String) async throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("trib-bench-\(label)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = Self.binDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        var environment = ProcessInfo.processInfo.environment
        environment["TRIB_LOG_LEVEL"] = "info"
        process.environment = environment
        try process.run()
        let deadline = ContinuousClock.now + .seconds(20)
        while !(((try? String(contentsOf: logURL, encoding: .utf8)) ?? "").contains(readyText)) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw BenchError("\(executable) did not start: \((try? String(contentsOf: logURL, encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Peak resident memory so far, from /proc (VmHWM), in bytes.
    var peakRSS: Int? { Self.peakRSS(pid: process.processIdentifier) }

    static func peakRSS(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return kb * 1024
    }

    /// A `trib server start` helper's API address (`http://HOST:PORT/api`), from its "server ready"
    /// line (waited for: with a broker it may follow "recording events").
    func serverAPIURL() async throws -> String {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if let line = log.split(separator: "\n").first(where: { $0.contains("server ready") }),
               let start = line.range(of: "api=")?.upperBound {
                return String(line[start...].prefix { $0 != " " })
            }
            guard ContinuousClock.now < deadline else { throw BenchError("the server logged no API address") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops the process (SIGTERM) and returns what it wrote, before its log goes.
    func stopReadingLog() async -> String {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        await stop()
        return log
    }

    func stop() async {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: logURL)
    }
}

/// Runs a helper to completion and returns its standard output.
func runToCompletion(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = HelperProcess.binDirectory.appendingPathComponent(executable)
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchError("\(executable) \(arguments) exited \(process.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
