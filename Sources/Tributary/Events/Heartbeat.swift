import Foundation

/// What a worker or agent process says of itself every ``HeartbeatService/interval``, on
/// `trib.events` with routing key `heartbeat`: the server shows it as alive while they keep coming.
public struct Heartbeat: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case worker, agent
    }

    public var kind: Kind
    public var id: String
    public var host: String
    public var pid: Int32
    /// Task queues (a worker) or work queues (an agent) it takes from.
    public var queues: [String]
    public var concurrency: Int
    /// Task or flow runs it runs now, and those it finished since it started, by outcome.
    public var running: Int
    public var completed: Int
    public var failed: Int
    /// How long its task attempts took (workers; nil for agents).
    public var durations: AttemptDurations?
    /// The flow runs it works for now: a worker's, of the tasks it runs; an agent's, the runs it
    /// runs (at most ``Activity/maxFlowRuns``, sorted).
    public var flowRuns: [String]?
    public var startedAt: Double
    /// When it sent this, and when to expect the next (seconds).
    public var time: Double
    public var interval: Double
    /// Orders its heartbeats (it only grows).
    public var sequence: Int
    /// Its last heartbeat, sent as it stops.
    public var stopped: Bool

    public init(kind: Kind, id: String, queues: [String], concurrency: Int, running: Int, completed: Int,
                failed: Int, durations: AttemptDurations? = nil, flowRuns: [String]? = nil, startedAt: Double,
                interval: Double, sequence: Int,
                stopped: Bool = false, time: Double = Date().timeIntervalSince1970) {
        self.kind = kind
        self.id = id
        host = ProcessInfo.processInfo.hostName
        pid = ProcessInfo.processInfo.processIdentifier
        self.queues = queues
        self.concurrency = concurrency
        self.running = running
        self.completed = completed
        self.failed = failed
        self.durations = durations
        self.flowRuns = flowRuns
        self.startedAt = startedAt
        self.time = time
        self.interval = interval
        self.sequence = sequence
        self.stopped = stopped
    }
}

/// A process's activity as its heartbeat reports it.
public struct Activity: Sendable, Equatable {
    public var running = 0, completed = 0, failed = 0
    /// How long its task attempts took (a worker's; nil for an agent).
    public var durations: AttemptDurations?
    /// The flow runs it works for now, sorted, at most ``maxFlowRuns``.
    public var flowRuns: [String]
    /// How many flow runs a heartbeat names at most.
    public static let maxFlowRuns = 20

    public init(running: Int = 0, completed: Int = 0, failed: Int = 0, durations: AttemptDurations? = nil,
                flowRuns: some Collection<String> = [String]()) {
        self.running = running
        self.completed = completed
        self.failed = failed
        self.durations = durations
        self.flowRuns = Array(flowRuns.sorted().prefix(Self.maxFlowRuns))
    }
}
