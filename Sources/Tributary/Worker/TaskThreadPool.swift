import DequeModule
import Foundation
import Synchronization

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
    /// Threads that just ran out of jobs and look for one a moment before they sleep (at most one).
    private var spinning = 0
    /// `jobs.count`, for a spinning thread to read without the lock.
    private let queued = Atomic<Int>(0)
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
        let thread = PoolThread.current
        condition.lock()
        if let thread, thread.handingOff, thread.pool === self, !thread.holdsHandedOffJob {
            // This thread runs it next, as soon as it gives its current job back: no other wakes.
            // One such job at a time: another meanwhile wakes a thread, which may take either.
            thread.holdsHandedOffJob = true
            jobs.prepend(job)
            condition.unlock()
            return
        }
        jobs.append(job)
        queued.store(jobs.count, ordering: .relaxed)
        let number = reserveThread()
        // A spinning thread takes it without being woken; one more job than spinning threads wakes one.
        if jobs.count > spinning, idle > 0 { condition.signal() }
        condition.unlock()
        if let number { startThread(number: number) }
    }

    /// Runs `body` (on one of a pool's threads) so that a job it enqueues on that pool goes to the
    /// front of the queue without waking another thread. Only for code whose task gives its thread
    /// back soon after `body` (it suspends, or ends): that thread then runs the job itself. A thread
    /// holds one such job at a time; the next one it enqueues before running it wakes a thread as
    /// usual. On any other thread it just runs `body`.
    static func handingOff<T>(_ body: () throws -> T) rethrows -> T {
        guard let thread = PoolThread.current else { return try body() }
        thread.handingOff = true
        defer { thread.handingOff = false }
        return try body()
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
        guard jobs.count > idle + spinning, threads < limit else { return nil }
        threads += 1
        started += 1
        return started
    }

    private func startThread(number: Int) {
        let thread = Thread { [self] in serveJobs() }
        thread.name = "\(name)-\(number)"
        thread.start()
    }

    /// How long a thread out of jobs keeps looking for one before it sleeps. Quick tasks often come
    /// one right after another: the thread that ran the last takes the next without a wake-up
    /// (a futex wake and a context switch each way, the largest cost of a quick task on a VM).
    private static let spin = Duration.microseconds(50)

    /// Yields the core (to the connection thread that brings the next delivery, say) until a job
    /// is queued or ``spin`` has passed.
    private func spinForJob() {
        let deadline = ContinuousClock.now.advanced(by: Self.spin)
        while queued.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline {
            sched_yield()
        }
    }

    /// Linux's `SCHED_BATCH`, which Glibc's Swift module does not export.
    private static let batchPolicy: Int32 = 3

    private func serveJobs() {
        // A task thread runs under SCHED_BATCH: it keeps the fair share of a core any thread has,
        // but once woken it waits for the running thread's time slice to end instead of preempting
        // it (the connection thread that woke it, say). Measured: fanout a few per cent faster,
        // nothing slower (benchmarks/RESULTS.md, session 18). A thread that cannot switch keeps
        // the default policy.
        var parameters = sched_param(sched_priority: 0)
        _ = sched_setscheduler(0, Self.batchPolicy, &parameters)
        let executor = asUnownedTaskExecutor()
        let thread = PoolThread(pool: self)
        PoolThread.current = thread
        defer { PoolThread.current = nil }
        condition.lock()
        var spun = false
        while true {
            if let job = jobs.popFirst() {
                queued.store(jobs.count, ordering: .relaxed)
                thread.holdsHandedOffJob = false
                spun = false
                condition.unlock()
                job.runSynchronously(on: executor)
                condition.lock()
                continue
            }
            if !spun, spinning == 0, !closing, retiring == 0 {
                spinning += 1
                condition.unlock()
                spinForJob()
                condition.lock()
                spinning -= 1
                spun = true
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

/// What a pool's own thread knows of itself: its pool, and whether it is handing off a job now.
/// Used by that thread alone.
private final class PoolThread {
    unowned let pool: TaskThreadPool
    var handingOff = false
    /// A job it handed to itself waits at the front of the queue (guarded by the pool's lock).
    var holdsHandedOffJob = false

    init(pool: TaskThreadPool) {
        self.pool = pool
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The calling thread's record, if it is a pool's thread.
    static var current: PoolThread? {
        get { pthread_getspecific(key).map { Unmanaged<PoolThread>.fromOpaque($0).takeUnretainedValue() } }
        set {
            if let old = pthread_getspecific(key) { Unmanaged<PoolThread>.fromOpaque(old).release() }
            pthread_setspecific(key, newValue.map { Unmanaged.passRetained($0).toOpaque() })
        }
    }
}
