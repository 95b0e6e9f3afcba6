import ArgumentParser
import Foundation
import Tributary

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a flow run that runs over the broker, by its flow-run id.",
        discussion: "Workers discard the run's queued tasks and cancel its running ones; the client running it "
            + "ends it Cancelled and answers. The id is in the flow's log lines (flow-run=...). Exits 1 if no "
            + "client running it answers within --wait seconds.")

    @Argument(help: "The flow-run id (a UUID, as in the log's flow-run=...).")
    var flowRunID: String

    @Option(help: "Why: shown in the flow's log and in the error its run throws.")
    var reason: String = "cancelled from the command line"

    @Option(help: "Seconds to wait for the client running the flow to answer.")
    var wait: Double = 5

    @Option(help: "Broker URL (default: $TRIB_BROKER_URL).")
    var broker: String?

    func validate() throws {
        guard TributaryCommandLine.brokerURL(broker) != nil else {
            throw ValidationError("no broker given: pass --broker amqp://user:pass@host:5672/ or set TRIB_BROKER_URL "
                + "(a flow on the embedded default runs inside its own `run` process: stop that with Ctrl-C)")
        }
        guard UUID(uuidString: flowRunID) != nil else {
            throw ValidationError("'\(flowRunID)' is not a flow-run id: give the UUID from the flow's log (flow-run=...)")
        }
        guard wait > 0, wait <= 3600 else { throw ValidationError("--wait must be more than 0 and at most 3600 seconds") }
    }

    func run() async throws {
        TributaryCommandLine.bootstrapLogging(defaultLevel: .warning)
        let client = Tributary(broker: TributaryCommandLine.brokerURL(broker)!,
                               registry: TributaryCommandLine.currentRegistry)
        let outcome: CancelRequestOutcome
        do {
            outcome = try await client.cancel(flowRunID: flowRunID.lowercased(), reason: reason,
                                              waitingUpTo: .milliseconds(Int(wait * 1000)))
        } catch {
            await client.close()
            throw CommandFailure(error)
        }
        await client.close()
        switch outcome {
        case .cancelled(let flowName):
            print("flow run \(flowRunID.lowercased()) of '\(flowName)' cancelled")
        case .unanswered:
            throw CommandFailure(message: "no client running flow run \(flowRunID.lowercased()) answered within "
                + "\(wait) s: it has ended, never ran, or its client is not connected. Workers on the broker will "
                + "still discard its queued tasks.")
        }
    }
}
