import ArgumentParser

/// The server product's commands, for a command line built on TributaryCLI:
/// `await TributaryCommandLine.main(registry: ..., commands: TributaryServerCommands.all)`.
public enum TributaryServerCommands {
    public static let all: [any ParsableCommand.Type] = [ServerCommand.self, FlowRunCommand.self, TaskRunCommand.self]
}
