import Tributary

/// Fetches one page from a simulated API that answers 503 on the first try for every third page,
/// so retries show.
public struct Extract: TaskDefinition {
    public struct ServiceUnavailable: Error, CustomStringConvertible {
        public let page: Int
        public var description: String { "503 Service Unavailable from the export API (page \(page))" }
    }

    public static let name = "extract"
    public static let options = TaskOptions(retries: 3, retryDelay: .exponential(base: .milliseconds(50), jitter: 0.1),
                                            timeout: .seconds(30), cache: PipelineCache.policy)
    public init() {}
    public func run(_ page: Int, context: TaskContext) async throws -> [String] {
        if page % 3 == 1 && context.attempt == 1 { throw ServiceUnavailable(page: page) }
        return SimulatedSource.page(page)
    }
}

/// Rows that passed validation, and why the others did not.
public struct ValidatedRows: Codable, Sendable, Equatable {
    public var rows: [[Double]]
    public var rejected: [String]
}

/// Parses CSV rows into numbers; a malformed row is rejected with a reason, never guessed at.
public struct Validate: TaskDefinition {
    public static let name = "validate"
    public static let options = TaskOptions(cache: PipelineCache.policy)
    public init() {}
    public func run(_ lines: [String], context: TaskContext) async throws -> ValidatedRows {
        var result = ValidatedRows(rows: [], rejected: [])
        for (index, line) in lines.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count == 4 else {
                result.rejected.append("row \(index): expected 4 fields, found \(fields.count)")
                continue
            }
            let numbers = fields.compactMap { Double($0) }
            guard numbers.count == 4 else {
                result.rejected.append("row \(index): not a number in '\(line)'")
                continue
            }
            result.rows.append(numbers)
        }
        return result
    }
}

/// A ridge-regression model: intercept and three weights.
public struct Model: Codable, Sendable, Equatable {
    public var alpha: Double
    public var weights: [Double]
}

/// Fits ridge regression (least squares with an L2 penalty `alpha`) on the training rows.
public struct Train: TaskDefinition {
    public struct Input: Codable, Sendable {
        public var rows: [[Double]]
        public var alpha: Double
    }

    public static let name = "train"
    public static let options = TaskOptions(cache: PipelineCache.policy)
    public init() {}
    public func run(_ input: Input, context: TaskContext) async throws -> Model {
        Model(alpha: input.alpha, weights: try LeastSquares.fitRidge(rows: input.rows, alpha: input.alpha))
    }
}

/// The R² of a model on held-out rows.
public struct Evaluate: TaskDefinition {
    public struct Input: Codable, Sendable {
        public var rows: [[Double]]
        public var model: Model
    }

    public struct Score: Codable, Sendable, Equatable {
        public var alpha: Double
        public var r2: Double
    }

    public static let name = "evaluate"
    public init() {}
    public func run(_ input: Input, context: TaskContext) async throws -> Score {
        Score(alpha: input.model.alpha, r2: LeastSquares.r2(rows: input.rows, weights: input.model.weights))
    }
}

/// Records a model as the one in production; run only when it beats the threshold.
public struct Promote: TaskDefinition {
    public static let name = "promote"
    public init() {}
    public func run(_ score: Evaluate.Score, context: TaskContext) async throws -> String {
        "ridge-alpha-\(score.alpha)"
    }
}

/// The pipeline's expensive steps (extract, validate, train) keep their results for an hour, so a
/// re-run (after a failure downstream, say) skips them.
enum PipelineCache {
    static let policy = CachePolicy.inputs(version: "1", expiration: .seconds(3600))
}

/// The R² of the model now in production, from a model registry. The simulated registry is empty
/// until a baseline is given, and then this fails: the flow branches on that failure.
public struct FetchBaseline: TaskDefinition {
    public struct RegistryEmpty: Error, NonRetryableError, CustomStringConvertible {
        public var description: String { "the model registry has no production model yet" }
    }

    public static let name = "fetch-baseline"
    public init() {}
    public func run(_ baseline: Double?, context: TaskContext) async throws -> Double {
        guard let baseline else { throw RegistryEmpty() }
        return baseline
    }
}
