import Foundation
import Synchronization

/// The journal of one submitted flow run and its subflows: the durable queues its coordinators
/// read task results from (one per flow attempt and per subflow, see ``Broker/openJournal``), so
/// that an agent that resumes the run after its agent died finds the results of the calls made
/// before. Deleted once the run has ended and its end is recorded.
final class RunJournal: Sendable {
    /// How long an unused journal queue stays if nobody deletes it (its run's agents all died).
    let retention: Duration
    /// Which take of the run this is: 1, then one more each time another agent resumed it. Every
    /// task message of the run carries it, so workers drop those of a coordinator that lost the run.
    let epoch: Int
    /// When the run was first started, by the agent of its first take: a resumed run's flow
    /// timeout counts from then.
    let firstStarted: Date
    /// The agent running this take of the run, and the work queue it came from (for its events).
    let agentID: String?
    let workQueue: String?
    /// Whether this agent still has the run (no other agent has resumed it since), asked before a
    /// publish the connection dropped is sent again.
    private let stillOwned: @Sendable () async -> Bool
    private let opened = Mutex<[String: any Broker]>([:])
    private let abandonedFlag = Atomic<Bool>(false)

    init(retention: Duration, epoch: Int = 1, firstStarted: Date = Date(), agentID: String? = nil,
         workQueue: String? = nil, stillOwned: @escaping @Sendable () async -> Bool = { true }) {
        self.retention = retention
        self.agentID = agentID
        self.workQueue = workQueue
        self.epoch = epoch
        self.firstStarted = firstStarted
        self.stillOwned = stillOwned
    }

    /// Asks whether the run is still this agent's; if not, marks it abandoned.
    func checkOwnership() async -> Bool {
        if isAbandoned { return false }
        if await stillOwned() { return true }
        abandon()
        return false
    }

    /// Another agent has resumed the run: this execution stops without a word to workers or
    /// hooks, and leaves the run's journal and status to the other.
    func abandon() {
        abandonedFlag.store(true, ordering: .releasing)
    }

    var isAbandoned: Bool { abandonedFlag.load(ordering: .acquiring) }

    func record(_ name: String, on broker: any Broker) {
        opened.withLock { $0[name] = broker }
    }

    /// Deletes every journal queue the run opened in this process.
    func deleteAll() async {
        for (name, broker) in opened.withLock({ $0 }) { await broker.deleteJournal(named: name) }
    }

    /// An id that is the same in every execution of the run for the same text: a UUID made of
    /// the text's SHA-256, so subflow runs keep their ids when the run is resumed.
    static func uuid(from text: String) -> String {
        let hex = SHA256Digest.hex(Array(text.utf8), prefix: 16)
        let cuts = [8, 12, 16, 20].map { hex.index(hex.startIndex, offsetBy: $0) }
        return [hex[..<cuts[0]], hex[cuts[0]..<cuts[1]], hex[cuts[1]..<cuts[2]], hex[cuts[2]..<cuts[3]],
                hex[cuts[3]...]].joined(separator: "-")
    }
}

/// What one coordinator of a journaled run knows of calls made before a takeover: results read
/// back from its journal by task-run id, and how many times each call was made so far in this
/// execution (a call is its task's name and input; the n-th such call gets the same id in
/// every execution, whatever order concurrent code makes calls in).
final class JournalReplay: Sendable {
    private let results = Mutex<[String: [ResultMessage]]>([:])
    private let calls = Mutex<[String: Int]>([:])
    private let received = Atomic<Int>(0)

    /// The id's suffix for a call of `taskName` with `input`: a digest of both and its count.
    func callKey(taskName: String, input: [UInt8]) -> String {
        var bytes = Array(taskName.utf8)
        bytes.append(0)
        bytes.append(contentsOf: input)
        let digest = SHA256Digest.hex(bytes, prefix: 8)
        let count = calls.withLock { calls -> Int in
            calls[digest, default: 0] += 1
            return calls[digest]!
        }
        return "\(digest)-\(count)"
    }

    /// The id of the n-th subflow named `name` of the run attempt `prefix`.
    func subflowRunID(prefix: String, name: String) -> String {
        let key = "subflow\u{0}\(name)"
        let count = calls.withLock { calls -> Int in
            calls[key, default: 0] += 1
            return calls[key]!
        }
        return RunJournal.uuid(from: "\(prefix)\u{0}\(key)\u{0}\(count)")
    }

    /// Keeps a result for a run this execution has not submitted (yet).
    func keep(_ result: ResultMessage) {
        results.withLock { $0[result.taskRunID, default: []].append(result) }
    }

    /// The results kept for a run, forgotten here once taken.
    func take(_ taskRunID: String) -> [ResultMessage]? {
        results.withLock { $0.removeValue(forKey: taskRunID) }
    }

    /// Counts a message read from the journal (a result, a pack of them, or a malformed one).
    func counted() {
        received.add(1, ordering: .relaxed)
    }

    /// How long after a takeover a call with no result in the journal waits before it is sent
    /// again: time for the results of tasks that finished as the old agent died to reach the
    /// journal, so a task that finished is not run again.
    static let takeoverGrace = Duration.seconds(1)
    private let graceEnd = Mutex<ContinuousClock.Instant?>(nil)

    /// Until when calls with no result wait (nil: the run was not taken over, or the grace is over).
    var takeoverGraceEnd: ContinuousClock.Instant? {
        graceEnd.withLock { end in
            if let deadline = end, deadline <= .now { end = nil }
            return end
        }
    }

    /// Waits until the `held` messages the journal had when it was opened have been read, so a
    /// call made at once finds its result (giving up only when none has come for `stall`), and
    /// starts the takeover grace.
    func waitForReplay(of held: Int, stall: Duration = .seconds(5)) async {
        var lastCount = received.load(ordering: .relaxed)
        var lastProgress = ContinuousClock.now
        // Only a resumed run waits here, once, for messages already on their way.
        while lastCount < held, lastProgress.duration(to: .now) < stall {
            try? await Task.sleep(for: .milliseconds(2))
            let count = received.load(ordering: .relaxed)
            if count > lastCount { (lastCount, lastProgress) = (count, .now) }
        }
        graceEnd.withLock { $0 = .now + Self.takeoverGrace }
    }
}
