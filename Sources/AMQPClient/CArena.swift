import CAMQPShim
import CRabbitMQ
import Foundation

/// Memory for the C structures of one call into rabbitmq-c: every byte string and table built here
/// lives until `release()`. Used only on the connection's thread.
struct CArena: ~Copyable {
    private var allocations: [UnsafeMutableRawPointer] = []

    mutating func bytes(_ string: String) -> amqp_bytes_t {
        var utf8 = Array(string.utf8)
        return bytes(&utf8)
    }

    mutating func bytes(_ array: inout [UInt8]) -> amqp_bytes_t {
        if array.isEmpty { return amqp_bytes_t(len: 0, bytes: nil) }
        let memory = UnsafeMutableRawPointer.allocate(byteCount: array.count, alignment: 1)
        array.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        allocations.append(memory)
        return amqp_bytes_t(len: array.count, bytes: memory)
    }

    mutating func table(_ table: AMQPTable) -> amqp_table_t {
        if table.isEmpty { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = UnsafeMutablePointer<amqp_table_entry_t>.allocate(capacity: table.count)
        allocations.append(UnsafeMutableRawPointer(entries))
        for (index, (key, value)) in table.enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(key), value: field(value))
        }
        return amqp_table_t(num_entries: Int32(table.count), entries: entries)
    }

    mutating func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case .string(let s):
            field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            field.value.bytes = bytes(s)
        case .int(let i):
            field.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
            field.value.i64 = i
        case .bool(let b):
            field.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
            field.value.boolean = b ? 1 : 0
        case .double(let d):
            field.kind = UInt8(AMQP_FIELD_KIND_F64.rawValue)
            field.value.f64 = d
        case .bytes(var b):
            field.kind = UInt8(AMQP_FIELD_KIND_BYTES.rawValue)
            field.value.bytes = bytes(&b)
        case .array(let values):
            field.kind = UInt8(AMQP_FIELD_KIND_ARRAY.rawValue)
            guard !values.isEmpty else {
                field.value.array = amqp_array_t(num_entries: 0, entries: nil)
                return field
            }
            let entries = UnsafeMutablePointer<amqp_field_value_t>.allocate(capacity: values.count)
            allocations.append(UnsafeMutableRawPointer(entries))
            for (index, element) in values.enumerated() { entries[index] = self.field(element) }
            field.value.array = amqp_array_t(num_entries: Int32(values.count), entries: entries)
        }
        return field
    }

    mutating func properties(_ p: AMQPProperties) -> amqp_basic_properties_t {
        var c = amqp_basic_properties_t()
        var flags: UInt32 = 0
        func set(_ value: String?, _ flag: Int, _ assign: (inout amqp_basic_properties_t, amqp_bytes_t) -> Void,
                 arena: inout CArena) {
            guard let value else { return }
            assign(&c, arena.bytes(value))
            flags |= UInt32(flag)
        }
        set(p.contentType, TRIB_FLAG_CONTENT_TYPE, { $0.content_type = $1 }, arena: &self)
        set(p.correlationID, TRIB_FLAG_CORRELATION_ID, { $0.correlation_id = $1 }, arena: &self)
        set(p.replyTo, TRIB_FLAG_REPLY_TO, { $0.reply_to = $1 }, arena: &self)
        set(p.messageID, TRIB_FLAG_MESSAGE_ID, { $0.message_id = $1 }, arena: &self)
        set(p.type, TRIB_FLAG_TYPE, { $0.type = $1 }, arena: &self)
        set(p.expiration, TRIB_FLAG_EXPIRATION, { $0.expiration = $1 }, arena: &self)
        if let timestamp = p.timestamp {
            c.timestamp = timestamp
            flags |= UInt32(TRIB_FLAG_TIMESTAMP)
        }
        c.delivery_mode = p.persistent ? 2 : 1
        flags |= UInt32(TRIB_FLAG_DELIVERY_MODE)
        if !p.headers.isEmpty {
            c.headers = table(p.headers)
            flags |= UInt32(TRIB_FLAG_HEADERS)
        }
        c._flags = flags
        return c
    }

    mutating func release() {
        for memory in allocations { memory.deallocate() }
        allocations.removeAll()
    }

    deinit {
        for memory in allocations { memory.deallocate() }
    }
}

extension amqp_bytes_t {
    /// A copy of the bytes.
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }

    /// The bytes as a string (invalid UTF-8 is replaced, never trapped on).
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }
}

extension amqp_table_t {
    /// The table as Swift values; kinds Tributary does not use are read as their nearest match.
    var swiftTable: AMQPTable {
        var result: AMQPTable = [:]
        guard num_entries > 0, let entries else { return result }
        for index in 0..<Int(num_entries) {
            let entry = entries[index]
            result[entry.key.string] = entry.value.swiftValue
        }
        return result
    }
}

extension amqp_field_value_t {
    var swiftValue: AMQPFieldValue {
        switch amqp_field_value_kind_t(UInt32(kind)) {
        case AMQP_FIELD_KIND_UTF8: .string(value.bytes.string)
        case AMQP_FIELD_KIND_BYTES: .bytes(value.bytes.array)
        case AMQP_FIELD_KIND_BOOLEAN: .bool(value.boolean != 0)
        case AMQP_FIELD_KIND_I8: .int(Int64(value.i8))
        case AMQP_FIELD_KIND_U8: .int(Int64(value.u8))
        case AMQP_FIELD_KIND_I16: .int(Int64(value.i16))
        case AMQP_FIELD_KIND_U16: .int(Int64(value.u16))
        case AMQP_FIELD_KIND_I32: .int(Int64(value.i32))
        case AMQP_FIELD_KIND_U32: .int(Int64(value.u32))
        case AMQP_FIELD_KIND_I64: .int(value.i64)
        case AMQP_FIELD_KIND_U64, AMQP_FIELD_KIND_TIMESTAMP: .int(Int64(truncatingIfNeeded: value.u64))
        case AMQP_FIELD_KIND_F32: .double(Double(value.f32))
        case AMQP_FIELD_KIND_F64: .double(value.f64)
        case AMQP_FIELD_KIND_ARRAY:
            .array(value.array.num_entries > 0 && value.array.entries != nil
                ? (0..<Int(value.array.num_entries)).map { value.array.entries[$0].swiftValue } : [])
        default: .bytes([])
        }
    }
}

extension amqp_basic_properties_t {
    var swiftProperties: AMQPProperties {
        func has(_ flag: Int) -> Bool { _flags & UInt32(flag) != 0 }
        return AMQPProperties(
            contentType: has(TRIB_FLAG_CONTENT_TYPE) ? content_type.string : nil,
            correlationID: has(TRIB_FLAG_CORRELATION_ID) ? correlation_id.string : nil,
            replyTo: has(TRIB_FLAG_REPLY_TO) ? reply_to.string : nil,
            messageID: has(TRIB_FLAG_MESSAGE_ID) ? message_id.string : nil,
            type: has(TRIB_FLAG_TYPE) ? type.string : nil,
            expiration: has(TRIB_FLAG_EXPIRATION) ? expiration.string : nil,
            timestamp: has(TRIB_FLAG_TIMESTAMP) ? timestamp : nil,
            persistent: has(TRIB_FLAG_DELIVERY_MODE) && delivery_mode == 2,
            headers: has(TRIB_FLAG_HEADERS) ? headers.swiftTable : [:])
    }
}
