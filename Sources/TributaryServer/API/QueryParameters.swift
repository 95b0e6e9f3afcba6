import Hummingbird

/// A request's query parameters, read with checks: a value that cannot be used is a 400 that says
/// which parameter is wrong and what it takes.
struct QueryParameters {
    let request: Request

    func string(_ name: String) -> String? {
        request.uri.queryParameters.get(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A parameter that, when given, must not be empty; `takes` says what it takes, for the error.
    func text(_ name: String, takes: String) throws -> String? {
        try nonEmpty(name, takes)
    }

    /// A cursor: absent, or a page's nextCursor.
    func cursor() throws -> String? {
        try nonEmpty("cursor", "a page's nextCursor unchanged")
    }

    /// The value of a parameter that, when given, must not be empty.
    private func nonEmpty(_ name: String, _ takes: String) throws -> String? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard !text.isEmpty else { throw HTTPError(.badRequest, message: "\(name) is empty: give \(takes), or leave it out") }
        return text
    }

    /// Every value given, repeated (`state=A&state=B`) or comma-separated (`state=A,B`).
    func list(_ name: String, allowed: [String]? = nil) throws -> [String] {
        let values = request.uri.queryParameters.getAll(name)
            .flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        if let allowed, let bad = values.first(where: { !allowed.contains($0) }) {
            throw HTTPError(.badRequest, message: "\(name) '\(bad)' is not one of: \(allowed.joined(separator: ", "))")
        }
        return values
    }

    func int(_ name: String, default value: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = try nonEmpty(name, "a whole number") else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw HTTPError(.badRequest, message: "\(name) '\(text)' must be a whole number from "
                + "\(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A time: seconds since 1970.
    func time(_ name: String) throws -> Double? {
        guard let text = try nonEmpty(name, "a time in seconds since 1970") else { return nil }
        guard let seconds = Double(text), seconds.isFinite else {
            throw HTTPError(.badRequest, message: "\(name) '\(text)' must be a time in seconds since 1970, such as 1764720000")
        }
        return seconds
    }

    /// `true` or `false`; absent is `value`.
    func bool(_ name: String, default value: Bool) throws -> Bool {
        guard let text = try nonEmpty(name, "true or false") else { return value }
        switch text {
        case "true": return true
        case "false": return false
        default: throw HTTPError(.badRequest, message: "\(name) '\(text)' must be true or false")
        }
    }

    func choice<Value: RawRepresentable & CaseIterable>(_ name: String, default value: Value) throws -> Value
        where Value.RawValue == String {
        guard let text = try nonEmpty(name, "one of " + Value.allCases.map(\.rawValue).joined(separator: ", ")) else {
            return value
        }
        guard let chosen = Value(rawValue: text) else {
            throw HTTPError(.badRequest, message: "\(name) '\(text)' is not one of: "
                + Value.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return chosen
    }
}
