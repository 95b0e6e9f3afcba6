/// What a client says about a task queue its flows wait on.
public enum QueueAlert: Sendable, Equatable {
    /// No worker has taken from `queue` for a few seconds while `waiting` task runs wait on it;
    /// `workerCommand` starts one.
    case unserved(queue: String, waiting: Int, workerCommand: String)
    /// A worker takes from `queue` again (after ``unserved``).
    case served(queue: String)
}
