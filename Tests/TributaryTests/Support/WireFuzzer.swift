import AMQPClient
import Foundation
import TributaryExamples

/// Builds wire messages that start from a valid task or result and are broken in at least one way
/// the wire format forbids (so each must be refused), plus random noise: wrong header types, huge
/// values, invalid UTF-8, unknown headers, random bodies.
struct WireFuzzer {
    /// The header that numbers each case, so a test can find every one of them again.
    static let caseHeader = "x-test-fuzz-case"
    var random: SplitMix64

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// A broken task message for `queue`, numbered `number`.
    mutating func task(number: String, queue: String) -> OutboundMessage {
        var properties = AMQPProperties(correlationID: "fuzz-run.\(number)", replyTo: "test-fuzz-nowhere",
                                        headers: ["x-trib-wire": .int(2)])
        var fields: [(tag: UInt8, value: [UInt8])] = [
            (1, Array("inc".utf8)), (2, Array("fuzz-run".utf8)), (3, [1]),
        ]
        var payload = Array("41".utf8)
        var cut = false
        var breaks = Set<Int>()
        while breaks.count < Int.random(in: 1...3, using: &random) { breaks.insert(Int.random(in: 0..<12, using: &random)) }
        for kind in breaks.sorted() {
            switch kind {
            case 0: properties.headers["x-trib-wire"] = nil
            case 1: properties.headers["x-trib-wire"] = wrongValue(excluding: 2)
            case 2: properties.messageID = nil; properties.correlationID = Bool.random(using: &random) ? nil : ""
            case 3: fields[0].value = Bool.random(using: &random) ? invalidUTF8() : []
            case 4: fields[0].value = Array(("no-such-task-" + randomText(length: Int.random(in: 1...200, using: &random))).utf8)
            case 5: properties.replyTo = Bool.random(using: &random) ? nil : ""
            case 6: fields[2].value = invalidInteger(above: 1_000_000)
            case 7: fields.append((4, Bool.random(using: &random) ? [0] : invalidInteger(above: UInt64(Int64.max / 1_000_000))))
            case 8: fields.append((6, Bool.random(using: &random) ? [0] : invalidInteger(above: 1_000_000)))
            case 9: fields.append(Bool.random(using: &random) ? (UInt8.random(in: 8...255, using: &random), [1]) : fields[1])
            case 10: cut = true
            default: payload = undecodableBody()
            }
        }
        addNoise(to: &properties)
        properties.headers[Self.caseHeader] = .string(number)
        var body = Self.envelope(fields, payload: payload)
        if cut { body = Array(body.prefix(Int.random(in: 0..<max(1, body.count - payload.count - 1), using: &random))) }
        return OutboundMessage(exchange: "trib.tasks", routingKey: queue, properties: properties, body: body)
    }

    /// A broken result message for the reply queue `replyQueue`, numbered `number`.
    mutating func result(number: String, replyQueue: String) -> OutboundMessage {
        var properties = AMQPProperties(correlationID: "fuzz-run.\(number)", headers: ["x-trib-wire": .int(2)])
        var fields: [(tag: UInt8, value: [UInt8])] = [
            (1, Array("completed".utf8)), (2, [1]), (3, Array("fuzzer".utf8)),
        ]
        var breaks = Set<Int>()
        while breaks.count < Int.random(in: 1...3, using: &random) { breaks.insert(Int.random(in: 0..<6, using: &random)) }
        for kind in breaks.sorted() {
            switch kind {
            case 0: properties.headers["x-trib-wire"] = nil
            case 1: properties.headers["x-trib-wire"] = wrongValue(excluding: 2)
            case 2: properties.correlationID = Bool.random(using: &random) ? nil : ""
            case 3: fields[0].value = Bool.random(using: &random) ? Array(("done-" + randomText(length: 8)).utf8) : invalidUTF8()
            case 4: fields[1].value = invalidInteger(above: 1_000_000)
            default: fields.append((UInt8.random(in: 11...255, using: &random), [1]))
            }
        }
        addNoise(to: &properties)
        properties.headers[Self.caseHeader] = .string(number)
        let payload = Bool.random(using: &random) ? undecodableBody() : Array("42".utf8)
        if Int.random(in: 0..<3, using: &random) == 0 {
            return OutboundMessage(routingKey: replyQueue, properties: properties,
                                   body: packWithValidNeighbour(fields, payload: payload, number: number,
                                                                alreadyBroken: !breaks.isDisjoint(with: [0, 1, 3, 4, 5])))
        }
        return OutboundMessage(routingKey: replyQueue, properties: properties, body: Self.envelope(fields, payload: payload))
    }

