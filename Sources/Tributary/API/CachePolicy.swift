import Foundation

/// When a task run may reuse an earlier run's result instead of running: Prefect's cache policies.
/// A run with a cache policy looks its key up in the client's ``ResultStore``; a result that is
/// there and not expired ends the run Cached without sending it to a worker, and a run that
/// completes stores its result under the key.
///
/// ```swift
/// TaskOptions(cache: .inputs(version: "2", expiration: .seconds(3600)))   // same task, same input
/// TaskOptions(cache: .key("train-\(alpha)-\(datasetDate)"))               // a key of your own
/// ```
public struct CachePolicy: Sendable, Equatable {
    enum Source: Sendable, Equatable {
        case inputs(version: String)
        case key(String)
    }

    let source: Source
    /// How long a stored result may be reused; nil keeps it for ever.
    public var expiration: Duration?

    /// Keyed by the task's name, `version` and its JSON input: change `version` when the task's
    /// code changes what it returns.
    public static func inputs(version: String = "1", expiration: Duration? = nil) -> CachePolicy {
        CachePolicy(source: .inputs(version: version), expiration: expiration)
    }

    /// Keyed by the task's name and a key the flow computes (a key function's result).
    public static func key(_ key: String, expiration: Duration? = nil) -> CachePolicy {
        CachePolicy(source: .key(key), expiration: expiration)
    }

    /// The store key for a run of `taskName` with `input`: a SHA-256, safe as a file name.
    func storeKey(taskName: String, input: [UInt8]) -> String {
        var bytes = Array(taskName.utf8) + [0]
        switch source {
        case .inputs(let version):
            bytes += Array("inputs:\(version)".utf8) + [0]
            bytes += input
        case .key(let key):
            bytes += Array("key:\(key)".utf8)
        }
        return SHA256Digest.hex(bytes)
    }
}
