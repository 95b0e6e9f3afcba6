import Foundation

/// A network namespace standing for another machine: a veth link joins it to the root namespace
/// (where the broker and the coordinator run), each end with its own address. The test that
/// creates it removes it; cutting takes the root end of the link down, so packets are dropped
/// silently both ways, as when a cable or a switch fails.
final class NetworkNamespace: Sendable {
    let name: String
    /// The namespace's own address.
    let address: String
    /// The root namespace's address on this link: where the broker is reached from inside.
    let gateway: String
    private let rootLink: String

    private init(index: Int) {
        let tag = ProcessInfo.processInfo.processIdentifier % 100_000
        name = "trib-cut-\(tag)-\(index)"
        rootLink = "tc\(tag)r\(index)"
        gateway = "10.213.\(index).1"
        address = "10.213.\(index).2"
    }

    /// Why namespaces cannot be made here, or nil if they can (checked once, by making one; it
    /// runs while tests are planned, before any of them, so it may block).
    static let unavailableReason: String? = {
        let name = "trib-probe-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            let added = try Command.runBlocking(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "add", name])
            guard added.status == 0 else { return "network namespaces cannot be created here: \(added.output)" }
            _ = try Command.runBlocking(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "del", name])
            return nil
        } catch {
            return "network namespaces cannot be created here: \(error)"
        }
    }()

    /// Creates the namespace and its link, with addresses on both ends.
    static func create(index: Int) async throws -> NetworkNamespace {
        let namespace = NetworkNamespace(index: index)
        let inner = "tc\(ProcessInfo.processInfo.processIdentifier % 100_000)w\(index)"
        await removeLeftovers(index: index)
        await namespace.remove()
        do {
            try await ip(["netns", "add", namespace.name])
            try await ip(["link", "add", namespace.rootLink, "type", "veth", "peer", "name", inner])
            try await ip(["link", "set", inner, "netns", namespace.name])
            try await ip(["addr", "add", "\(namespace.gateway)/24", "dev", namespace.rootLink])
            try await ip(["link", "set", namespace.rootLink, "up"])
            try await ip(["-n", namespace.name, "addr", "add", "\(namespace.address)/24", "dev", inner])
            try await ip(["-n", namespace.name, "link", "set", inner, "up"])
            try await ip(["-n", namespace.name, "link", "set", "lo", "up"])
        } catch {
            await namespace.remove()
            throw error
        }
        return namespace
    }

    /// Removes namespace `index` (and its link, which holds the same addresses) left by an
    /// earlier test process that died before removing it.
    private static func removeLeftovers(index: Int) async {
        let ip = URL(fileURLWithPath: "/usr/sbin/ip")
        guard let listed = try? await Command.run(ip, ["netns", "list"]) else { return }
        let mine = ProcessInfo.processInfo.processIdentifier % 100_000
        for line in listed.output.split(separator: "\n") {
            let name = line.split(separator: " ").first.map(String.init) ?? ""
            let parts = name.split(separator: "-")
            guard parts.count == 4, parts[0] == "trib", parts[1] == "cut", parts[3] == "\(index)",
                  let owner = Int32(parts[2]), owner != mine, kill(owner, 0) != 0 else { continue }
            _ = try? await Command.run(ip, ["netns", "del", name])
            _ = try? await Command.run(ip, ["link", "del", "tc\(owner)r\(index)"])
        }
    }

    /// The command prefix that runs a program inside the namespace.
    var launcher: [String] { ["/usr/sbin/ip", "netns", "exec", name] }

    /// Cuts the link: nothing passes either way until ``restore()``.
    func cut() async throws { try await Self.ip(["link", "set", rootLink, "down"]) }

    /// Brings the link back.
    func restore() async throws { try await Self.ip(["link", "set", rootLink, "up"]) }

    /// Removes the namespace and, with it, the link.
    func remove() async {
        _ = try? await Command.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "del", name])
        _ = try? await Command.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["link", "del", rootLink])
    }

    private static func ip(_ arguments: [String]) async throws {
        let result = try await Command.run(URL(fileURLWithPath: "/usr/sbin/ip"), arguments)
        guard result.status == 0 else {
            throw WorkerProcessError("ip \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
    }
}
