import ArgumentParser
import Logging
import ServiceLifecycle
import Tributary

struct WorkerCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "worker",
            abstract: "Take tasks from RabbitMQ queues and run them, until SIGTERM or SIGINT.",
            discussion: "On SIGTERM/SIGINT the worker stops taking tasks, hands back what it has not started, finishes "
                + "what it runs (up to --shutdown-grace seconds), then exits.",
            subcommands: TributaryCommandLine.extraSubcommands.withLock { $0["worker"] ?? [] })
    }

    @Option(help: "Broker URL, amqp://user:pass@host:port/vhost (default: $TRIB_BROKER_URL).")
    var broker: String?

    @Option(name: .customLong("queue"), help: "A queue to take tasks from; repeat for several (default: default).")
    var queues: [String] = []

    @Option(help: "How many tasks run at once.")
    var concurrency: Int = 4

    @Option(name: .customLong("queue-limit"),
            help: "At most N tasks from a queue at once in this worker, as QUEUE=N; repeat for several.")
    var queueLimitSpecs: [String] = []

    @Option(help: "How many unacknowledged tasks the broker may hand over (default: 2 x concurrency).")
    var prefetch: Int?

    @Option(help: "This worker's id in results and logs (default: host-pid).")
    var id: String?

    @Option(help: "Seconds to finish running tasks after SIGTERM before they are cancelled and handed back.")
    var shutdownGrace: Int = 30

    @Option(help: "Times one attempt may be handed out without an outcome (its worker died) before it ends Crashed.")
    var maxDeliveries: Int = 5

    @Option(help: "Drain and exit once this many timed-out tasks still hold threads (they ignored cancellation).")
    var recycleAfterStuck: Int?

    @Option(help: "The largest result, in bytes of JSON, a task may send back (default 16 MiB).")
    var maxPayloadBytes: Int = Tributary.defaultMaxPayloadBytes

    /// Checked as the command starts, not as it is parsed, so that `ls` under it needs no broker.
    func check() throws {
        guard TributaryCommandLine.brokerURL(broker) != nil else {
            throw ValidationError("no broker given: pass --broker amqp://user:pass@host:5672/ or set TRIB_BROKER_URL")
        }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be 1 or more, not \(concurrency)") }
        if let prefetch, !(1...65_535).contains(prefetch) {
            throw ValidationError("--prefetch must be from 1 to 65535, not \(prefetch)")
        }
        guard shutdownGrace >= 0 else { throw ValidationError("--shutdown-grace must be 0 or more seconds") }
        guard maxDeliveries >= 1 else { throw ValidationError("--max-deliveries must be 1 or more") }
        guard maxPayloadBytes >= 1 else { throw ValidationError("--max-payload-bytes must be 1 or more") }
        _ = try queueLimits()
        if let recycleAfterStuck, recycleAfterStuck < 1 {
            throw ValidationError("--recycle-after-stuck must be 1 or more")
        }
        let problems = TributaryCommandLine.currentRegistry.problems
        guard problems.isEmpty else { throw ValidationError(problems.joined(separator: "; ")) }
    }

    /// `--queue-limit QUEUE=N` options as a dictionary; throws naming a malformed one.
    func queueLimits() throws -> [String: Int] {
        var limits: [String: Int] = [:]
        for spec in queueLimitSpecs {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let limit = Int(parts[1]), limit >= 1 else {
                throw ValidationError("--queue-limit '\(spec)' must be QUEUE=N with N 1 or more, e.g. --queue-limit db=2")
            }
            limits[parts[0]] = limit
        }
        return limits
    }

    func run() async throws {
        try check()
        TributaryCommandLine.bootstrapLogging(defaultLevel: .info)
        let logger = Logger(label: "tributary.worker")
        let url = TributaryCommandLine.brokerURL(broker)!
        let workerID = id ?? Worker.defaultID()
        let amqp: AMQPBroker
        do {
            amqp = try await AMQPBroker.connect(url: url, connectionName: "tributary worker \(workerID)", logger: logger)
        } catch {
            throw CommandFailure(error)
        }
        let worker = Worker(broker: amqp, registry: TributaryCommandLine.currentRegistry,
                            configuration: .init(queues: queues.isEmpty ? ["default"] : queues,
                                                 concurrency: concurrency, prefetch: prefetch,
                                                 id: workerID, maxDeliveries: maxDeliveries,
                                                 recycleAfterStuck: recycleAfterStuck,
                                                 maxPayloadBytes: maxPayloadBytes, queueLimits: try queueLimits()),
                            logger: logger)
        // A worker that stops by itself (recycling) ends the group cleanly, like a signal would.
        let service = ServiceGroupConfiguration.ServiceConfiguration(
            service: worker, successTerminationBehavior: .gracefullyShutdownGroup)
        // First in the group, so shut down last: its final heartbeat says the worker has stopped.
        let heartbeats = ServiceGroupConfiguration.ServiceConfiguration(
            service: amqp.heartbeats(.worker, id: workerID, queues: queues.isEmpty ? ["default"] : queues,
                                     concurrency: concurrency, logger: logger) { worker.activity },
            successTerminationBehavior: .ignore)
        var configuration = ServiceGroupConfiguration(services: [heartbeats, service],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(shutdownGrace)
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            await amqp.close()
            throw CommandFailure(error)
        }
        await amqp.close()
    }
}
