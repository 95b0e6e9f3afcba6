import Foundation
import Tributary

/// Starts a run of its deployment when a run of another deployment (or of a flow, by name) reaches
/// one of `states`, optionally only when that run's parameters or result match. Each triggering
/// run starts one run, however often its events arrive: the triggered run's id comes from (this
/// deployment, this trigger, the triggering run).
///
/// ```json
/// {"deployment": "train", "states": ["Completed"], "matchParameters": {"region": "eu"},
///  "parameters": {"upstream": "{{ run.id }}", "accuracy": "{{ run.result.accuracy }}"}}
/// ```
///
/// A string value of `parameters` that is exactly a template is replaced by the triggering run's
/// value: `{{ run.id }}`, `{{ run.flow }}`, `{{ run.state }}`, `{{ run.parameters }}`,
/// `{{ run.parameters.NAME }}`, `{{ run.result }}`, `{{ run.result.FIELD }}` (null if it has none).
/// They are laid over the deployment's own parameters.
public struct Trigger: Codable, Sendable, Equatable {
    /// The deployment whose runs start it; or
    public var deployment: String?
    /// the flow whose runs start it, by name (any run of it, deployed or not).
    public var flow: String?
    /// The states that start it (default Completed): Completed, Failed, Crashed, TimedOut, Cancelled, Late.
    public var states: [String]?
    /// Only runs whose parameters have these values (each name equal).
    public var matchParameters: [String: JSONValue]?
    /// Only runs whose result has these field values (each field equal); a result that is not an
    /// object matches `{"value": ...}`.
    public var matchResult: [String: JSONValue]?
    /// The triggered run's parameters, with templates filled from the triggering run.
    public var parameters: [String: JSONValue]?

    public init(deployment: String? = nil, flow: String? = nil, states: [String]? = nil,
                matchParameters: [String: JSONValue]? = nil, matchResult: [String: JSONValue]? = nil,
                parameters: [String: JSONValue]? = nil) {
        self.deployment = deployment
        self.flow = flow
        self.states = states
        self.matchParameters = matchParameters
        self.matchResult = matchResult
        self.parameters = parameters
    }

    /// The states a trigger can wait for.
    public static let triggerStates = ["Completed", "Failed", "Crashed", "TimedOut", "Cancelled", "Late"]

    /// What is wrong with it, as the end of a sentence; nil if nothing.
    var problem: String? {
        if (deployment == nil) == (flow == nil) {
            return #"needs one of "deployment" (a deployment's name) or "flow" (a flow's name)"#
        }
        if let bad = (states ?? []).first(where: { !Self.triggerStates.contains($0) }) {
            return "has state '\(bad)', which is not one of: \(Self.triggerStates.joined(separator: ", "))"
        }
        return nil
    }

    var startingStates: [String] { states ?? ["Completed"] }

    /// Whether `run` (a run of the deployment or flow it names) starts it.
    func matches(_ run: FlowRunRecord) -> Bool {
        guard startingStates.contains(run.state) else { return false }
        if let matchParameters {
            guard case .object(let given)? = Self.json(run.parameters) else { return false }
            guard matchParameters.allSatisfy({ given[$0.key] == $0.value }) else { return false }
        }
        if let matchResult {
            let fields: [String: JSONValue]
            switch Self.json(run.result) {
            case .object(let object)?: fields = object
            case let other?: fields = ["value": other]
            case nil: return false
            }
            guard matchResult.allSatisfy({ fields[$0.key] == $0.value }) else { return false }
        }
        return true
    }

    /// The triggered run's parameters: the deployment's, with this trigger's laid over them, templates filled.
    func parameters(for run: FlowRunRecord, over defaults: JSONValue) -> JSONValue {
        guard let parameters, !parameters.isEmpty else { return defaults }
        var merged: [String: JSONValue] = [:]
        if case .object(let base) = defaults { merged = base }
        for (name, value) in parameters { merged[name] = Self.fill(value, from: run) }
        return .object(merged)
    }

    private static func fill(_ value: JSONValue, from run: FlowRunRecord) -> JSONValue {
        guard case .string(let text) = value else { return value }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}") else { return value }
        let path = trimmed.dropFirst(2).dropLast(2).trimmingCharacters(in: .whitespaces).split(separator: ".").map(String.init)
        guard path.first == "run", path.count >= 2 else { return value }
        switch (path[1], path.count) {
        case ("id", 2): return .string(run.id)
        case ("flow", 2): return .string(run.flowName)
        case ("state", 2): return .string(run.state)
        case ("parameters", _), ("result", _):
            var current = json(path[1] == "parameters" ? run.parameters : run.result) ?? .null
            for field in path.dropFirst(2) {
                guard case .object(let object) = current else { return .null }
                current = object[field] ?? .null
            }
            return current
        default: return value
        }
    }

    private static func json(_ text: String?) -> JSONValue? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
