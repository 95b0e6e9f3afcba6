import Foundation
import Synchronization
import Tributary

/// A live line on stderr: submitted / running / completed / failed / retrying, and the queues
/// that no worker takes from, redrawn at most ten times a second.
final class ProgressLine: Sendable {
    private struct Counts {
        var states: [String: TaskState] = [:]
        var submitted = 0
        /// Queues with no worker, and how many task runs waited on each when that was noticed.
        var unserved: [String: Int] = [:]
        var lastDraw = ContinuousClock.now - .seconds(1)
    }

    private let enabled: Bool
    private let counts = Mutex(Counts())

    init(enabled: Bool) {
        self.enabled = enabled
    }

    func record(_ event: TaskEvent) {
        guard enabled else { return }
        let line = counts.withLock { counts -> String? in
            if counts.states[event.taskRunID] == nil { counts.submitted += 1 }
            counts.states[event.taskRunID] = event.state
            let now = ContinuousClock.now
            guard counts.lastDraw.duration(to: now) > .milliseconds(100) else { return nil }
            counts.lastDraw = now
            return Self.render(counts)
        }
        if let line { FileHandle.standardError.write(Data(("\r" + line).utf8)) }
    }

    func record(_ alert: QueueAlert) {
        guard enabled else { return }
        let line = counts.withLock { counts -> String in
            switch alert {
            case .unserved(let queue, let waiting, _): counts.unserved[queue] = waiting
            case .served(let queue): counts.unserved.removeValue(forKey: queue)
            }
            return Self.render(counts)
        }
        // Drawn at once: it may be the only thing that changed for a while. The padding wipes a longer line.
        FileHandle.standardError.write(Data(("\r" + line + String(repeating: " ", count: 30)).utf8))
    }

    func finish() {
        guard enabled else { return }
        let line = counts.withLock { Self.render($0) }
        FileHandle.standardError.write(Data(("\r" + line + "\n").utf8))
    }

    private static func render(_ counts: Counts) -> String {
        var byName: [String: Int] = [:]
        for state in counts.states.values { byName[state.name, default: 0] += 1 }
        let failed = (byName["Failed"] ?? 0) + (byName["Crashed"] ?? 0) + (byName["TimedOut"] ?? 0)
            + (byName["Cancelled"] ?? 0)
        return "submitted \(counts.submitted) | running \(byName["Running"] ?? 0) | completed \(byName["Completed"] ?? 0)"
            + " | failed \(failed) | retrying \(byName["Retrying"] ?? 0)"
            + counts.unserved.sorted { $0.key < $1.key }.map { " | no worker on queue '\($0.key)' (\($0.value) waiting)" }.joined()
            + "   "
    }
}
