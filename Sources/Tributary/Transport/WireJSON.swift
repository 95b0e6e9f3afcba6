import Foundation

/// JSON encoding of task inputs, outputs and errors on the wire.
enum WireJSON {
    // Configured once and never changed, so one instance of each serves every thread. Sorted keys
    // make the same value encode to the same bytes in every process, which cache keys rely on.
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
    private static let decoder = JSONDecoder()

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decoder.decode(type, from: Data(bytes))
    }

    /// A short sentence for a decoding error, naming the path and what was expected.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "the top level" : "'\(p)'"
        }
        switch error {
        case .typeMismatch(let type, let c): return "expected \(type) at \(path(c))"
        case .valueNotFound(let type, let c): return "missing \(type) value at \(path(c))"
        case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)' at \(path(c))"
        case .dataCorrupted(let c): return "\(c.debugDescription) at \(path(c))"
        @unknown default: return String(describing: error)
        }
    }
}
