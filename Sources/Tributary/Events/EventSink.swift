/// Where a client's coordinators send the events of their runs: the broker or a store (an
/// ``EventPublisher``), or nowhere when events are off.
public protocol EventSink: Sendable {
    /// Takes an event; never blocks and never fails the run (events are observability, not control).
    func record(_ event: RunEvent)
    /// A number that orders this process's events of one run (it only grows).
    func nextSequence() -> Int
    /// Sends what it holds and stops taking events (the client closes its sink as it closes).
    func close() async
}
