import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where completed results with a cache key are kept, so later runs (and re-runs of a flow that
/// failed half-way) can skip work already done. ``LocalResultStore`` is the default; other stores
/// (a bucket, a database) implement this protocol.
public protocol ResultStore: Sendable {
    /// The result stored under `key`, or nil.
    func read(key: String) async throws -> StoredResult?
    /// Stores `result` under `key`, replacing what was there.
    func write(_ result: StoredResult, key: String) async throws
}

/// A task's output as a result store keeps it.
public struct StoredResult: Codable, Sendable, Equatable {
    public var taskName: String
    /// The output as JSON.
    public var output: [UInt8]
    public var storedAt: Date
    /// After this the result is not reused; nil: never expires.
    public var expiresAt: Date?

    public init(taskName: String, output: [UInt8], storedAt: Date = Date(), expiresAt: Date? = nil) {
        self.taskName = taskName
        self.output = output
        self.storedAt = storedAt
        self.expiresAt = expiresAt
    }

    /// Whether the result may still be reused at `now`.
    public func isValid(at now: Date = Date()) -> Bool {
        expiresAt.map { now < $0 } ?? true
    }
}

/// Results as one JSON file per key in a local directory: `TRIB_RESULT_STORE` if set, else
/// `~/.tributary/results` (like Prefect's `~/.prefect/storage`).
public struct LocalResultStore: ResultStore {
    public let directory: URL

    public init(directory: URL? = nil) {
        if let directory {
            self.directory = directory
        } else if let path = ProcessInfo.processInfo.environment["TRIB_RESULT_STORE"], !path.isEmpty {
            self.directory = URL(fileURLWithPath: path)
        } else {
            self.directory = FileManager.default.homeDirectoryForCurrentUser
                .appendingPathComponent(".tributary/results")
        }
    }

    public func read(key: String) async throws -> StoredResult? {
        let file = url(for: key)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        return try JSONDecoder().decode(StoredResult.self, from: Data(contentsOf: file))
    }

    public func write(_ result: StoredResult, key: String) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // Written to a temporary name and moved into place, so a reader never sees half a file.
        let temporary = directory.appendingPathComponent(".\(key).\(UUID().uuidString)")
        try JSONEncoder().encode(result).write(to: temporary)
        guard rename(temporary.path, url(for: key).path) == 0 else {
            let error = errno
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [
                NSFilePathErrorKey: url(for: key).path, NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: error) ?? .EIO),
            ])
        }
    }

    private func url(for key: String) -> URL {
        directory.appendingPathComponent("\(key).json")
    }
}
