import DequeModule
import Synchronization

/// Counts free slots; `wait` suspends (never blocks a thread) until one is free.
final class AsyncSemaphore: Sendable {
    private struct State {
        var permits: Int
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
    }

    private let state: Mutex<State>

    init(permits: Int) {
        state = Mutex(State(permits: permits))
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLock { state -> Bool in
                if state.permits > 0 {
                    state.permits -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiters.popFirst() { return waiter }
            state.permits += 1
            return nil
        }
        waiter?.resume()
    }

    /// Lets every waiter go at once (the semaphore is being replaced by another).
    func releaseAll() {
        let waiters = state.withLock { state -> Deque<CheckedContinuation<Void, Never>> in
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
