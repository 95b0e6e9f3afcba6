import Foundation
import Synchronization
import Tributary

/// A live line on stderr: submitted / running / completed / failed / retrying, redrawn at most
/// ten times a second.
final class ProgressLine: Sendable {
    private struct Counts {
        var states: [String: TaskState] = [:]
        var submitted = 0
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
            + " | failed \(failed) | retrying \(byName["Retrying"] ?? 0)   "
    }
}
