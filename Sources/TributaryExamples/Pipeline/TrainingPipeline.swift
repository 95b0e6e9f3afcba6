import Tributary

/// The demo: extract pages from a flaky API (retries), validate rows (malformed ones rejected and
/// counted), train ridge models over several alphas in parallel, evaluate them on held-out rows,
/// and promote the best only if it beats the threshold — a branch decided at run time.
public struct TrainingPipeline: FlowDefinition {
    public struct Input: Codable, Sendable {
        public var pages: Int
        public var alphas: [Double]
        public var threshold: Double
        public init(pages: Int = 6, alphas: [Double] = [0, 0.1, 1, 10, 100], threshold: Double = 0.95) {
            self.pages = pages
            self.alphas = alphas
            self.threshold = threshold
        }
    }

    public struct Summary: Codable, Sendable, Equatable {
        public var rowsAccepted: Int
        public var rowsRejected: Int
        public var firstRejection: String?
        public var scores: [Evaluate.Score]
        public var best: Evaluate.Score
        public var promoted: String?
        public var decision: String
    }

    public struct NoData: Error, NonRetryableError, CustomStringConvertible {
        public var description: String { "no valid rows were extracted; nothing to train on" }
    }

    public static let name = "training-pipeline"
    public init() {}

    public func run(_ input: Input, flow: FlowContext) async throws -> Summary {
        let pages = try await flow.map(Extract.self, over: 0..<input.pages).values()
        let validated = try await flow.map(Validate.self, over: pages).values()
        let rows = validated.flatMap(\.rows)
        let rejected = validated.flatMap(\.rejected)
        guard rows.count >= 10 else { throw NoData() }
        let split = rows.count * 4 / 5
        let training = Array(rows[..<split]), holdout = Array(rows[split...])
        flow.logger.info("validated \(rows.count) rows, rejected \(rejected.count)")

        let models = await flow.map(Train.self, over: input.alphas.map { Train.Input(rows: training, alpha: $0) })
        var evaluations: [TaskFuture<Evaluate.Score>] = []
        for model in models {
            evaluations.append(await flow.submit(Evaluate.self, .init(rows: holdout, model: try await model.value)))
        }
        let scores = try await evaluations.values()
        let best = scores.max { $0.r2 < $1.r2 }!
        var summary = Summary(rowsAccepted: rows.count, rowsRejected: rejected.count, firstRejection: rejected.first,
                              scores: scores, best: best, promoted: nil, decision: "")
        if best.r2 > input.threshold {
            summary.promoted = try await flow.call(Promote.self, best)
            summary.decision = "promoted: R² \(rounded(best.r2)) beats the threshold \(input.threshold)"
        } else {
            summary.decision = "kept the current model: R² \(rounded(best.r2)) does not beat \(input.threshold)"
        }
        return summary
    }

    private func rounded(_ x: Double) -> String {
        String(Double(Int(x * 10_000)) / 10_000)
    }
}
