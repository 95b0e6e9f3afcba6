import Foundation
import Tributary
import TributaryWebhooks

/// The demo: extract pages from a flaky API (retries), validate rows (malformed ones rejected and
/// counted), train ridge models over several alphas in parallel, evaluate them on held-out rows,
/// and promote the best only if it beats the threshold and the production model — a branch
/// decided at run time. Extract, validate and train are cached, so a re-run skips them; fetching
/// the production model's score may fail, and the flow takes another branch when it does. Its
/// hooks send a notification when it ends (to the log, and to `TRIB_WEBHOOK_URL` if set).
public struct TrainingPipeline: FlowDefinition {
    public struct Input: Codable, Sendable {
        public var pages: Int
        public var alphas: [Double]
        public var threshold: Double
        /// The production model's R², as the (simulated) model registry knows it; nil: none yet.
        public var baseline: Double?
        public init(pages: Int = 6, alphas: [Double] = [0, 0.1, 1, 10, 100], threshold: Double = 0.95,
                    baseline: Double? = nil) {
            self.pages = pages
            self.alphas = alphas
            self.threshold = threshold
            self.baseline = baseline
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
        /// What the flow compared against: the production model, or the threshold alone when
        /// fetching it failed.
        public var comparedWith: String
        /// Task runs that reused a stored result instead of running.
        public var reusedFromCache: Int
    }

    public struct NoData: Error, NonRetryableError, CustomStringConvertible {
        public var description: String { "no valid rows were extracted; nothing to train on" }
    }

    public static let name = "training-pipeline"
    public static var hooks: FlowHooks {
        var notifiers: [any Notifier] = [LogNotifier()]
        if let url = ProcessInfo.processInfo.environment["TRIB_WEBHOOK_URL"], !url.isEmpty {
            notifiers.append(WebhookNotifier(url: url))
        }
        let notify = notifiers.map(FlowHook.notify)
        return FlowHooks(onCompletion: notify, onFailure: notify, onCrashed: notify)
    }

    public init() {}

    public func run(_ input: Input, flow: FlowContext) async throws -> Summary {
        let baseline = await flow.submit(FetchBaseline.self, input.baseline)
        let extracted = await flow.map(Extract.self, over: 0..<input.pages)
        let pages = try await extracted.values()
        let validations = await flow.map(Validate.self, over: pages)
        let validated = try await validations.values()
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

        // Run-on-failure branch: without a production model to beat, judge by the threshold alone.
        let bar: Double, comparedWith: String
        if case .failed(let failure) = await baseline.state {
            (bar, comparedWith) = (input.threshold, "the threshold \(input.threshold) alone (\(failure.message))")
        } else {
            let production = try await baseline.value
            (bar, comparedWith) = (max(input.threshold, production), "the production model's R² \(production)")
        }
        let states = await extracted.states() + validations.states() + models.states()
        var summary = Summary(rowsAccepted: rows.count, rowsRejected: rejected.count, firstRejection: rejected.first,
                              scores: scores, best: best, promoted: nil, decision: "", comparedWith: comparedWith,
                              reusedFromCache: states.filter { $0 == .cached }.count)
        if best.r2 > bar {
            summary.promoted = try await flow.call(Promote.self, best)
            summary.decision = "promoted: R² \(rounded(best.r2)) beats \(rounded(bar))"
        } else {
            summary.decision = "kept the current model: R² \(rounded(best.r2)) does not beat \(rounded(bar))"
        }
        // The comparison, for the run's page and the Artifacts page (with its history under the key).
        try flow.publish(.table(columns: ["alpha", "R²", "promoted"], rows: scores.map { score in
            [String(score.alpha), rounded(score.r2), summary.promoted != nil && score == best ? "yes" : "no"]
        }), key: "model-comparison", description: summary.decision)
        return summary
    }

    private func rounded(_ x: Double) -> String {
        String(Double(Int(x * 10_000)) / 10_000)
    }
}
