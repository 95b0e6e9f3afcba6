import Foundation

/// The lab deploy/cluster.sh builds: three clustered RabbitMQ nodes and hosts for the other
/// processes, each a network namespace of its own. deploy/test.sh brings it up once for all the
/// cluster tests (and sets TRIB_CLUSTER_LAB=1) and takes it down after them.
enum ClusterLab {
    /// Whether the lab is up for these tests, and why not.
    static let unavailableReason: String? = ProcessInfo.processInfo.environment["TRIB_CLUSTER_LAB"] == "1" ? nil
        : "the cluster lab is not up: deploy/test.sh brings it up (deploy/cluster.sh up) and sets TRIB_CLUSTER_LAB=1"

    static let nodes = ["r1", "r2", "r3"]

    private static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/cluster.sh")
    }

    /// Runs `deploy/cluster.sh ARGUMENTS`; throws with its output unless it succeeds.
    @discardableResult
    static func run(_ arguments: [String]) async throws -> String {
        let result = try await Command.run(URL(fileURLWithPath: "/bin/bash"), [script.path] + arguments)
        guard result.status == 0 else {
            throw WorkerProcessError("deploy/cluster.sh \(arguments.joined(separator: " ")) failed:\n\(result.output)")
        }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The broker URL naming the three nodes (quorum queues), with node `first` tried first, so the
    /// processes of a test spread over the nodes.
    static func url(first: Int = 0) async throws -> String {
        let url = try await run(["url"])
        guard let at = url.range(of: "@"), let slash = url[at.upperBound...].firstIndex(of: "/") else { return url }
        let hosts = url[at.upperBound..<slash].split(separator: ",")
        let rotated = hosts[(first % hosts.count)...] + hosts[..<(first % hosts.count)]
        return String(url[..<at.upperBound]) + rotated.joined(separator: ",") + String(url[slash...])
    }

    /// Starts `count` workers on `queue`, on lab hosts `worker<firstHost>` onwards, worker `index`
    /// given node `index` first, so their connections spread over the nodes.
    static func workers(_ count: Int, queue: String, concurrency: Int, firstHost: Int = 1) async throws -> [WorkerProcess] {
        var workers: [WorkerProcess] = []
        for index in 0..<count {
            workers.append(try await WorkerProcess(id: "lab-w\(index)-\(queue.suffix(6))", queue: queue,
                                                   concurrency: concurrency, broker: try await url(first: index),
                                                   launcher: launcher("worker\(firstHost + index)")))
        }
        return workers
    }

    /// The command prefix that runs a program on lab host `host` (`worker1`, `agent2`, ...).
    static func launcher(_ host: String) -> [String] { ["/usr/sbin/ip", "netns", "exec", "trib-lab-\(host)"] }

    /// The node (`r1`...) that leads quorum queue `queue` now.
    static func leader(of queue: String) async throws -> String { try await run(["leader", queue]) }

    /// The operating-system process id of node `node`'s Erlang VM now.
    static func pid(of node: String) throws -> String {
        try String(contentsOfFile: "/var/lib/rabbitmq/tributary-lab-\(node)/pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// How many consumers quorum queue `queue` has now.
    static func consumers(of queue: String) async throws -> Int? {
        let listing = try await run(["queues", "name", "consumers"])
        for line in listing.split(separator: "\n") {
            let columns = line.split(whereSeparator: \.isWhitespace).map(String.init)
            if columns.count == 2, columns[0] == queue { return Int(columns[1]) }
        }
        return nil
    }
}
