/// How a task is run: retries, delays, timeout, target queue, tags, persistence.
public struct TaskOptions: Sendable {
    /// Retries after the first attempt (so `retries: 2` means at most three attempts).
    public var retries: Int
    /// The wait before each retry.
    public var retryDelay: RetryDelay
    /// Decides whether a failed attempt is retried; nil retries every retryable failure.
    public var retryCondition: (@Sendable (RemoteError) -> Bool)?
    /// How long one attempt may run on a worker before it is cancelled and ends TimedOut.
    public var timeout: Duration?
    /// The queue workers take this task from.
    public var queue: String
    /// Free-form labels, shown in logs (and used for limits later).
    public var tags: Set<String>
    /// Persistent messages survive a broker restart; transient ones are faster.
    public var persistent: Bool
    /// Runs of this task sent at the same time as others for its queue (a `map`, a burst of calls)
    /// may travel in one message, a pack, when every worker of the queue reads packs; a lone run
    /// is always sent at once. `false`: one message per run. (`TRIB_TASK_PACKING=off` turns packing
    /// off for a whole client.)
    public var packing: Bool
    /// Reuse a stored result instead of running, and store this run's result; nil: always run.
    public var cache: CachePolicy?
    /// A name for each run, from its input: `"train-{alpha}"` (a field of the input) or
    /// `"page-{input}"` (the whole input); shown in events, hooks and logs.
    public var runName: String?
    /// Run by the coordinator when the run ends Completed (not Cached).
    public var onCompletion: [TaskHook]
    /// Run when the run ends Failed, Crashed or TimedOut.
    public var onFailure: [TaskHook]
    /// Run each time a failed attempt is retried.
    public var onRetry: [TaskHook]

    public init(retries: Int = 0, retryDelay: RetryDelay = .none, retryCondition: (@Sendable (RemoteError) -> Bool)? = nil,
                timeout: Duration? = nil, queue: String = "default", tags: Set<String> = [], persistent: Bool = true,
                packing: Bool = true, cache: CachePolicy? = nil, runName: String? = nil, onCompletion: [TaskHook] = [],
                onFailure: [TaskHook] = [], onRetry: [TaskHook] = []) {
        self.cache = cache
        self.runName = runName
        self.onCompletion = onCompletion
        self.onFailure = onFailure
        self.onRetry = onRetry
        self.retries = retries
        self.retryDelay = retryDelay
        self.retryCondition = retryCondition
        self.timeout = timeout
        self.queue = queue
        self.tags = tags
        self.persistent = persistent
        self.packing = packing
    }

    /// Checks the options; returns a sentence naming what is wrong, or nil.
    func problem(taskName: String) -> String? {
        if retries < 0 { return "task '\(taskName)': retries must be 0 or more, not \(retries)" }
        if let timeout, timeout <= .zero { return "task '\(taskName)': timeout must be positive, not \(timeout)" }
        if queue.isEmpty || queue.contains(where: { $0.isWhitespace || $0 == "*" }) {
            return "task '\(taskName)': queue name '\(queue)' must be non-empty, without spaces or '*'"
        }
        return nil
    }
}

/// The wait before a retry.
public enum RetryDelay: Sendable, Equatable {
    /// Retry at once.
    case none
    /// The same wait before every retry.
    case fixed(Duration)
    /// One wait per retry; the last is reused when there are more retries than entries.
    case list([Duration])
    /// `base * factor^(retry-1)`, capped at `max`, each spread by up to ±`jitter` (0...1) of itself.
    case exponential(base: Duration, factor: Double = 2, max: Duration = .seconds(300), jitter: Double = 0.2)

    /// The wait before retry number `retry` (1 for the first retry).
    public func delay(beforeRetry retry: Int, random: Double = Double.random(in: -1...1)) -> Duration {
        switch self {
        case .none:
            return .zero
        case .fixed(let d):
            return d
        case .list(let delays):
            guard let last = delays.last else { return .zero }
            return retry - 1 < delays.count ? delays[retry - 1] : last
        case .exponential(let base, let factor, let max, let jitter):
            let raw = base * Swift.max(1, Foundation.pow(factor, Double(retry - 1)))
            let capped = Swift.min(raw, max)
            let spread = capped * (Swift.min(Swift.max(jitter, 0), 1) * random)
            return Swift.max(.zero, capped + spread)
        }
    }
}

import Foundation
