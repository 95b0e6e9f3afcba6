import ArgumentParser
import Logging
import ServiceLifecycle
import Tributary

struct AgentCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "agent",
            abstract: "Take submitted flow runs from work queues and run them, until SIGTERM or SIGINT.",
            discussion: "A flow run's tasks go to the workers on their task queues. With --worker-queue this process "
                + "is also a worker for those task queues. On SIGTERM/SIGINT the agent stops taking flow runs, lets the "
                + "ones it runs finish for up to --shutdown-grace seconds, and hands the rest back to their work queue "
                + "for another agent.",
            subcommands: TributaryCommandLine.extraSubcommands.withLock { $0["agent"] ?? [] })
    }

    @Option(help: "Broker URL, amqp://user:pass@host:port/vhost (default: $TRIB_BROKER_URL).")
    var broker: String?

    @Option(name: .customLong("work-queue"), help: "A work queue to take flow runs from; repeat for several (default: default).")
    var workQueues: [String] = []

    @Option(help: "How many flow runs run at once.")
    var concurrency: Int = 4

    @Option(help: "This agent's id in logs and flow-run statuses (default: host-pid).")
    var id: String?

    @Option(help: "Seconds to finish running flow runs after SIGTERM before they are handed back.")
    var shutdownGrace: Int = 30

    @Option(help: "Times one flow run may be handed to agents without an outcome (they died) before it ends Crashed.")
    var maxDeliveries: Int = 5

    @Option(help: "Seconds between checks that no other agent has resumed a run this one runs (after a network cut).")
    var ownershipCheckInterval: Double = 5

    @Option(name: .customLong("worker-queue"),
            help: "Also be a worker for this task queue; repeat for several (default: agent only).")
    var workerQueues: [String] = []

    @Option(help: "Tasks that run at once when this process is also a worker (--worker-queue).")
    var workerConcurrency: Int = 4

    /// Checked as the command starts, not as it is parsed, so that `ls` under it needs no broker.
    func check() throws {
        guard TributaryCommandLine.brokerURL(broker) != nil else {
            throw ValidationError("no broker given: pass --broker amqp://user:pass@host:5672/ or set TRIB_BROKER_URL")
        }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be 1 or more, not \(concurrency)") }
        guard workerConcurrency >= 1 else { throw ValidationError("--worker-concurrency must be 1 or more") }
        guard shutdownGrace >= 0 else { throw ValidationError("--shutdown-grace must be 0 or more seconds") }
        guard maxDeliveries >= 1 else { throw ValidationError("--max-deliveries must be 1 or more") }
        guard ownershipCheckInterval >= 0.1, ownershipCheckInterval <= 3600 else {
            throw ValidationError("--ownership-check-interval must be from 0.1 to 3600 seconds")
        }
        for queue in workQueues {
            if let problem = Tributary.workQueueNameProblem(queue) { throw ValidationError("--work-queue: \(problem)") }
        }
        let registry = TributaryCommandLine.currentRegistry
        guard registry.problems.isEmpty else { throw ValidationError(registry.problems.joined(separator: "; ")) }
        guard !registry.flowNames.isEmpty else {
            throw ValidationError("this executable registers no flows: an agent runs flows from its Registry(flows: ...)")
        }
    }

    func run() async throws {
        try check()
        TributaryCommandLine.bootstrapLogging(defaultLevel: .info)
        let logger = Logger(label: "tributary.agent")
        let url = TributaryCommandLine.brokerURL(broker)!
        let agentID = id ?? Worker.defaultID()
        let registry = TributaryCommandLine.currentRegistry
        let client = Tributary(broker: url, registry: registry, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var workerBroker: AMQPBroker?
        do {
            let agent = try await client.agent(.init(
                workQueues: workQueues.isEmpty ? ["default"] : workQueues, concurrency: concurrency, id: agentID,
                maxDeliveries: maxDeliveries, shutdownGrace: .seconds(shutdownGrace),
                ownershipCheckInterval: .milliseconds(Int(ownershipCheckInterval * 1000))))
            // First in the group, so shut down last: its final heartbeat says the agent has stopped.
            if let heartbeats = try await client.heartbeats(of: agent) {
                services.append(.init(service: heartbeats, successTerminationBehavior: .ignore))
            }
            services.append(.init(service: agent))
            if !workerQueues.isEmpty {
                let amqp = try await AMQPBroker.connect(url: url, connectionName: "tributary worker \(agentID)",
                                                        logger: logger)
                workerBroker = amqp
                services.append(.init(service: Worker(
                    broker: amqp, registry: registry,
                    configuration: .init(queues: workerQueues, concurrency: workerConcurrency, id: agentID),
                    logger: logger)))
            }
        } catch {
            await client.close()
            throw CommandFailure(error)
        }
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger)
        // The agent hands back what it has not finished at its own grace; this is the backstop.
        configuration.maximumGracefulShutdownDuration = .seconds(shutdownGrace + 10)
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            await workerBroker?.close()
            await client.close()
            throw CommandFailure(error)
        }
        await workerBroker?.close()
        await client.close()
    }
}
