import Foundation

/// Where deployments and the runs their schedules make are kept: the run store's own database, so
/// that servers sharing one PostgreSQL agree on which of them pushes a run.
public protocol DeploymentStore: Sendable {
    /// Creates the deployment, or updates the one of that name (its not-yet-pushed scheduled runs
    /// are dropped, to be made again from the new schedules and parameters).
    func saveDeployment(_ spec: DeploymentSpec, at time: Double) async throws -> Deployment
    func deployments() async throws -> [Deployment]
    /// The deployments of these ids that exist, by name.
    func deployments(ids: [String]) async throws -> [Deployment]
    /// Every deployment's version, by name: cheap to read often (no JSON to decode), so that the
    /// scheduler reads in full only the deployments that changed.
    func deploymentVersions() async throws -> [DeploymentVersion]
    func deployment(named name: String) async throws -> Deployment?
    /// Pauses (dropping its not-yet-pushed scheduled runs) or resumes (making runs from now on, or
    /// from where it stopped with `backfill`) a deployment; nil if there is none of that name.
    func setPaused(_ paused: Bool, deployment name: String, backfill: Bool, at time: Double) async throws -> Deployment?
    /// Deletes a deployment and its not-yet-pushed runs; its past runs stay. False if there was none.
    func deleteDeployment(named name: String) async throws -> Bool
    /// A deployment's runs: when `upcoming`, those not yet pushed, soonest first; else those pushed
    /// or skipped, latest first.
    func scheduledRuns(deploymentID: String, upcoming: Bool, limit: Int) async throws -> [ScheduledRun]

    /// Adds runs (each once: a run id that exists is left as it is), recorded as flow runs in state
    /// Scheduled (or Cancelled, with `reason`, when `skipped`), and moves the deployment's
    /// `scheduledThrough` on to `through`. With `ifUnchanged`, nothing is added if the deployment was
    /// saved, paused or deleted since it was read.
    func addScheduledRuns(_ runs: [NewScheduledRun], deployment: Deployment, through: Double?,
                          ifUnchanged: Bool) async throws
    /// Runs waiting to be pushed that are due at `time` or before, soonest first.
    func dueRuns(at time: Double, limit: Int) async throws -> [ScheduledRun]
    /// The waiting runs never claimed that fall due after `start` and by `end`, soonest first (the
    /// runs whose boards the scheduler makes ahead; no parameters to decode).
    func unclaimedRuns(dueAfter start: Double, through end: Double, limit: Int) async throws -> [UpcomingRun]
    /// The first time a waiting run falls due, if any.
    func nextDueTime() async throws -> Double?
    /// Claims waiting runs for `scheduler`; returns the ids it got (another scheduler may have claimed the rest).
    func claimRuns(_ ids: [String], scheduler: String, at time: Double) async throws -> [String]
    /// Records pushed the runs `scheduler` still holds claims of.
    func markSubmitted(_ ids: [String], by scheduler: String, at time: Double) async throws
    /// Records waiting runs as skipped: their flow runs Cancelled with `reason`.
    func skipRuns(_ ids: [String], reason: String, at time: Double) async throws
    /// Hands back claims older than `time` of schedulers not heard from since then (one that died
    /// between claiming and pushing).
    func releaseClaims(before time: Double) async throws
    /// Hands these claims back at once (their push failed).
    func releaseClaims(_ ids: [String]) async throws
    /// Records Late the runs due before `time` that no agent has started; returns how many.
    func markLate(dueBefore time: Double, at now: Double) async throws -> Int
    /// How many runs of each of these deployments are pushed and not yet ended.
    func activeRunCounts(deploymentIDs: [String]) async throws -> [String: Int]
    /// Deployments' runs not yet pushed onto `workQueue` (every work queue's when nil), soonest first.
    func upcomingRuns(workQueue: String?, limit: Int) async throws -> [ScheduledRun]
    /// How many deployments' runs wait to be pushed onto each work queue.
    func upcomingCounts() async throws -> [String: Int]
    /// Runs of these flows or deployments that ended at `since` or later, or are Late (created since then).
    func triggeringRuns(since: Double, flowNames: [String], deploymentIDs: [String]) async throws -> [FlowRunRecord]
    /// Notes that `scheduler` ran at `time`.
    func tick(scheduler: String, at time: Double) async throws
    /// When any scheduler last ran.
    func lastTick() async throws -> Double?
}

/// A run for ``DeploymentStore/addScheduledRuns(_:deployment:through:ifUnchanged:)``.
public struct NewScheduledRun: Sendable, Equatable {
    public var flowRunID: String
    public var scheduledAt: Double
    public var parameters: JSONValue
    public var origin: String
    /// Recorded skipped (Cancelled) rather than waiting, with this reason.
    public var skippedBecause: String?

    public init(flowRunID: String, scheduledAt: Double, parameters: JSONValue, origin: String,
                skippedBecause: String? = nil) {
        self.flowRunID = flowRunID
        self.scheduledAt = scheduledAt
        self.parameters = parameters
        self.origin = origin
        self.skippedBecause = skippedBecause
    }
}
