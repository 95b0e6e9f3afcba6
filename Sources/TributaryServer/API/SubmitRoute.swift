import Foundation
import Hummingbird
import Tributary

/// `POST /api/flow-runs` with `{"flow": NAME, "input": JSON, "workQueue": "default"}`: submits a
/// run to a work queue for an agent that has the flow, and answers 201 with its id.
struct SubmitRoute {
    let client: Tributary?

    struct Submission: Decodable {
        var flow: String
        var input: JSONValue?
        var workQueue: String?
        var idempotencyKey: String?
    }

    func add(to router: Router<BasicRequestContext>) {
        router.post("api/flow-runs") { request, context -> EditedResponse<Submitted> in
            guard let client else {
                throw HTTPError(.serviceUnavailable, message: "this server has no broker (start it with --broker): "
                    + "runs are submitted through it")
            }
            let submission: Submission
            do {
                submission = try await request.decode(as: Submission.self, context: context)
            } catch {
                throw HTTPError(.badRequest, message: #"the body must be JSON: {"flow": "NAME", "input": ..., "#
                    + #""workQueue": "default"} (input and workQueue may be left out)"#)
            }
            do {
                let input = try JSONEncoder().encode(submission.input ?? .null)
                let handle = try await client.submit(flowNamed: submission.flow, input: Array(input),
                                                     workQueue: submission.workQueue ?? "default",
                                                     idempotencyKey: submission.idempotencyKey)
                return EditedResponse(status: .created, response: Submitted(id: handle.id))
            } catch let error as TributaryError {
                throw HTTPError(.badRequest, message: error.description)
            }
        }
    }
}

struct Submitted: ResponseEncodable, Decodable {
    var id: String
}
