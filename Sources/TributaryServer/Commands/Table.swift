import Foundation

/// Rows printed in aligned columns under a header, for people (`--json` is for scripts).
struct Table {
    let header: [String]
    var rows: [[String]] = []

    init(_ header: String...) {
        self.header = header
    }

    var text: String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

enum Format {
    /// A time as the local date and time, to the second.
    static func time(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: seconds))
    }

    static func duration(from start: Double?, to end: Double?) -> String {
        guard let start, let end else { return "-" }
        let seconds = end - start
        return seconds < 60 ? String(format: "%.2fs", seconds) : String(format: "%.0fm%02.0fs", (seconds / 60).rounded(.down),
                                                                      seconds.truncatingRemainder(dividingBy: 60))
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
