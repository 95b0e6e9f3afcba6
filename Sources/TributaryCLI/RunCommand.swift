import ArgumentParser
import Foundation
import Logging
import Tributary

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a registered flow and print its output as JSON.",
        discussion: "Without a broker (--broker or $TRIB_BROKER_URL) the flow runs on the embedded default: "
            + "tasks run on workers inside this process. SIGINT (Ctrl-C) or SIGTERM cancels the flow run: it ends "
            + "Cancelled, and workers discard its queued tasks and cancel its running ones.")

    @Argument(help: "The flow's name (see `list`).")
    var flow: String

    @Argument(help: "The flow's input as JSON.")
    var input: String = "null"

    @Option(help: "Broker URL (default: $TRIB_BROKER_URL; none: embedded).")
    var broker: String?

    @Flag(help: "Run on the embedded default even if $TRIB_BROKER_URL is set.")
    var embedded = false

    @Option(help: "Tasks run at once on the embedded default.")
    var concurrency: Int = 8

    @Flag(help: "No live progress line, even on a terminal.")
    var noProgress = false

    @Flag(help: "Submit the run to a work queue for an agent, print its flow-run id and exit (see `wait`).")
    var submit = false

    @Option(help: "The work queue a submitted run goes to (with --submit).")
    var workQueue: String = "default"

    @Option(help: "With --submit: a key that makes a repeated submit return the first run's id instead of a new run.")
    var idempotencyKey: String?

    func validate() throws {
        if let problem = Tributary.workQueueNameProblem(workQueue) { throw ValidationError("--work-queue: \(problem)") }
        if submit, TributaryCommandLine.brokerURL(broker) == nil || embedded {
            throw ValidationError("--submit needs a broker (--broker or $TRIB_BROKER_URL): the run waits there for an "
                + "agent in another process")
        }
        if !submit, idempotencyKey != nil { throw ValidationError("--idempotency-key goes with --submit") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be 1 or more") }
        guard (try? JSONSerialization.jsonObject(with: Data(input.utf8), options: .fragmentsAllowed)) != nil else {
            throw ValidationError("the input '\(input)' is not valid JSON (quote strings: '\"text\"')")
        }
    }

    func run() async throws {
        TributaryCommandLine.bootstrapLogging(defaultLevel: .warning)
        if submit { return try await submitRun() }
        let registry = TributaryCommandLine.currentRegistry
        let progress = ProgressLine(enabled: !noProgress && isatty(STDERR_FILENO) == 1)
        let onEvent: @Sendable (TaskEvent) -> Void = { progress.record($0) }
        let client: Tributary
        if let url = TributaryCommandLine.brokerURL(broker), !embedded {
            client = Tributary(broker: url, registry: registry, onEvent: onEvent,
                               onQueueAlert: { progress.record($0) })
        } else {
            client = Tributary.local(registry, concurrency: concurrency, events: await Self.embeddedRecorder(),
                                     onEvent: onEvent)
        }
        let flowName = flow, bytes = Array(input.utf8)
        let run = Task { try await client.run(flowNamed: flowName, input: bytes) }
        let signals = SignalWatch(signals: [SIGINT, SIGTERM]) { run.cancel() }
        defer { signals.stop() }
        do {
            let output = try await run.value
            progress.finish()
            await client.close()
            print(Self.pretty(output))
        } catch is CancellationError {
            progress.finish()
            await client.close()
            throw CommandFailure(message: "flow '\(flowName)' cancelled by a signal; its task runs ended Cancelled "
                + "and workers were told to discard the rest")
        } catch {
            progress.finish()
            await client.close()
            throw CommandFailure(error)
        }
    }

    /// `--submit`: puts the run on its work queue, prints its id, and says if no agent serves the queue.
    private func submitRun() async throws {
        let client = Tributary(broker: TributaryCommandLine.brokerURL(broker)!,
                               registry: TributaryCommandLine.currentRegistry)
        do {
            let handle = try await client.submit(flowNamed: flow, input: Array(input.utf8), workQueue: workQueue,
                                                 idempotencyKey: idempotencyKey)
            print(handle.id)
            if try await client.agentCount(of: workQueue) == 0 {
                WorkQueueNotice.say(workQueue: workQueue, flowRunID: handle.id)
            }
        } catch {
            await client.close()
            throw CommandFailure(error)
        }
        await client.close()
    }

    /// Where an embedded run's events are recorded: the command line's recorder, unless events are
    /// off. A store that cannot be opened is named in a warning, and the run goes on unrecorded.
    private static func embeddedRecorder() async -> (any EventSink)? {
        guard Tributary.eventsEnabled, let open = TributaryCommandLine.embeddedRecorder.withLock({ $0 }) else { return nil }
        do {
            return try await open()
        } catch {
            Logger(label: "tributary").warning(
                "this run is not recorded: \(error) (set TRIB_DATABASE to a store that opens, or TRIB_EVENTS=off)")
            return nil
        }
    }

    static func pretty(_ json: [UInt8]) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json), options: .fragmentsAllowed),
              let data = try? JSONSerialization.data(withJSONObject: object,
                                                     options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed])
        else { return String(decoding: json, as: UTF8.self) }
        return String(decoding: data, as: UTF8.self)
    }
}
