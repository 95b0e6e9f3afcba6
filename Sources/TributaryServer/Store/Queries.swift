/// Which flow runs to list: every field set narrows the list.
public struct FlowRunQuery: Sendable, Equatable {
    public var states: [String] = []
    public var flowName: String?
    public var workQueue: String?
    public var parentFlowRunID: String?
    /// Created at or after, and before (seconds since 1970).
    public var since: Double?
    public var until: Double?
    public var limit = 50
    /// From a previous page's `nextCursor`.
    public var cursor: String?

    public init() {}
}

/// Which task runs of one flow run to list, in which order.
public struct TaskRunQuery: Sendable, Equatable {
    public enum Sort: String, Sendable, CaseIterable {
        /// By first start (the default), then id.
        case start
        /// Longest first, then id; runs with no duration yet come last.
        case duration
    }

    public var flowRunID: String
    public var states: [String] = []
    public var sort = Sort.start
    public var limit = 100
    public var cursor: String?

    public init(flowRunID: String) {
        self.flowRunID = flowRunID
    }
}

/// Which log lines of one flow run to read.
public struct LogQuery: Sendable, Equatable {
    public var flowRunID: String
    /// Only these levels (trace ... critical), if any given.
    public var levels: [String] = []
    /// Only lines after this position (a previous line's `position`).
    public var after: Int64 = 0
    public var limit = 200
    /// Only this task run's lines.
    public var taskRunID: String?

    public init(flowRunID: String) {
        self.flowRunID = flowRunID
    }
}

/// Which artifacts to list, newest first: those of one flow run, one key's history, or the
/// latest of every key.
public struct ArtifactQuery: Sendable, Equatable {
    public var flowRunID: String?
    public var key: String?
    /// Without a key: only the newest artifact of each key (artifacts without a key left out).
    public var latestPerKey = false
    public var limit = 50
    public var cursor: String?

    public init(flowRunID: String? = nil, key: String? = nil, latestPerKey: Bool = false) {
        self.flowRunID = flowRunID
        self.key = key
        self.latestPerKey = latestPerKey
    }
}

/// A query that cannot be answered as asked: what is wrong, in words for the caller.
public struct BadQuery: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
