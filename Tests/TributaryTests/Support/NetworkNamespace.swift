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

    /// Why namespaces cannot be made here, or nil if they can (checked once, by making one).
    static let unavailableReason: String? = {
        do {
            let probe = try NetworkNamespace.create(index: 250)
            probe.remove()
            return nil
        } catch {
            return "network namespaces cannot be created here: \(error)"
        }
    }()

    /// Creates the namespace and its link, with addresses on both ends.
    static func create(index: Int) throws -> NetworkNamespace {
        let namespace = NetworkNamespace(index: index)
        let inner = "tc\(ProcessInfo.processInfo.processIdentifier % 100_000)w\(index)"
        namespace.remove()
        do {
            try ip(["netns", "add", namespace.name])
            try ip(["link", "add", namespace.rootLink, "type", "veth", "peer", "name", inner])
            try ip(["link", "set", inner, "netns", namespace.name])
            try ip(["addr", "add", "\(namespace.gateway)/24", "dev", namespace.rootLink])
            try ip(["link", "set", namespace.rootLink, "up"])
            try ip(["-n", namespace.name, "addr", "add", "\(namespace.address)/24", "dev", inner])
            try ip(["-n", namespace.name, "link", "set", inner, "up"])
            try ip(["-n", namespace.name, "link", "set", "lo", "up"])
        } catch {
            namespace.remove()
            throw error
        }
        return namespace
    }

    /// The command prefix that runs a program inside the namespace.
    var launcher: [String] { ["/usr/sbin/ip", "netns", "exec", name] }

    /// Cuts the link: nothing passes either way until ``restore()``.
    func cut() throws { try Self.ip(["link", "set", rootLink, "down"]) }

    /// Brings the link back.
    func restore() throws { try Self.ip(["link", "set", rootLink, "up"]) }

    /// Removes the namespace and, with it, the link.
    func remove() {
        _ = try? Command.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "del", name])
        _ = try? Command.run(URL(fileURLWithPath: "/usr/sbin/ip"), ["link", "del", rootLink])
    }

    private static func ip(_ arguments: [String]) throws {
        let result = try Command.run(URL(fileURLWithPath: "/usr/sbin/ip"), arguments)
        guard result.status == 0 else {
            throw WorkerProcessError("ip \(arguments.joined(separator: " ")) failed: \(result.output)")
        }
    }
}
