import Foundation
import Tributary

/// What a deployment is made from: a flow by name, the parameters its runs get, the work queue
/// they go to, and when they start on their own. `POST /api/deployments`, `trib deployment create`
/// and `tributary.yaml` all give one; creating a deployment whose name exists updates it.
public struct DeploymentSpec: Codable, Sendable, Equatable {
    public var name: String
    /// The flow's registered name: an agent on the work queue must have it.
    public var flow: String
    /// The flow's input: a JSON object (its parameters by name), or any JSON the flow takes.
    public var parameters: JSONValue?
    public var workQueue: String?
    public var schedules: [Schedule]?
    public var tags: [String]?
    public var description: String?
    /// At most this many of its runs at once (Pending, Late or Running); the next waits for one to end.
    public var runLimit: Int?
    public var paused: Bool?
    /// What a restarted scheduler does with runs that fell due while no scheduler ran.
    public var catchup: CatchupPolicy?
    /// Other runs whose end starts one of this deployment's.
    public var triggers: [Trigger]?

    public init(name: String, flow: String, parameters: JSONValue? = nil, workQueue: String? = nil,
                schedules: [Schedule]? = nil, tags: [String]? = nil, description: String? = nil,
                runLimit: Int? = nil, paused: Bool? = nil, catchup: CatchupPolicy? = nil, triggers: [Trigger]? = nil) {
        self.name = name
        self.flow = flow
        self.parameters = parameters
        self.workQueue = workQueue
        self.schedules = schedules
        self.tags = tags
        self.description = description
        self.runLimit = runLimit
        self.paused = paused
        self.catchup = catchup
        self.triggers = triggers
    }

    /// Throws ``ScheduleError`` naming the field that is wrong and what it takes.
    public func validate() throws {
        if let problem = Self.nameProblem(name) { throw ScheduleError(problem) }
        guard !flow.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ScheduleError("deployment '\(name)': 'flow' must name a flow an agent has registered")
        }
        if let workQueue, let problem = Tributary.workQueueNameProblem(workQueue) {
            throw ScheduleError("deployment '\(name)': \(problem)")
        }
        if let runLimit, runLimit < 1 {
            throw ScheduleError("deployment '\(name)': 'runLimit' must be 1 or more, not \(runLimit)")
        }
        if let tags, let bad = tags.first(where: { $0.isEmpty || $0.unicodeScalars.count > 100 }) {
            throw ScheduleError("deployment '\(name)': tag '\(bad)' must be 1 to 100 characters")
        }
        for (index, trigger) in (triggers ?? []).enumerated() {
            if let problem = trigger.problem {
                throw ScheduleError("deployment '\(name)': trigger \(index + 1) \(problem)")
            }
        }
    }

    /// What is wrong with `name` as a deployment's name (1 to 200 ASCII letters, digits, '-', '_' or '.'); nil if nothing.
    public static func nameProblem(_ name: String) -> String? {
        let valid = !name.isEmpty && name.count <= 200 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        return valid ? nil : "deployment name '\(name)' must be 1 to 200 ASCII letters, digits, '-', '_' or '.'"
    }
}

/// What a scheduler that starts after a time with no scheduler running does with the runs that
/// fell due meanwhile (Prefect's "catchup"): start only the latest of them (the default), all of
/// them, or none. Runs it does not start are recorded Cancelled, saying why.
public enum CatchupPolicy: String, Codable, Sendable, CaseIterable {
    case latest, all, none
}

/// A deployment as the server keeps it.
public struct Deployment: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var flow: String
    public var parameters: JSONValue
    public var workQueue: String
    public var schedules: [Schedule]
    public var tags: [String]
    public var description: String?
    public var runLimit: Int?
    public var paused: Bool
    public var catchup: CatchupPolicy
    public var triggers: [Trigger]
    public var createdAt: Double
    public var updatedAt: Double
    /// The scheduler has made this deployment's runs due up to this time (seconds since 1970).
    public var scheduledThrough: Double?

    /// Whether saving `spec` would leave it as it is (a spec that leaves `paused` out keeps it).
    func isSame(as spec: DeploymentSpec) -> Bool {
        name == spec.name && flow == spec.flow && parameters == (spec.parameters ?? .object([:]))
            && workQueue == (spec.workQueue ?? "default") && schedules == (spec.schedules ?? [])
            && tags == (spec.tags ?? []) && description == spec.description && runLimit == spec.runLimit
            && paused == (spec.paused ?? paused) && catchup == (spec.catchup ?? .latest)
            && triggers == (spec.triggers ?? [])
    }
}

/// What changes whenever a deployment does: saved or paused (`updatedAt`), or its runs made further
/// ahead by a scheduler (`scheduledThrough`).
public struct DeploymentVersion: Sendable, Equatable {
    public var id: String
    public var updatedAt: Double
    public var scheduledThrough: Double?
}

extension Deployment {
    /// This deployment's version as read.
    var version: DeploymentVersion { DeploymentVersion(id: id, updatedAt: updatedAt, scheduledThrough: scheduledThrough) }
}

/// A run a deployment made or will make: on its schedule, by hand (`trib deployment run`), or by a trigger.
public struct ScheduledRun: Codable, Sendable, Equatable {
    public var flowRunID: String
    public var deploymentID: String
    public var deployment: String?
    /// When it is due (seconds since 1970).
    public var scheduledAt: Double
    public var parameters: JSONValue
    public var origin: String
    /// waiting, claimed, submitted, settled or skipped (see the store's schema).
    public var status: String
    /// The flow run's state in the store now.
    public var state: String?
    /// When a server pushed it onto its work queue (seconds since 1970).
    public var submittedAt: Double?
    /// When a server last claimed it: set on a run waiting again, its claim handed back.
    public var claimedAt: Double?
}

/// A run due soon whose status board the scheduler makes ahead: what its Pending status names.
public struct UpcomingRun: Sendable, Equatable {
    public var flowRunID: String
    public var flow: String
    public var workQueue: String
    /// When it is due (seconds since 1970).
    public var scheduledAt: Double
}
