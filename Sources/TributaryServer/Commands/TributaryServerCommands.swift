import ArgumentParser

/// The server product's commands, for a command line built on TributaryCLI:
/// `await TributaryCommandLine.main(registry: ..., commands: TributaryServerCommands.all,
/// subcommands: TributaryServerCommands.subcommands)`.
public enum TributaryServerCommands {
    public static let all: [any ParsableCommand.Type] = [ServerCommand.self, FlowRunCommand.self, TaskRunCommand.self,
                                                          DeploymentCommand.self, DeployCommand.self]
    /// `worker ls`, `agent ls`, `work-queue ls` and `work-queue preview`.
    public static let subcommands: [String: [any ParsableCommand.Type]] = [
        "worker": [ProcessListCommand<WorkerKind>.self], "agent": [ProcessListCommand<AgentKind>.self],
        "work-queue": [WorkQueueListCommand.self, WorkQueuePreviewCommand.self],
    ]
}
