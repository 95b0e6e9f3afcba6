import TributaryCLI
import TributaryExamples

// `trib`: the examples' runner. `trib list`, `trib run training-pipeline '{...}'`, `trib worker --broker ...`.
await TributaryCommandLine.main(registry: Examples.registry)
