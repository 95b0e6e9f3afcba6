import Foundation

/// Runs one check of Tests/ui/browser.py in a real headless Chromium against a server, and gives
/// back the JSON it printed. Screenshots go to `.build/ui-screenshots/` (look at them).
enum Browser {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("ui/browser.py").path
    static let screenshots: String = {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(".build/ui-screenshots").path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }()

    /// `check` on the server at `base` (its root, not /api), with the check's arguments.
    static func run(_ check: String, _ base: String, _ arguments: [String] = []) async throws -> [String: Any] {
        // The python3 on PATH: the one deploy/test.sh installed selenium into.
        let result = try await Command.run(URL(fileURLWithPath: "/usr/bin/env"),
                                           ["python3", script, check, base] + arguments + ["--shots", screenshots])
        guard result.status == 0, let line = result.output.split(separator: "\n").last,
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw WorkerProcessError("browser check '\(check)' failed (exit \(result.status)): "
                + result.output.lastLinesOnOneLine(12))
        }
        return object
    }
}
