import Foundation

/// Fills a run-name template such as `"train-{alpha}"` from a task's JSON input: `{key}` takes
/// that top-level field of an input object, `{input}` the whole input (for a number or a string).
enum RunName {
    /// The name, or a sentence saying which placeholder the input cannot fill.
    static func render(_ template: String, taskName: String, input: [UInt8]) -> Result<String, RunNameError> {
        let value = try? JSONSerialization.jsonObject(with: Data(input), options: [.fragmentsAllowed])
        var name = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            name += rest[..<open]
            let key = String(rest[rest.index(after: open)..<close])
            if key == "input", let value {
                name += text(value)
            } else if let object = value as? [String: Any], let field = object[key] {
                name += text(field)
            } else {
                let fields = (value as? [String: Any])?.keys.sorted().joined(separator: ", ") ?? "none: it is not an object"
                return .failure(RunNameError(message: "run name template '\(template)' of '\(taskName)' names '\(key)', "
                    + "which its input does not have (fields: \(fields)); use {field} or {input}"))
            }
            rest = rest[rest.index(after: close)...]
        }
        return .success(name + rest)
    }

    private static func text(_ value: Any) -> String {
        switch value {
        case let string as String: return string
        case let number as NSNumber: return number.stringValue
        default:
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
        }
    }
}

/// A run-name template the input cannot fill.
struct RunNameError: Error {
    let message: String
}
