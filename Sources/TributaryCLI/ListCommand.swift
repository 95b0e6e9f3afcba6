import ArgumentParser
import Tributary

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the registered tasks and flows.")

    func run() throws {
        let registry = TributaryCommandLine.currentRegistry
        print("tasks:")
        for name in registry.taskNames { print("  \(name)") }
        print("flows:")
        for name in registry.flowNames { print("  \(name)") }
        for problem in registry.problems { print("problem: \(problem)") }
    }
}
