import Glibc

/// A value behind a plain pthread mutex, for state that every task thread of a worker touches at
/// each task's start and end.
///
/// Swift's `Mutex` on Linux is a priority-inheritance futex: when threads contend, each one goes
/// to the kernel to wait and to hand the lock on. With 16 task threads on 2 cores finishing a pack's
/// tasks together, perf showed a fifth of a worker's CPU there. An adaptive pthread mutex spins
/// briefly in user space and only then sleeps, which suits these short sections far better. Unlike
/// `Mutex` it does not trap when a thread takes it twice (it waits for ever): a body never calls
/// out to code that could take it again.
final class ThreadLock<Value: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    // Read and written only with `mutex` held.
    private var value: Value

    init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, holding the lock.
    func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
