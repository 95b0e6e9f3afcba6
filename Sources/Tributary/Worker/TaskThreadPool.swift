import DequeModule
import Foundation

/// The threads a worker's task bodies run on: a task executor (SE-0417) of the worker's own, so a
/// body that blocks its thread (a synchronous database driver, a C routine, a file read, `usleep`)
/// holds one of these threads, never one of Swift's cooperative pool, which stays free for the
/// worker's own work (results, acknowledgements, control messages, timeouts).
///
/// A thread starts when a job arrives and no idle thread can take it, up to the limit; idle
/// threads wait for the next job. ``addThread()`` raises the limit by one (a task abandoned at its
/// timeout still holds its thread) and ``removeThread()`` lowers it again once that task returns.
/// Async task code that suspends gives its thread back while it waits, as on any executor.
final class TaskThreadPool: TaskExecutor, @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs = Deque<UnownedJob>()
    private var threads = 0
    private var idle = 0
    private var limit: Int
    private var retiring = 0
    private var closing = false
    private var started = 0
    private let name: String

    /// A pool of at most `threads` threads (at least one), named `name-1`, `name-2`, ... in debuggers.
    init(threads: Int, name: String) {
        self.limit = max(1, threads)
        self.name = name
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        let number = reserveThread()
        if idle > 0 { condition.signal() }
        condition.unlock()
        if let number { startThread(number: number) }
    }

    /// One more thread may run: a body abandoned at its timeout keeps holding one.
    func addThread() {
        condition.lock()
        limit += 1
        let number = reserveThread()
        condition.unlock()
        if let number { startThread(number: number) }
    }

    /// One thread fewer: the abandoned body returned. An idle thread beyond the limit exits.
    func removeThread() {
        condition.lock()
        limit = max(1, limit - 1)
        if threads - retiring > limit {
            retiring += 1
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Lets every thread exit once no job is left for it. A job that arrives later still runs.
    func shutdown() {
        condition.lock()
        closing = true
        condition.broadcast()
        condition.unlock()
    }

    /// With the lock held: when more jobs wait than idle threads can take and the limit allows,
    /// counts one more thread and returns its number, for the caller to start after unlocking.
    private func reserveThread() -> Int? {
        guard jobs.count > idle, threads < limit else { return nil }
        threads += 1
        started += 1
        return started
    }

    private func startThread(number: Int) {
        let thread = Thread { [self] in serveJobs() }
        thread.name = "\(name)-\(number)"
        thread.start()
    }

    private func serveJobs() {
        let executor = asUnownedTaskExecutor()
        condition.lock()
        while true {
            if let job = jobs.popFirst() {
                condition.unlock()
                job.runSynchronously(on: executor)
                condition.lock()
                continue
            }
            if retiring > 0 || closing {
                if retiring > 0 { retiring -= 1 }
                threads -= 1
                condition.unlock()
                return
            }
            idle += 1
            condition.wait()
            idle -= 1
        }
    }
}
