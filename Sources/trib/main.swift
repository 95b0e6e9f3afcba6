import TributaryCLI
import TributaryExamples
import TributaryServer

// `trib`: the examples' runner and the server. `trib list`, `trib run training-pipeline '{...}'`,
// `trib worker --broker ...`, `trib server start`, `trib flow-run ls`.
await TributaryCommandLine.main(registry: Examples.registry, commands: TributaryServerCommands.all,
                                subcommands: TributaryServerCommands.subcommands)
