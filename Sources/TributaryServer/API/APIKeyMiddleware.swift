import HTTPTypes
import Hummingbird

/// With an API key set, every request for data (`/api`, `/metrics`) must carry it, as
/// `Authorization: Bearer KEY` or `X-API-Key: KEY`. The UI's files hold no data and are served
/// without it; the UI asks for the key and sends it with each request.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response {
        guard UIRoutes.needsKey(request.uri.path) else { return try await next(request, context) }
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard bearer == key || request.headers[.apiKey] == key else {
            throw HTTPError(.unauthorized, message: "this server needs its API key: send it as 'Authorization: Bearer KEY' "
                + "(trib reads it from --api-key or TRIB_API_KEY)")
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let apiKey = Self("X-API-Key")!
}
