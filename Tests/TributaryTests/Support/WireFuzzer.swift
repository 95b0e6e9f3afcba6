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
        var properties = AMQPProperties(contentType: "application/json", replyTo: "test-fuzz-nowhere",
                                        messageID: "fuzz-run.\(number)", type: "inc", headers: [
                                            "x-trib-wire": .int(1), "x-trib-attempt": .int(1),
                                            "x-trib-flow-run": .string("fuzz-run"),
                                        ])
        var body = Array("41".utf8)
        var breaks = Set<Int>()
        while breaks.count < Int.random(in: 1...3, using: &random) { breaks.insert(Int.random(in: 0..<11, using: &random)) }
        for kind in breaks.sorted() {
            switch kind {
            case 0: properties.headers["x-trib-wire"] = nil
            case 1: properties.headers["x-trib-wire"] = wrongValue(excluding: 1)
            case 2: properties.messageID = nil; properties.correlationID = nil
            case 3: properties.type = Bool.random(using: &random) ? nil : ""
            case 4: properties.type = "no-such-task-" + randomText(length: Int.random(in: 1...200, using: &random))
            case 5: properties.replyTo = Bool.random(using: &random) ? nil : ""
            case 6: properties.headers["x-trib-attempt"] = invalidAttempt()
            case 7: properties.headers["x-trib-timeout-ms"] = wrongPositive()
            case 8: properties.contentType = "text/" + randomText(length: Int.random(in: 1...30, using: &random))
            case 9: properties.headers["x-trib-deliveries"] = Bool.random(using: &random) ? .int(0) : .int(Int64.max)
            default: body = undecodableBody()
            }
        }
        addNoise(to: &properties)
        properties.headers[Self.caseHeader] = .string(number)
        return OutboundMessage(exchange: "trib.tasks", routingKey: queue, properties: properties, body: body)
    }

    /// A broken result message for the reply queue `replyQueue`, numbered `number`.
    mutating func result(number: String, replyQueue: String) -> OutboundMessage {
        var properties = AMQPProperties(correlationID: "fuzz-run.\(number)", headers: [
            "x-trib-wire": .int(1), "x-trib-status": .string("completed"), "x-trib-attempt": .int(1),
            "x-trib-worker": .string("fuzzer"),
        ])
        var breaks = Set<Int>()
        while breaks.count < Int.random(in: 1...3, using: &random) { breaks.insert(Int.random(in: 0..<5, using: &random)) }
        for kind in breaks.sorted() {
            switch kind {
            case 0: properties.headers["x-trib-wire"] = nil
            case 1: properties.headers["x-trib-wire"] = wrongValue(excluding: 1)
            case 2: properties.correlationID = Bool.random(using: &random) ? nil : ""
            case 3: properties.headers["x-trib-status"] = Bool.random(using: &random)
                ? .string("done-" + randomText(length: 8)) : wrongValue(excluding: nil)
            default: properties.headers["x-trib-attempt"] = Bool.random(using: &random) ? nil : .int(-Int64.random(in: 0...Int64.max, using: &random))
            }
        }
        addNoise(to: &properties)
        properties.headers[Self.caseHeader] = .string(number)
        let body = Bool.random(using: &random) ? undecodableBody() : Array("42".utf8)
        return OutboundMessage(routingKey: replyQueue, properties: properties, body: body)
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

    /// Missing, of a wrong type, or outside 1...1,000,000.
    private mutating func invalidAttempt() -> AMQPFieldValue? {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: return nil
        case 1: return .int(0)
        case 2: return .int(-Int64.random(in: 1...Int64.max, using: &random))
        case 3: return .int(Int64.random(in: 1_000_001...Int64.max, using: &random))
        default: return .string("1")
        }
    }

    private mutating func wrongPositive() -> AMQPFieldValue {
        Bool.random(using: &random) ? .int(-Int64.random(in: 0...Int64.max, using: &random)) : wrongValue(excluding: nil)
            .asNonPositiveInt
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

private extension AMQPFieldValue {
    /// Integers become zero or less; other values stay (they are of the wrong type anyway).
    var asNonPositiveInt: AMQPFieldValue {
        if case .int(let value) = self { return .int(value > 0 ? -value : value) }
        return self
    }
}
