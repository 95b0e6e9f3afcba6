import DequeModule
import Synchronization

/// Hands a worker's deliveries to its task threads on the thread that brings them (RabbitMQ's
/// connection thread), with no hop through Swift's cooperative pool. At most `concurrency`
/// deliveries are processed at once, and at most a consumer's own limit from that consumer; the
/// rest wait, in arrival order per consumer. A task thread that finishes one starts the next
/// waiting one itself, so a busy worker wakes no thread to take its next task.
final class DeliveryDispatch: Sendable {
    private struct State {
        var waiting: [Deque<TaskDelivery>]
        var running: [Int]
        var runningInAll = 0
        /// Work counted for ``finished()`` besides running deliveries (re-counts).
        var aside = 0
        var openConsumers: Int
        /// The consumer served last, so the next free slot goes to the one after it.
        var lastServed = 0
        var draining = false
        var waiters: [CheckedContinuation<Void, Never>] = []

        var isDone: Bool { openConsumers == 0 && runningInAll == 0 && aside == 0 && waiting.allSatisfy(\.isEmpty) }
    }

    private let state: Mutex<State>
    private let concurrency: Int
    private let limits: [Int?]
    private let executor: TaskThreadPool
    private let process: @Sendable (TaskDelivery) async -> Void

    /// `limits[i]`: at most that many of consumer `i`'s deliveries at once (nil: only
    /// `concurrency` bounds it). `process` runs each delivery, on `executor`.
    init(concurrency: Int, limits: [Int?], executor: TaskThreadPool,
         process: @escaping @Sendable (TaskDelivery) async -> Void) {
        self.concurrency = max(1, concurrency)
        self.limits = limits.map { $0.map { max(1, $0) } }
        self.executor = executor
        self.process = process
        state = Mutex(State(waiting: Array(repeating: [], count: limits.count),
                            running: Array(repeating: 0, count: limits.count), openConsumers: limits.count))
    }

    /// A delivery from consumer `consumer`: started now if a slot is free, or queued. False once
    /// the worker drains: the caller hands it back.
    func submit(_ delivery: TaskDelivery, from consumer: Int) -> Bool {
        let started = state.withLock { state -> Bool? in
            guard !state.draining else { return nil }
            guard state.waiting[consumer].isEmpty, hasSlot(for: consumer, in: state) else {
                state.waiting[consumer].append(delivery)
                return false
            }
            take(consumer, in: &state)
            return true
        }
        if started == true { run(delivery, from: consumer) }
        return started != nil
    }

    /// Runs `work` outside the slots, counted until it returns, so ``finished()`` waits for it.
    func runAside(_ work: @escaping @Sendable () async -> Void) {
        state.withLock { $0.aside += 1 }
        Task {
            await work()
            self.settled { $0.aside -= 1 }
        }
    }

    /// A consumer's deliveries ended (it was stopped, or its connection closed for good).
    func consumerEnded() {
        settled { $0.openConsumers = max(0, $0.openConsumers - 1) }
    }

    /// Starts nothing more; returns the deliveries that were waiting, for the caller to hand back.
    func drain() -> [TaskDelivery] {
        state.withLock { state in
            state.draining = true
            defer { state.waiting = state.waiting.map { _ in [] } }
            return state.waiting.flatMap { $0 }
        }
    }

    /// Returns once every consumer has ended and nothing submitted is still running or waiting;
    /// `ignoringConsumers`: whether or not consumers ended (they were stopped, and may never say so).
    func finished(ignoringConsumers: Bool = false) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if ignoringConsumers { state.openConsumers = 0 }
                if state.isDone { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func hasSlot(for consumer: Int, in state: State) -> Bool {
        state.runningInAll < concurrency && state.running[consumer] < (limits[consumer] ?? .max)
    }

    private func take(_ consumer: Int, in state: inout State) {
        state.running[consumer] += 1
        state.runningInAll += 1
        state.lastServed = consumer
    }

    private func run(_ delivery: TaskDelivery, from consumer: Int) {
        Task(executorPreference: executor) {
            await self.process(delivery)
            self.processed(from: consumer)
        }
    }

    /// A delivery of `consumer` is done: its slot goes to the next waiting delivery, taken in turn
    /// from the consumers after the one served last, and that delivery starts on this thread.
    private func processed(from consumer: Int) {
        var next: (delivery: TaskDelivery, consumer: Int)?
        settled { state in
            state.running[consumer] -= 1
            state.runningInAll -= 1
            guard !state.draining else { return }
            let count = state.waiting.count
            for step in 1...count {
                let candidate = (state.lastServed + step) % count
                guard !state.waiting[candidate].isEmpty, hasSlot(for: candidate, in: state) else { continue }
                take(candidate, in: &state)
                next = (state.waiting[candidate].removeFirst(), candidate)
                return
            }
        }
        if let next {
            // This thread's job ends right after: the next delivery's task runs on it, no wake.
            TaskThreadPool.handingOff { run(next.delivery, from: next.consumer) }
        }
    }

    /// Changes the state, then lets ``finished()`` return if nothing is left.
    private func settled(_ change: (inout State) -> Void) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            change(&state)
            guard state.isDone else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
