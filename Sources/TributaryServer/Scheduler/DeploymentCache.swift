import Synchronization

/// The deployments as the scheduler last read them, and when each wants its runs made further
/// ahead. The scheduler looks at its deployments several times a second; with a thousand of them,
/// reading and decoding them all each time was most of the server's work. Each pass now reads
/// only their versions, and in full only those whose version changed (saved, paused, deleted, or
/// planned ahead by any server sharing the database).
final class DeploymentCache: Sendable {
    private struct Plan {
        /// The deployment's version when it was last planned.
        var version: DeploymentVersion
        /// When planning it again would make a run more: its next run falls due then.
        var againAt: Double
    }

    private struct State {
        var deployments: [String: Deployment] = [:]
        var plans: [String: Plan] = [:]
    }

    private let state = Mutex(State())

    /// Every deployment as it is in `store` now, by name.
    func current(in store: any DeploymentStore) async throws -> [Deployment] {
        let versions = try await store.deploymentVersions()
        let changed = state.withLock { state in versions.filter { state.deployments[$0.id]?.version != $0 }.map(\.id) }
        let reread = try await store.deployments(ids: changed)
        return state.withLock { state in
            let live = Set(versions.map(\.id))
            state.deployments = state.deployments.filter { live.contains($0.key) }
            state.plans = state.plans.filter { live.contains($0.key) }
            for deployment in reread { state.deployments[deployment.id] = deployment }
            return versions.compactMap { state.deployments[$0.id] }
        }
    }

    /// Whether `deployment` may have runs to make: it changed since it was last planned, or a run
    /// of it fell due since.
    func needsPlanning(_ deployment: Deployment, now: Double) -> Bool {
        state.withLock { state in
            guard let plan = state.plans[deployment.id] else { return true }
            return plan.version != deployment.version || now >= plan.againAt
        }
    }

    /// Notes that `deployment`, as read, was planned, its runs made through `through` if that moved
    /// (as the store moves it: never back); its next run falls due at `againAt`.
    func planned(_ deployment: Deployment, through: Double?, againAt: Double) {
        var version = deployment.version
        if let through { version.scheduledThrough = max(version.scheduledThrough ?? through, through) }
        state.withLock { $0.plans[deployment.id] = Plan(version: version, againAt: againAt) }
    }
}
