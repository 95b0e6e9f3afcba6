/// Task options held once for every run that uses them: the runs of one `map` share a single copy
/// instead of each holding its own (a `TaskOptions` is a few hundred bytes).
final class SharedTaskOptions: Sendable {
    let value: TaskOptions

    init(_ value: TaskOptions) {
        self.value = value
    }
}
