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

/// Any JSON value, carried through unchanged.
indirect enum JSONValue: Codable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            // Whole numbers stay whole, so an Int input decodes as one.
            if value.rounded() == value, abs(value) < 9e15 { try container.encode(Int64(value)) }
            else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
