import Tributary

extension DecodingError {
    /// The field the error is about and what was wrong with it, for a person (`'schedules.[0]':
    /// cron '61 * * * *': the minute field ...`).
    var fieldDescription: String {
        func at(_ context: Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "" : "'\(path)': "
        }
        switch self {
        case .keyNotFound(let key, let context): return "\(at(context))'\(key.stringValue)' is missing"
        case .typeMismatch(let type, let context): return "\(at(context))expected \(type)"
        case .valueNotFound(_, let context), .dataCorrupted(let context):
            if let underlying = context.underlyingError as? ScheduleError { return at(context) + underlying.description }
            return at(context) + context.debugDescription
        @unknown default: return "\(self)"
        }
    }
}
