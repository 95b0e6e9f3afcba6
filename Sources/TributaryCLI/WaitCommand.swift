import ArgumentParser
import Foundation
import Tributary

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait for a submitted flow run to end and print its output as JSON.",
        discussion: "Works from any process and host that reaches the broker, also after the run has ended (its "
            + "outcome is kept for a day). Exits 1 if the run ended other than Completed, naming its state and error.")

    @Argument(help: "The flow-run id `run --submit` printed.")
    var flowRunID: String

    @Option(help: "Broker URL (default: $TRIB_BROKER_URL).")
    var broker: String?

    func validate() throws {
        guard TributaryCommandLine.brokerURL(broker) != nil else {
            throw ValidationError("no broker given: pass --broker amqp://user:pass@host:5672/ or set TRIB_BROKER_URL")
        }
        guard UUID(uuidString: flowRunID) != nil else {
            throw ValidationError("'\(flowRunID)' is not a flow-run id: give the UUID `run --submit` printed")
        }
    }

    func run() async throws {
        TributaryCommandLine.bootstrapLogging(defaultLevel: .warning)
        let client = Tributary(broker: TributaryCommandLine.brokerURL(broker)!,
                               registry: TributaryCommandLine.currentRegistry)
        let handle = client.flowRun(id: flowRunID.lowercased())
        let progress = WorkQueueNotice()
        do {
            let output = try await progress.whileWaiting(on: handle, client: client) { try await handle.result() }
            await client.close()
            print(RunCommand.pretty(output))
        } catch {
            await client.close()
            throw CommandFailure(error)
        }
    }
}
