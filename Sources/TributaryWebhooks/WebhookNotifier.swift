import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Tributary
import struct Tributary.Notification

/// POSTs each notification as JSON to a URL (Slack-style incoming webhooks, your own service),
/// with its own timeout and retries. It runs in a hook, so its failure never fails the flow.
///
/// It sends through Foundation's `URLSession` (on Linux, FoundationNetworking over libcurl), so it
/// adds no HTTP library to a build.
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
        guard let target = URL(string: url), let scheme = target.scheme?.lowercased(), ["http", "https"].contains(scheme)
        else {
            throw WebhookError(url: url, problem: "it is not an http:// or https:// URL; give the webhook's full address")
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        var request = URLRequest(url: target, timeoutInterval: timeout.timeInterval)
        request.httpMethod = "POST"
        request.httpBody = try encoder.encode(notification)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }

        var delay = retryDelay
        for attempt in 0...max(retries, 0) {
            if attempt > 0 {
                try await Task.sleep(for: delay)
                delay = delay * 2
            }
            let status: Int
            do {
                let (_, response) = try await URLSession.shared.data(for: request)
                status = (response as? HTTPURLResponse)?.statusCode ?? 0
            } catch {
                if attempt == retries {
                    throw WebhookError(url: url, underlying: Self.reason(error), attempts: attempt + 1)
                }
                continue
            }
            if (200..<300).contains(status) { return }
            guard status >= 500 || status == 429, attempt < retries else {
                throw WebhookError(url: url, status: UInt(max(status, 0)), attempts: attempt + 1)
            }
        }
    }
}

extension WebhookNotifier {
    /// Why a request got no answer, in words (Foundation on Linux describes a `URLError` only by
    /// its domain and number).
    static func reason(_ error: any Error) -> String {
        guard let error = error as? URLError else { return "\(error)" }
        switch error.code {
        case .cannotConnectToHost: return "connection refused"
        case .cannotFindHost, .dnsLookupFailed: return "host not found"
        case .timedOut: return "no answer within the timeout"
        case .networkConnectionLost: return "connection lost"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            return "TLS handshake failed (URLError \(error.code.rawValue))"
        default: return "URLError \(error.code.rawValue)"
        }
    }
}

/// A webhook that could not be delivered.
public struct WebhookError: Error, CustomStringConvertible {
    public let url: String
    public var status: UInt?
    public var underlying: String?
    /// What is wrong with the webhook itself, when it was never tried.
    public var problem: String?
    public let attempts: Int

    init(url: String, status: UInt? = nil, underlying: String? = nil, attempts: Int) {
        self.url = url
        self.status = status
        self.underlying = underlying
        self.attempts = attempts
    }

    init(url: String, problem: String) {
        self.url = url
        self.problem = problem
        self.attempts = 0
    }

    public var description: String {
        if let problem { return "webhook \(url) not sent: \(problem)" }
        let why = status.map { "it answered HTTP \($0)" } ?? "it could not be reached (\(underlying ?? "unknown error"))"
        return "webhook \(url) not delivered after \(attempts) attempt(s): \(why)"
    }
}
