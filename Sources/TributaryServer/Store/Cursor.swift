/// A page's position in a keyset order: the sort key and id of the last row handed out, as text
/// (`<key>_<id>`) a caller passes back unchanged.
struct Cursor: Equatable {
    var key: Double
    var id: String

    var text: String { "\(key)_\(id)" }

    init(key: Double, id: String) {
        self.key = key
        self.id = id
    }

    init(_ text: String) throws {
        guard let cut = text.firstIndex(of: "_"), let key = Double(text[..<cut]), !text[text.index(after: cut)...].isEmpty
        else {
            throw BadQuery("cursor '\(text)' is not one this server handed out; pass a page's nextCursor unchanged")
        }
        self.key = key
        id = String(text[text.index(after: cut)...])
    }
}
