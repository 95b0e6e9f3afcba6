import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Talks to a server's API for the CLI: `--api-url` (else `TRIB_API_URL`, else
/// http://127.0.0.1:4200/api) and `--api-key` (else `TRIB_API_KEY`).
struct APIClient {
    let baseURL: String
    let apiKey: String?

    init(url: String?, key: String?) {
        let environment = ProcessInfo.processInfo.environment
        var base = url ?? environment["TRIB_API_URL"] ?? "http://127.0.0.1:4200/api"
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
        apiKey = key ?? environment["TRIB_API_KEY"]
    }

    /// GETs (or POSTs) `path` with `query` and decodes the JSON answer; an answer that is not 2xx
    /// throws the server's message.
    func call<T: Decodable>(_ path: String, query: [(String, String?)] = [], method: String = "GET",
                            body json: Data? = nil, as type: T.Type) async throws -> T {
        var components = URLComponents(string: baseURL + path)
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty { components?.queryItems = items }
        guard let url = components?.url else {
            throw ServerFailure("the API URL '\(baseURL)' is not a URL: give one such as http://127.0.0.1:4200/api")
        }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = json
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let body: Data, status: Int
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            (body, status) = (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
        } catch {
            throw ServerFailure("could not reach the server at \(baseURL) (\((error as NSError).localizedDescription)); "
                + "start it with `trib server start`, or point --api-url (or TRIB_API_URL, or `trib config set "
                + "TRIB_API_URL=...`) at it")
        }
        guard (200..<300).contains(status) else {
            let message = (try? JSONDecoder().decode(ErrorAnswer.self, from: body))?.error.message
                ?? String(decoding: body, as: UTF8.self)
            throw ServerFailure("the server answered \(status): \(message)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: body)
        } catch where body.first == UInt8(ascii: "<") {
            // The UI's page: the URL names the server, not its API.
            throw ServerFailure("\(baseURL + path) answered with a web page, not the API's JSON: the API URL ends in "
                + "/api (for example \(baseURL)/api); give it with --api-url or TRIB_API_URL")
        } catch {
            throw ServerFailure("the server's answer to \(path) is not what this trib reads (\(error)); "
                + "is the server the same version?")
        }
    }

    private struct ErrorAnswer: Decodable {
        struct Message: Decodable { var message: String }
        var error: Message
    }
}
