import TributaryCLI
import TributaryExamples
import TributaryServer

// `trib`: the examples' runner and the server. `trib list`, `trib run training-pipeline '{...}'`,
// `trib worker --broker ...`, `trib server start`, `trib flow-run ls`.
// Embedded runs are recorded in the server's store (TRIB_DATABASE), as a broker's runs are.
await TributaryCommandLine.main(registry: Examples.registry, commands: TributaryServerCommands.all,
                                subcommands: TributaryServerCommands.subcommands,
                                recordEmbeddedRuns: { try await LocalRunRecorder.open() })
