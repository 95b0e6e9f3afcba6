/// The compact list of fields at the head of a task or result message's body (wire version 2):
/// what the broker itself never reads travels here rather than in AMQP properties and headers, which
/// the broker decodes for every message (docs/wire-format.md, "Envelope").
///
/// Layout: fields, each a tag byte (1...`maxTag`), a LEB128 length and that many bytes; then a zero
/// byte; then the payload (the task's input or the result's body, JSON). A field's value is UTF-8
/// text, a LEB128 unsigned integer, an 8-byte little-endian IEEE double, raw bytes, or nothing (a
/// flag). A tag appears at most once; an unknown tag is refused, so a newer field is never ignored.
struct WireEnvelope {
    /// The highest tag any message kind uses.
    static let maxTag: UInt8 = 15

    /// Why a body is not a valid envelope.
    struct Problem: Error, Equatable {
        let reason: String
    }

    private let body: ArraySlice<UInt8>
    /// Each field's bytes, as indices of `body`.
    private let fields: [Range<Int>?]
    /// Where the payload starts in the body.
    private let payloadStart: Int

    /// Splits `body` (a message's, or an entry of a pack's: read in place, not copied) into its
    /// fields and payload; `known` is the set of tags the message kind has.
    init(parsing body: ArraySlice<UInt8>, known: ClosedRange<UInt8>) throws(Problem) {
        var fields = [Range<Int>?](repeating: nil, count: Int(Self.maxTag) + 1)
        var index = body.startIndex
        while true {
            guard index < body.endIndex else { throw Problem(reason: "the field list has no end (a zero byte)") }
            let tag = body[index]
            index += 1
            if tag == 0 { break }
            guard known.contains(tag) else { throw Problem(reason: "unknown field \(tag)") }
            guard fields[Int(tag)] == nil else { throw Problem(reason: "field \(tag) appears twice") }
            let length = try Self.varint(in: body, at: &index, end: body.endIndex, what: "the length of field \(tag)")
            guard length <= UInt64(body.endIndex - index) else {
                throw Problem(reason: "field \(tag) is longer than the message")
            }
            fields[Int(tag)] = index..<(index + Int(length))
            index += Int(length)
        }
        self.body = body
        self.fields = fields
        self.payloadStart = index
    }

    /// The bytes after the field list, in place.
    var payloadBytes: ArraySlice<UInt8> { body[payloadStart...] }

    /// The bytes after the field list.
    var payload: [UInt8] { Array(payloadBytes) }

    /// Whether field `tag` is present.
    func has(_ tag: UInt8) -> Bool { fields[Int(tag)] != nil }

    /// Field `tag` as UTF-8 text, nil when absent.
    func text(_ tag: UInt8, _ name: String) throws(Problem) -> String? {
        guard let range = fields[Int(tag)] else { return nil }
        guard let text = String(validating: body[range], as: UTF8.self) else {
            throw Problem(reason: "\(name) is not valid UTF-8")
        }
        return text
    }

    /// Field `tag` as an unsigned integer, nil when absent.
    func integer(_ tag: UInt8, _ name: String) throws(Problem) -> UInt64? {
        guard let range = fields[Int(tag)] else { return nil }
        var index = range.lowerBound
        let value = try Self.varint(in: body, at: &index, end: range.upperBound, what: name)
        guard index == range.upperBound else { throw Problem(reason: "\(name) is not one integer") }
        return value
    }

    /// Field `tag` as a double, nil when absent.
    func double(_ tag: UInt8, _ name: String) throws(Problem) -> Double? {
        guard let range = fields[Int(tag)] else { return nil }
        guard range.count == 8 else { throw Problem(reason: "\(name) is not an 8-byte double") }
        var bits: UInt64 = 0
        for (shift, byte) in body[range].enumerated() { bits |= UInt64(byte) << (8 * UInt64(shift)) }
        return Double(bitPattern: bits)
    }

    /// Field `tag`'s raw bytes, nil when absent.
    func bytes(_ tag: UInt8) -> [UInt8]? {
        fields[Int(tag)].map { Array(body[$0]) }
    }

    /// Splits a list of entries, each a LEB128 length and that many bytes (a pack's payload).
    static func entries(in bytes: ArraySlice<UInt8>) throws(Problem) -> [ArraySlice<UInt8>] {
        var entries: [ArraySlice<UInt8>] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let length = try varint(in: bytes, at: &index, end: bytes.endIndex, what: "the length of entry \(entries.count + 1)")
            guard length <= UInt64(bytes.endIndex - index) else {
                throw Problem(reason: "entry \(entries.count + 1) is longer than the message")
            }
            entries.append(bytes[index..<(index + Int(length))])
            index += Int(length)
        }
        return entries
    }

    /// Appends an entry made of `head` then `rest` to a list of entries (see ``entries(in:)``).
    static func appendEntry(_ head: [UInt8], _ rest: [UInt8], to bytes: inout [UInt8]) {
        Writer.appendVarint(UInt64(head.count + rest.count), to: &bytes)
        bytes.append(contentsOf: head)
        bytes.append(contentsOf: rest)
    }

    /// Reads a LEB128 integer from `bytes[index..<end]`, moving `index` past it.
    private static func varint(in bytes: ArraySlice<UInt8>, at index: inout Int, end: Int, what: String) throws(Problem) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < end {
            let byte = bytes[index]
            index += 1
            guard shift < 64, shift < 63 || byte <= 1 else { throw Problem(reason: "\(what) is out of range") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        throw Problem(reason: "\(what) is cut short")
    }

    /// Builds an envelope: fields in any order, then ``finish(payload:)``.
    struct Writer {
        private(set) var bytes: [UInt8] = []

        /// `capacity`: about how many bytes the fields and payload take.
        init(capacity: Int) {
            bytes.reserveCapacity(capacity)
        }

        mutating func text(_ tag: UInt8, _ value: String) {
            field(tag, length: value.utf8.count)
            bytes.append(contentsOf: value.utf8)
        }

        mutating func integer(_ tag: UInt8, _ value: UInt64) {
            var length = 1
            var rest = value >> 7
            while rest != 0 { length += 1; rest >>= 7 }
            field(tag, length: length)
            Self.appendVarint(value, to: &bytes)
        }

        mutating func double(_ tag: UInt8, _ value: Double) {
            field(tag, length: 8)
            let bits = value.bitPattern
            for shift in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(shift)))) }
        }

        mutating func bytes(_ tag: UInt8, _ value: [UInt8]) {
            field(tag, length: value.count)
            bytes.append(contentsOf: value)
        }

        mutating func flag(_ tag: UInt8) {
            field(tag, length: 0)
        }

        /// The whole body: the fields, the end of the list, and `payload`.
        consuming func finish(payload: [UInt8]) -> [UInt8] {
            bytes.append(0)
            bytes.append(contentsOf: payload)
            return bytes
        }

        private mutating func field(_ tag: UInt8, length: Int) {
            bytes.append(tag)
            Self.appendVarint(UInt64(length), to: &bytes)
        }

        static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
            var value = value
            while value >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
                value >>= 7
            }
            bytes.append(UInt8(value))
        }
    }
}