    /// A result pack (docs/wire-format.md) of a valid result for a run the flow does not have
    /// (ignored as a stale duplicate) and the broken one, in either order: only the broken one is
    /// refused. It lacks its task-run id (which only a pack's results carry) when nothing else
    /// breaks it inside a pack (`alreadyBroken`: its envelope is broken, or the pack's header), and
    /// may lack it anyway.
    private mutating func packWithValidNeighbour(_ fields: [(tag: UInt8, value: [UInt8])], payload: [UInt8],
                                                 number: String, alreadyBroken: Bool) -> [UInt8] {
        let neighbour = Self.envelope([(8, Array("fuzz-neighbour.\(number)".utf8)), (1, Array("completed".utf8)), (2, [1])],
                                      payload: Array("7".utf8))
        let keepsRunID = alreadyBroken && Bool.random(using: &random)
        let runField: (tag: UInt8, value: [UInt8]) = (8, Array("fuzz-run.\(number)".utf8))
        let runID = keepsRunID ? [runField] : []
        let broken = Self.envelope(runID + fields, payload: payload)
        let entries = Bool.random(using: &random) ? [neighbour, broken] : [broken, neighbour]
        return Self.envelope([(7, [2])], payload: entries.flatMap { Self.lengthPrefixed($0) })
    }

    private static func lengthPrefixed(_ bytes: [UInt8]) -> [UInt8] {
        leb128(UInt64(bytes.count)) + bytes
    }

    /// `value` as an unsigned LEB128 integer.
    private static func leb128(_ value: UInt64) -> [UInt8] {
        var value = value, bytes: [UInt8] = []
        while value >= 0x80 { bytes.append(UInt8(value & 0x7F) | 0x80); value >>= 7 }
        return bytes + [UInt8(value)]
    }

    /// An envelope (docs/wire-format.md) of `fields` as given, duplicates and unknown tags included.
    private static func envelope(_ fields: [(tag: UInt8, value: [UInt8])], payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in fields {
            bytes.append(field.tag)
            bytes += lengthPrefixed(field.value)
        }
        return bytes + [0] + payload
    }

    /// A LEB128 integer field's bytes that are not an integer from 1 to `limit`: zero, too large,
    /// cut short, followed by junk, or empty.
    private mutating func invalidInteger(above limit: UInt64) -> [UInt8] {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: return [0]
        case 1: return Self.leb128(UInt64.random(in: (limit + 1)...UInt64.max, using: &random))
        case 2: return [0x81]
        case 3: return [1, 1]
        default: return []
        }
    }

    /// A value of a wrong type, or an integer that is not `excluded`.
    private mutating func wrongValue(excluding excluded: Int64?) -> AMQPFieldValue {
        switch Int.random(in: 0..<6, using: &random) {
        case 0: return .string(String(excluded ?? 1))
        case 1: return .bool(true)
        case 2: return .double(Double.random(in: -1e300...1e300, using: &random))
        case 3: return .bytes(invalidUTF8())
        case 4: return .int(Bool.random(using: &random) ? Int64.max : Int64.min)
        default:
            let value = Int64.random(in: -1_000_000...1_000_000, using: &random)
            return .int(value == excluded ? value + 2 : value)
        }
    }

    private mutating func undecodableBody() -> [UInt8] {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: return invalidUTF8()
        case 1: return [0xFF] + (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }  // 1 MiB
        case 2: return Array("\"forty-one\"".utf8)
        default: return Array("[41, {\"".utf8)
        }
    }

    private mutating func addNoise(to properties: inout AMQPProperties) {
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            let name = "x-noise-" + randomText(length: Int.random(in: 1...20, using: &random))
            switch Int.random(in: 0..<4, using: &random) {
            case 0: properties.headers[name] = .bytes(invalidUTF8())
            case 1: properties.headers[name] = .string(randomText(length: Int.random(in: 0...20_000, using: &random)))
            case 2: properties.headers[name] = .int(Int64.random(in: Int64.min...Int64.max, using: &random))
            default: properties.headers[name] = .double(Double.random(in: -1e300...1e300, using: &random))
            }
        }
    }

    private mutating func invalidUTF8() -> [UInt8] {
        // 0xC0 0x80 (overlong), lone continuation bytes and 0xFF are never valid UTF-8.
        [0xFF, 0xC0, 0x80] + (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0x80...0xBF, using: &random) }
    }

    private mutating func randomText(length: Int) -> String {
        String((0..<length).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789-.".randomElement(using: &random)! })
    }
}
