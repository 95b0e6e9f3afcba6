import Foundation
import TributaryServer

/// The web UI at scale (issue 13): for each size, a store holding one flow run of that many task
/// runs (written straight into SQLite), a server on it, and its page opened in headless Chromium
/// by Tests/ui/browser.py: time to first content, time until usable (the timeline and the first
/// page of the task-run table drawn), and the page's renderer memory; medians of `repetitions`.
struct UIPage {
    let sizes: [Int]
    let repetitions: Int

    struct Load: Decodable {
        var firstContentSeconds: Double
        var usableSeconds: Double
        var rendererBytes: Int
        var nodes: Double?
        var problems: [String]
    }

    func measure() async throws -> [String] {
        var lines = ["ui: a flow run's page in headless Chromium, median of \(repetitions) loads each"]
        for size in sizes {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("trib-bench-ui-\(UUID()).db").path
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            let store = try await RunStores.open(path)
            try await SyntheticRuns.bigRun("big", taskRuns: size, into: store)
            await store.close()
            let server = try await HelperProcess("trib", ["server", "start", "--port", "0", "--database", path],
                                                 readyText: "server ready", label: "ui-server")
            let root = String(try await server.serverAPIURL().dropLast("/api".count))
            var loads: [Load] = []
            for _ in 0..<repetitions { loads.append(try load(root)) }
            await server.stop()
            let median = { (values: [Double]) in values.sorted()[values.count / 2] }
            let problems = loads.flatMap(\.problems)
            lines.append("  \(size) task runs: first content \(format(median(loads.map(\.firstContentSeconds)), 2)) s, "
                + "usable \(format(median(loads.map(\.usableSeconds)), 2)) s, renderer "
                + "\(Int(median(loads.map { Double($0.rendererBytes) })) / 1_048_576) MB (PSS), "
                + "DOM nodes \(Int(loads.last?.nodes ?? 0))" + (problems.isEmpty ? "" : "; console: \(problems)"))
        }
        return lines
    }

    /// One load of the page by a fresh browser.
    private func load(_ root: String) throws -> Load {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "Tests/ui/browser.py", "big", root, "big"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let line = String(decoding: output, as: UTF8.self).split(separator: "\n").last
        else { throw BenchError("the browser could not load the page (Tests/ui/browser.py big \(root) big)") }
        return try JSONDecoder().decode(Load.self, from: Data(line.utf8))
    }
}
