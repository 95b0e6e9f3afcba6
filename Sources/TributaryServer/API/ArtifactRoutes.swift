import Hummingbird
import Tributary

extension ArtifactRecord: ResponseEncodable {}

/// `/api/artifacts`: the latest artifact of every key, or one key's history (`?key=`), newest
/// first; and `/api/flow-runs/{id}/artifacts`, what one flow run and its task runs published.
struct ArtifactRoutes {
    let store: any RunStore

    func add(to router: Router<BasicRequestContext>) {
        router.get("api/artifacts") { request, _ -> Page<ArtifactRecord> in
            let parameters = QueryParameters(request: request)
            var query = ArtifactQuery(key: try parameters.artifactKey(), latestPerKey: true)
            query.limit = try parameters.int("limit", default: 50, in: 1...1_000)
            query.cursor = try parameters.cursor()
            return try await answer { try await store.artifacts(query) }
        }
        router.get("api/flow-runs/{id}/artifacts") { request, context -> Page<ArtifactRecord> in
            let parameters = QueryParameters(request: request)
            var query = ArtifactQuery(flowRunID: try context.parameters.require("id"))
            query.limit = try parameters.int("limit", default: 50, in: 1...1_000)
            query.cursor = try parameters.cursor()
            guard let id = query.flowRunID, try await store.hasFlowRun(id: id) else {
                throw FlowRunRoutes.unknown(query.flowRunID ?? "")
            }
            return try await answer { try await store.artifacts(query) }
        }
    }
}

extension QueryParameters {
    /// `key`: absent, or an artifact key (letters, digits, dashes, underscores).
    func artifactKey() throws -> String? {
        guard let key = request.uri.queryParameters.get("key") else { return nil }
        guard PublishedArtifact.isValidKey(key) else {
            throw HTTPError(.badRequest, message: "key '\(key)' is not an artifact key: give 1 to 100 letters, digits, "
                + "dashes or underscores")
        }
        return key
    }
}
