import Foundation
import Synchronization

/// Something a task or flow publishes for people to look at, recorded by the server with its run
/// and shown in the UI, as Prefect's artifacts are: a markdown note, a table, a link, or a
/// progress value. Give it a key to keep its history (the Artifacts page lists the latest of each
/// key):
///
/// ```swift
/// context.publish(.table(columns: ["alpha", "r2"], rows: [["0.1", "0.93"]]), key: "model-scores")
/// flow.publish(.markdown("# Done\nEvery model was scored."))
/// ```
public enum Artifact: Codable, Sendable, Equatable {
    /// Markdown text; the UI renders a safe subset (headings, emphasis, lists, code, tables, http(s) links).
    case markdown(String)
    /// Rows of cells under named columns.
    case table(columns: [String], rows: [[String]])
    /// A link (http or https) with the text to show.
    case link(url: String, text: String)
    /// How far along something is, from 0 to 1.
    case progress(Double)

    /// Its kind's name, as the server stores it: markdown, table, link or progress.
    public var kind: String {
        switch self {
        case .markdown: "markdown"
        case .table: "table"
        case .link: "link"
        case .progress: "progress"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case kind, text, columns, rows, url, value
    }

    /// As JSON, flat and named by kind: `{"kind": "table", "columns": [...], "rows": [[...]]}`,
    /// `{"kind": "markdown", "text": ...}`, `{"kind": "link", "url": ..., "text": ...}`,
    /// `{"kind": "progress", "value": 0.5}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case .markdown(let text):
            try container.encode(text, forKey: .text)
        case .table(let columns, let rows):
            try container.encode(columns, forKey: .columns)
            try container.encode(rows, forKey: .rows)
        case .link(let url, let text):
            try container.encode(url, forKey: .url)
            try container.encode(text, forKey: .text)
        case .progress(let value):
            try container.encode(value, forKey: .value)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .kind) {
        case "markdown": self = .markdown(try container.decode(String.self, forKey: .text))
        case "table": self = .table(columns: try container.decode([String].self, forKey: .columns),
                                    rows: try container.decode([[String]].self, forKey: .rows))
        case "link": self = .link(url: try container.decode(String.self, forKey: .url),
                                  text: try container.decode(String.self, forKey: .text))
        case "progress": self = .progress(try container.decode(Double.self, forKey: .value))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container, debugDescription:
                "unknown artifact kind '\(other)' (markdown, table, link, progress)")
        }
    }

    /// Why it cannot be published, or nil.
    var problem: String? {
        switch self {
        case .table(let columns, let rows):
            if let row = rows.firstIndex(where: { $0.count != columns.count }) {
                return "row \(row) of the table has \(rows[row].count) cells for \(columns.count) columns"
            }
        case .link(let url, _):
            let scheme = URL(string: url)?.scheme?.lowercased()
            if scheme != "http" && scheme != "https" { return "the link '\(url)' is not an http or https URL" }
        case .progress(let value):
            if !(0...1).contains(value) { return "progress \(value) is not from 0 to 1" }
        case .markdown:
            break
        }
        return nil
    }
}

/// One artifact as it travels from where it was published to the server.
public struct PublishedArtifact: Codable, Sendable, Equatable {
    /// A key keeps the artifact's history (letters, digits and dashes); nil for a one-off.
    public var key: String?
    public var description: String?
    public var artifact: Artifact
    /// When it was published (seconds since 1970).
    public var at: Double

    public init(key: String?, description: String?, artifact: Artifact, at: Double = Date().timeIntervalSince1970) {
        self.key = key
        self.description = description
        self.artifact = artifact
        self.at = at
    }

    /// Whether `key` can key an artifact: 1 to 100 ASCII letters, digits, dashes or underscores.
    public static func isValidKey(_ key: String) -> Bool {
        !key.isEmpty && key.count <= 100
            && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// Throws ``ArtifactError`` if it cannot be published (a bad key or artifact).
    func validate() throws {
        if let key, !Self.isValidKey(key) {
            throw ArtifactError(description: "cannot publish: the artifact key '\(key)' must be 1 to 100 letters, "
                + "digits, dashes or underscores")
        }
        if let problem = artifact.problem { throw ArtifactError(description: "cannot publish: \(problem)") }
    }
}

/// An artifact that cannot be published, and why.
public struct ArtifactError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// What a task publishes during one attempt, bounded (``limit`` bytes of JSON) so it cannot blow
/// up its result message.
final class ArtifactBuffer: Sendable {
    static let limit = 1 << 20
    private let state = Mutex<(artifacts: [PublishedArtifact], bytes: Int)>(([], 0))

    func append(_ published: PublishedArtifact) throws {
        try published.validate()
        let size = (try? WireJSON.encode(published).count) ?? 0
        try state.withLock { state in
            guard state.bytes + size <= Self.limit else {
                throw ArtifactError(description: "cannot publish: a task's artifacts are limited to \(Self.limit) bytes "
                    + "of JSON per attempt; publish a link to large results instead")
            }
            state.artifacts.append(published)
            state.bytes += size
        }
    }

    var artifacts: [PublishedArtifact] { state.withLock { $0.artifacts } }
}
