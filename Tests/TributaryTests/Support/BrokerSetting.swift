/// A setting of the running broker (`application:set_env(rabbit, ...)`) changed for one test and put
/// back after. RabbitMQ reads `consumer_timeout` and `channel_tick_interval` when a channel opens,
/// so set them before the workers start.
struct BrokerSetting {
    let key: String
    /// What `application:get_env` said before, such as `{ok,1800000}` or `undefined`.
    let original: String

    static func set(_ key: String, to value: Int) async throws -> BrokerSetting {
        let original = try await Command.rabbitmqctl(["eval", "application:get_env(rabbit, \(key))."])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try await Command.rabbitmqctl(["eval", "application:set_env(rabbit, \(key), \(value))."])
        return BrokerSetting(key: key, original: original)
    }

    func restore() async throws {
        if original.hasPrefix("{ok,"), original.hasSuffix("}") {
            let value = original.dropFirst(4).dropLast()
            _ = try await Command.rabbitmqctl(["eval", "application:set_env(rabbit, \(key), \(value))."])
        } else {
            _ = try await Command.rabbitmqctl(["eval", "application:unset_env(rabbit, \(key))."])
        }
    }
}

/// Runs `body` with the broker's settings changed, and puts them back however it ends.
func withBrokerSettings<T>(_ settings: [String: Int], _ body: () async throws -> T) async throws -> T {
    var changed: [BrokerSetting] = []
    do {
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { changed.append(try await .set(key, to: value)) }
        let result = try await body()
        for setting in changed { try await setting.restore() }
        return result
    } catch {
        for setting in changed { try? await setting.restore() }
        throw error
    }
}
