import Tributary

/// `x + 1`: the unit of the fan-out and chain benchmarks.
public struct Increment: TaskDefinition {
    public static let name = "inc"
    public init() {}
    public func run(_ x: Int, context: TaskContext) async throws -> Int { x + 1 }
}

/// `x * x`.
public struct Square: TaskDefinition {
    public static let name = "square"
    public init() {}
    public func run(_ x: Int, context: TaskContext) async throws -> Int { x * x }
}

/// The sum of a list.
public struct Sum: TaskDefinition {
    public static let name = "sum"
    public init() {}
    public func run(_ xs: [Int], context: TaskContext) async throws -> Int { xs.reduce(0, +) }
}
