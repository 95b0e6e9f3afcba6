import Foundation
import Logging
import ServiceLifecycle
import Tributary

/// The server's scheduler: makes each deployment's runs ahead of time (rows keyed by deployment and
/// time, so every server sharing the database makes the same ones), and at each run's time claims
/// it and pushes it onto its work queue, where an agent takes it within milliseconds. A run no
/// agent started within ``SchedulerSettings/lateAfter`` is recorded Late.
///
/// Exactly once: a run's id is fixed by (deployment, scheduled time); only the server whose claim
/// of the row succeeds pushes it; and a run claimed again (its claim handed back after its server
/// died mid-push) is pushed again unless its board shows an agent took it; a copy pushed twice
/// still starts once, since agents claim each take of a run. On time: the boards of runs due in the
/// next 30 s are made ahead with the runs Pending on them, so at its time a first push is one
/// publish, to its work queue.
public struct Scheduler: Service {
    let store: any RunStore
    let pusher: Pusher?
    let settings: SchedulerSettings
    let wakeups: AsyncStream<Void>
    let logger: Logger
    /// This scheduler's name in claims and ticks.
    let id = "scheduler-" + UUID().uuidString.lowercased().prefix(8)
    /// The triggered runs this scheduler has made already, so it does not write them again each pass.
    private let fired = IDSet()
    /// The runs whose boards this scheduler has made ahead of their time.
    private let prepared = PreparedBoards()
    /// The deployments as last read, and when each wants planning again.
    private let cache = DeploymentCache()

    public init(store: any RunStore, pusher: Pusher?, settings: SchedulerSettings = SchedulerSettings(),
                wakeups: AsyncStream<Void>, logger: Logger) {
        self.store = store
        self.pusher = pusher
        self.settings = settings
        self.wakeups = wakeups
        self.logger = logger
    }

