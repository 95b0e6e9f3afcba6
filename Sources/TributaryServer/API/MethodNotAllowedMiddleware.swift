import HTTPTypes
import Hummingbird

/// Answers a request no route takes: 405 with `Allow` when the path is the API's under another
/// method, else 404, each with a message (the router's own 404 has none).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The API's paths (`{}` for a segment that is an id) and the methods each takes.
    static var routes: [(segments: [String], methods: [HTTPRequest.Method])] {
        [
            ("api/health", [.get]), ("api/openapi.json", [.get]), ("api/flow-runs", [.get, .post]),
            ("api/flow-runs/{}", [.get]), ("api/flow-runs/{}/task-runs", [.get]), ("api/flow-runs/{}/logs", [.get]),
            ("api/flow-runs/{}/cancel", [.post]), ("api/task-runs/{}/states", [.get]), ("api/workers", [.get]),
            ("api/agents", [.get]), ("api/changes", [.get]), ("metrics", [.get]),
            ("api/work-queues", [.get]), ("api/task-queues", [.get]), ("api/artifacts", [.get]),
            ("api/flow-runs/{}/artifacts", [.get]), ("api/flow-runs/{}/timeline", [.get]), ("api/flow-run-activity", [.get]),
            ("api/work-queues/{}/preview", [.get]), ("api/deployments", [.get, .post]), ("api/deployments/{}", [.get, .delete]),
            ("api/deployments/{}/pause", [.post]), ("api/deployments/{}/resume", [.post]), ("api/deployments/{}/runs", [.post]),
            ("", [.get]), ("flow-runs", [.get]), ("flow-runs/{}", [.get]), ("deployments", [.get]), ("deployments/{}", [.get]),
            ("artifacts", [.get]), ("workers", [.get]),
            ("ui/{}", [.get]),
        ].map { path, methods in (path.split(separator: "/").map(String.init), methods) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound && error.body == nil {
            let segments = request.uri.path.split(separator: "/").map(String.init)
            if let route = Self.routes.first(where: { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { $0 == "{}" || $0 == $1 }
            }) {
                let allowed = route.methods.map(\.rawValue).joined(separator: ", ")
                throw HTTPError(.methodNotAllowed, headers: [.allow: allowed],
                                message: "\(request.method.rawValue) is not how \(request.uri.path) is used: it takes \(allowed)")
            }
            throw HTTPError(.notFound, message: "no such endpoint: \(request.uri.path) (the API is described at /api/openapi.json)")
        }
    }
}
