import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Tributary
import struct Tributary.Notification

/// POSTs each notification as JSON to a URL (Slack-style incoming webhooks, your own service),
/// with its own timeout and retries. It runs in a hook, so its failure never fails the flow.
public struct WebhookNotifier: Notifier {
    public let url: String
    /// Extra request headers (an `Authorization` token, say).
    public var headers: [String: String]
    /// How long one attempt may take.
    public var timeout: Duration
    /// Attempts after the first when the server cannot be reached or answers 5xx or 429.
    public var retries: Int
    /// The wait before the first retry; doubled before each further one.
    public var retryDelay: Duration

    public init(url: String, headers: [String: String] = [:], timeout: Duration = .seconds(10), retries: Int = 3,
                retryDelay: Duration = .milliseconds(500)) {
        self.url = url
        self.headers = headers
        self.timeout = timeout
        self.retries = retries
        self.retryDelay = retryDelay
    }

    public func send(_ notification: Notification) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let body = try encoder.encode(notification)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))

        var delay = retryDelay
        for attempt in 0...max(retries, 0) {
            if attempt > 0 {
                try await Task.sleep(for: delay)
                delay = delay * 2
            }
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
                _ = try await response.body.collect(upTo: 64 * 1024)
                if (200..<300).contains(response.status.code) { return }
                let failure = WebhookError(url: url, status: response.status.code, attempts: attempt + 1)
                guard response.status.code >= 500 || response.status == .tooManyRequests, attempt < retries else {
                    throw failure
                }
            } catch let error as WebhookError {
                throw error
            } catch {
                if attempt == retries { throw WebhookError(url: url, underlying: "\(error)", attempts: attempt + 1) }
            }
        }
    }
}

/// A webhook that could not be delivered.
public struct WebhookError: Error, CustomStringConvertible {
    public let url: String
    public var status: UInt?
    public var underlying: String?
    public let attempts: Int

    init(url: String, status: UInt? = nil, underlying: String? = nil, attempts: Int) {
        self.url = url
        self.status = status
        self.underlying = underlying
        self.attempts = attempts
    }

    public var description: String {
        let why = status.map { "it answered HTTP \($0)" } ?? "it could not be reached (\(underlying ?? "unknown error"))"
        return "webhook \(url) not delivered after \(attempts) attempt(s): \(why)"
    }
}

private extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