    public func run() async throws {
        if pusher == nil {
            logger.warning("the scheduler has no broker (--broker): deployments' runs are made but not started")
        }
        let started = Date().timeIntervalSince1970
        // Runs due while no scheduler ran (none ticked within the grace) follow each deployment's catch-up policy.
        let lastTick = try? await store.lastTick()
        let missed = lastTick.flatMap { $0 < started - settings.lateAfter ? $0...(started - settings.lateAfter) : nil }
        if let missed {
            logger.notice("runs that fell due while no scheduler ran follow their deployments' catch-up policy", metadata: [
                "from": "\(missed.lowerBound)", "to": "\(missed.upperBound)",
            ])
        }
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await loop(missed: missed) }
                group.addTask { try await noteAlive() }
                if let pusher { group.addTask { try await prepareAhead(pusher) } }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// Notes twice a second that this scheduler is alive, on a loop of its own: a pass of the main
    /// loop or of ``prepareAhead(_:)`` can wait seconds on a loaded broker. While the notes come,
    /// no other server takes back this scheduler's claims; after a restart, runs that fell due
    /// since the last note count as missed.
    private func noteAlive() async throws {
        while !Task.isCancelled {
            try? await store.tick(scheduler: id, at: Date().timeIntervalSince1970)
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Makes the boards of the runs due in the next few seconds, each with its run Pending on it, so
    /// that at their time each push is one publish (what lets a thousand runs due at once leave
    /// within a second). A run due in less than ``SchedulerSettings/prepareLead`` is left to its
    /// push, which makes its board itself: a Pending written late could land after the run's
    /// Running.
    private func prepareAhead(_ pusher: Pusher) async throws {
        while !Task.isCancelled {
            let now = Date().timeIntervalSince1970
            let end = now + settings.prepareAhead.timeInterval
            if let soon = try? await store.unclaimedRuns(dueAfter: now, through: end, limit: settings.batch) {
                prepared.forget(dueBefore: now - 60)
                await withTaskGroup(of: Void.self) { group in
                    var running = 0
                    for run in soon {
                        guard run.scheduledAt - Date().timeIntervalSince1970 >= settings.prepareLead,
                              prepared.begin(run) else { continue }
                        if running == settings.parallelBoards {
                            await group.next()
                            running -= 1
                        }
                        running += 1
                        group.addTask { [prepared] in
                            prepared.finish(run, made: (try? await pusher.prepare(run)) != nil)
                        }
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    private func loop(missed: ClosedRange<Double>?) async throws {
        let (timer, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let forward = Task {
            for await _ in wakeups { wake.yield() }
        }
        defer { forward.cancel() }
        var lastPlan = 0.0, missedWindow = missed, wakeup = timer.makeAsyncIterator()
        while !Task.isCancelled {
            let now = Date().timeIntervalSince1970
            var pushed = 0
            do {
                // Due runs first: making the next ones and the bookkeeping can wait a few milliseconds.
                if missedWindow != nil { try await plan(now: now, deployments: try await cache.current(in: store)) }
                pushed = try await push(now: now, missed: missedWindow)
                missedWindow = nil
                if now - lastPlan >= settings.planEvery.timeInterval {
                    let deployments = try await cache.current(in: store)
                    try await plan(now: now, deployments: deployments)
                    try await fireTriggers(now: now, deployments: deployments)
                    lastPlan = now
                }
                _ = try await store.markLate(dueBefore: now - settings.lateAfter, at: now)
                try await store.releaseClaims(before: now - settings.claimTimeout)
            } catch {
                logger.error("the scheduler could not reach its store; trying again", metadata: ["error": "\(error)"])
            }
            try await sleepUntilNextDue(wake: wake, wakeup: &wakeup, madeProgress: pushed > 0)
        }
    }

    /// Sleeps until the next run is due, a second at most, or until woken (a deployment changed).
    /// Runs that are due but held back (a run limit, a failed push, no broker) do not make it spin:
    /// while some are due and a pass pushed none, it sleeps a quarter of a second.
    private func sleepUntilNextDue(wake: AsyncStream<Void>.Continuation, wakeup: inout AsyncStream<Void>.Iterator,
                                   madeProgress: Bool) async throws {
        let now = Date().timeIntervalSince1970
        let next = (try? await store.nextDueTime()) ?? .infinity
        let delay = next > now ? min(next - now, settings.tick.timeInterval) : (madeProgress ? 0 : 0.25)
        let alarm = Task {
            // Rounded up: waking a little early would find nothing due yet.
            try await Task.sleep(for: .milliseconds(Int((delay * 1000).rounded(.up)) + 1))
            wake.yield()
        }
        defer { alarm.cancel() }
        _ = await wakeup.next()
        try Task.checkCancellation()
    }

    /// Makes the next ``SchedulerSettings/runsAhead`` runs of each active deployment's schedules
    /// (within the horizon), and the ones it missed since it last made runs (by its catch-up policy).
    /// A deployment is looked at again once it changed or its next run fell due (an hour at most).
    func plan(now: Double, deployments: [Deployment]) async throws {
        for deployment in deployments where !deployment.paused && !deployment.schedules.isEmpty
            && cache.needsPlanning(deployment, now: now) {
            let through = deployment.scheduledThrough ?? deployment.createdAt
            let horizon = Date(timeIntervalSince1970: now + settings.horizon.timeInterval)
            let missedEnd = Date(timeIntervalSince1970: now - settings.lateAfter)
            let last = Date(timeIntervalSince1970: through)
            let missed = deployment.schedules.flatMap {
                $0.latestTimes(after: last, through: missedEnd, limit: settings.missedLimit)
            }.sorted()
            var runs = CatchupPlan(policy: deployment.catchup, missed: missed).runs(deployment, origin: "schedule")
            // Every schedule's runs are made up to the watermark: the earliest of where each one's
            // next few end (a daily cron's tenth run must not hide an interval's eleventh).
            var watermark = horizon, againAt = now + 3600
            for schedule in deployment.schedules {
                // Due within the grace, then the next few.
                let nowDate = Date(timeIntervalSince1970: now)
                let next = schedule.times(after: nowDate, through: horizon, limit: settings.runsAhead)
                if next.count == settings.runsAhead, let end = next.last { watermark = min(watermark, end) }
                if let first = next.first { againAt = min(againAt, first.timeIntervalSince1970) }
                let ahead = (schedule.times(after: missedEnd, through: nowDate, limit: settings.missedLimit) + next)
                    .filter { $0 > last }
                runs += ahead.map { time in
                    NewScheduledRun(flowRunID: Self.flowRunID(deployment, at: time.timeIntervalSince1970),
                                    scheduledAt: time.timeIntervalSince1970, parameters: deployment.parameters,
                                    origin: "schedule")
                }
            }
            guard !runs.isEmpty || watermark > last else {
                cache.planned(deployment, through: nil, againAt: againAt)
                continue
            }
            // Made only if the deployment is still as read (not saved, paused or deleted meanwhile).
            try await store.addScheduledRuns(runs, deployment: deployment, through: watermark.timeIntervalSince1970,
                                             ifUnchanged: true)
            cache.planned(deployment, through: watermark.timeIntervalSince1970, againAt: againAt)
        }
    }

    /// Makes a run of each deployment whose trigger a run that ended (or went Late) matches: once
    /// per (deployment, trigger, triggering run), since the run's id comes from them. It looks back
    /// ``SchedulerSettings/triggerLookback`` (so a run that ended while the server was down counts
    /// once its events are recorded), never before the deployment was saved or resumed.
    func fireTriggers(now: Double, deployments: [Deployment]) async throws {
        let triggered = deployments.filter { !$0.paused && !$0.triggers.isEmpty }
        guard !triggered.isEmpty else { return }
        let idsByName = Dictionary(deployments.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
        let since = now - settings.triggerLookback.timeInterval
        let flowNames = Set(triggered.flatMap { $0.triggers.compactMap(\.flow) })
        let sourceIDs = Set(triggered.flatMap { $0.triggers.compactMap { $0.deployment.flatMap { idsByName[$0] } } })
        let candidates = try await store.triggeringRuns(since: max(since, triggered.map(\.updatedAt).min() ?? since),
                                                        flowNames: Array(flowNames), deploymentIDs: Array(sourceIDs))
        for deployment in triggered {
            var runs: [NewScheduledRun] = []
            for (index, trigger) in deployment.triggers.enumerated() {
                let sourceID = trigger.deployment.flatMap { idsByName[$0] }
                for run in candidates where (run.endedAt ?? run.createdAt) >= deployment.updatedAt
                    && (trigger.flow.map { $0 == run.flowName } ?? (run.deploymentID != nil && run.deploymentID == sourceID))
                    && trigger.matches(run) {
                    runs.append(NewScheduledRun(
                        flowRunID: Tributary.flowRunID(flowName: deployment.flow,
                                                       idempotencyKey: "trigger \(deployment.id) #\(index) after \(run.id)"),
                        scheduledAt: now, parameters: trigger.parameters(for: run, over: deployment.parameters),
                        origin: "trigger"))
                }
            }
            runs = runs.filter { !fired.contains($0.flowRunID) }
            guard !runs.isEmpty else { continue }
            try await store.addScheduledRuns(runs, deployment: deployment, through: nil, ifUnchanged: true)
            fired.insert(runs.map(\.flowRunID))
        }
    }

    /// Pushes the runs due now onto their work queues, each claimed first; a deployment at its run
    /// limit keeps the rest waiting. Runs due in `missed` (before this scheduler started, while none
    /// ran) follow their deployment's catch-up policy.
    @discardableResult
    func push(now: Double, missed: ClosedRange<Double>?) async throws -> Int {
        let clock = ContinuousClock(), started = clock.now
        let due = try await store.dueRuns(at: now, limit: settings.batch)
        guard !due.isEmpty else { return 0 }
        let deployments = Dictionary(try await cache.current(in: store).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var toPush: [ScheduledRun] = [], toSkip: [(ScheduledRun, String)] = []
        var byDeployment: [String: [ScheduledRun]] = [:]
        for run in due { byDeployment[run.deploymentID, default: []].append(run) }
        let limited = deployments.values.filter { $0.runLimit != nil }.map(\.id)
        let active = try await store.activeRunCounts(deploymentIDs: limited.filter { byDeployment[$0] != nil })
        for (deploymentID, runs) in byDeployment {
            guard let deployment = deployments[deploymentID] else {
                toSkip += runs.map { ($0, "its deployment was deleted") }
                continue
            }
            // A paused deployment's runs by hand still go; its scheduled ones wait (pausing dropped them).
            var pushable = deployment.paused ? runs.filter { $0.origin != "schedule" } : runs
            if let missed {
                let late = runs.filter { $0.origin == "schedule" && missed.contains($0.scheduledAt) }
                let plan = CatchupPlan(policy: deployment.catchup, missed: late.map { Date(timeIntervalSince1970: $0.scheduledAt) })
                let kept = Set(plan.kept.map(\.timeIntervalSince1970))
                toSkip += late.filter { !kept.contains($0.scheduledAt) }.map { ($0, plan.reason) }
                pushable = pushable.filter { !late.contains($0) || kept.contains($0.scheduledAt) }
            }
            if let limit = deployment.runLimit {
                pushable = Array(pushable.prefix(max(0, limit - (active[deploymentID] ?? 0))))
            }
            toPush += pushable
        }
        for (reason, runs) in Dictionary(grouping: toSkip, by: { $0.1 }) {
            try await store.skipRuns(runs.map(\.0.flowRunID), reason: reason, at: now)
            logger.info("skipped runs a deployment missed", metadata: ["runs": "\(runs.count)", "reason": "\(reason)"])
        }
        guard let pusher, !toPush.isEmpty else { return 0 }
        let claiming = clock.now
        let claimed = Set(try await store.claimRuns(toPush.map(\.flowRunID), scheduler: id, at: now))
        let mine = toPush.filter { claimed.contains($0.flowRunID) }
        let publishing = clock.now
        let submitted = await withTaskGroup(of: String?.self) { group in
            var ids: [String] = [], running = 0
            for run in mine {
                guard let deployment = deployments[run.deploymentID] else { continue }
                if running == settings.parallelPushes, let id = await group.next() {
                    running -= 1
                    if let id { ids.append(id) }
                }
                running += 1
                // A run claimed for the first time was never pushed: it goes without a look at its
                // board (in one publish if its board was made ahead). A run claimed again (its claim
                // handed back) may have been pushed already: it goes unless its board says it was taken.
                let first = run.claimedAt == nil
                let upcoming = UpcomingRun(flowRunID: run.flowRunID, flow: deployment.flow,
                                           workQueue: deployment.workQueue, scheduledAt: run.scheduledAt)
                group.addTask { [prepared] in
                    do {
                        let input = try JSONEncoder().encode(run.parameters)
                        await prepared.waitWhilePreparing(run.flowRunID)
                        if first && !prepared.holds(upcoming) { try await pusher.prepare(upcoming) }
                        try await pusher.push(upcoming, Array(input), first)
                        return run.flowRunID
                    } catch {
                        logger.error("could not push a scheduled run; it is tried again", metadata: [
                            "deployment": "\(deployment.name)", "flow-run": "\(run.flowRunID)", "error": "\(error)",
                        ])
                        return nil
                    }
                }
            }
            for await id in group { if let id { ids.append(id) } }
            return ids
        }
        let published = clock.now
        try await store.markSubmitted(submitted, by: id, at: Date().timeIntervalSince1970)
        prepared.remove(submitted)
        logPass(runs: submitted.count, phases: [("reading", claiming - started), ("claiming", publishing - claiming),
                                                 ("publishing", published - publishing),
                                                 ("recording", clock.now - published)])
        // A push that failed is handed back to be claimed again at once.
        let failed = Set(mine.map(\.flowRunID)).subtracting(submitted)
        try await store.releaseClaims(Array(failed))
        return submitted.count
    }

    /// Says where a push pass's time went: at debug level, or as a notice when the pass took over a
    /// second (its runs left that late, on top of when the pass began).
    private func logPass(runs: Int, phases: [(String, Duration)]) {
        let total = phases.reduce(Duration.zero) { $0 + $1.1 }
        var metadata: Logger.Metadata = ["runs": "\(runs)", "seconds": "\(Self.rounded(total))"]
        for (phase, duration) in phases { metadata[phase] = "\(Self.rounded(duration))" }
        if total > .seconds(1) {
            logger.notice("a push of due runs took over a second", metadata: metadata)
        } else {
            logger.debug("pushed due runs", metadata: metadata)
        }
    }

    private static func rounded(_ duration: Duration) -> Double { (duration.timeInterval * 1000).rounded() / 1000 }

    /// A scheduled run's flow-run id: the same deployment and time, the same id, on every server.
    public static func flowRunID(_ deployment: Deployment, at time: Double) -> String {
        Tributary.flowRunID(flowName: deployment.flow,
                            idempotencyKey: "deployment \(deployment.id) at \(Int((time * 1000).rounded()))")
    }
}

/// Which missed runs a catch-up policy starts, and why it skips the rest.
struct CatchupPlan {
    let policy: CatchupPolicy
    let missed: [Date]

    var kept: [Date] {
        switch policy {
        case .all: missed
        case .latest: missed.max().map { [$0] } ?? []
        case .none: []
        }
    }

    var reason: String {
        "missed while no scheduler ran; the deployment's catch-up policy '\(policy.rawValue)' "
            + (policy == .none ? "starts none of them" : "starts only the latest")
    }

    /// The missed runs as rows: kept ones waiting (due at once), the rest skipped.
    func runs(_ deployment: Deployment, origin: String) -> [NewScheduledRun] {
        let keep = Set(kept)
        return missed.map { time in
            NewScheduledRun(flowRunID: Scheduler.flowRunID(deployment, at: time.timeIntervalSince1970),
                            scheduledAt: time.timeIntervalSince1970, parameters: deployment.parameters, origin: origin,
                            skippedBecause: keep.contains(time) ? nil : reason)
        }
    }
}

/// How the scheduler paces itself.
public struct SchedulerSettings: Sendable {
    /// How far ahead runs are made (as Prefect: the next few, up to 100 days ahead).
    public var horizon: Duration = .seconds(100 * 86400)
    /// At most this many runs ahead per schedule.
    public var runsAhead = 10
    /// A run no agent started this long after its time is Late; runs that fell due this long before a
    /// scheduler started, while none ran, are "missed".
    public var lateAfter: Double = 15
    /// At most this many missed runs per schedule are recorded (the latest ones).
    public var missedLimit = 100
    /// How far back triggers look for runs that ended.
    public var triggerLookback: Duration = .seconds(3600)
    /// How often deployments are re-read for new runs to make.
    public var planEvery: Duration = .seconds(1)
    /// The longest the scheduler sleeps between looks at its store.
    public var tick: Duration = .seconds(1)
    /// A claim this old (seconds) whose run was not pushed is handed back.
    public var claimTimeout: Double = 30
    /// Runs due this soon have their boards made ahead.
    public var prepareAhead: Duration = .seconds(30)
    /// A run due sooner than this (seconds) is not made ahead: its push makes its board.
    public var prepareLead: Double = 2
    /// Due runs pushed per pass.
    public var batch = 2000
    /// Due runs pushed at once. Each push waits for the broker's confirms, which come once its
    /// messages are on disk; the broker writes many in one go, so the more in flight, the sooner
    /// the last of a burst is confirmed.
    public var parallelPushes = 1000
    /// Boards made ahead at once (each a declare and a bind, answered in turn).
    public var parallelBoards = 64

    public init() {}
}

/// How the scheduler hands runs to the broker.
public struct Pusher: Sendable {
    /// Makes a run's status board ahead of its time, with the run Pending on it.
    public var prepare: @Sendable (_ run: UpcomingRun) async throws -> Void
    /// Puts a due run on its work queue with its input JSON. On its first push its board was made:
    /// it goes in one publish, with no look at its board. Pushed again (its claim handed back), it
    /// goes unless its board says an agent took it.
    public var push: @Sendable (_ run: UpcomingRun, _ input: [UInt8], _ first: Bool) async throws -> Void

    public init(prepare: @escaping @Sendable (UpcomingRun) async throws -> Void,
                push: @escaping @Sendable (UpcomingRun, [UInt8], Bool) async throws -> Void) {
        self.prepare = prepare
        self.push = push
    }

    /// Pushes through `client`.
    public static func client(_ client: Tributary) -> Pusher {
        Pusher(prepare: { run in
            try await client.prepareSubmission(flowRunID: run.flowRunID, flowNamed: run.flow, workQueue: run.workQueue)
        }, push: { run, input, first in
            if first {
                _ = try await client.submitPrepared(flowNamed: run.flow, input: input, workQueue: run.workQueue,
                                                    flowRunID: run.flowRunID)
            } else {
                _ = try await client.resubmit(flowNamed: run.flow, input: input, workQueue: run.workQueue,
                                              flowRunID: run.flowRunID)
            }
        })
    }
}

/// A set of run ids shared by the scheduler's loops.
final class IDSet: @unchecked Sendable {
    private let lock = NSLock()
    private var ids = Set<String>()

    func contains(_ id: String) -> Bool { lock.withLock { ids.contains(id) } }
    func insert(_ new: [String]) { lock.withLock { ids.formUnion(new) } }
}
