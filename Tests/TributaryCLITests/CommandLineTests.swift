import Foundation
import Testing

/// Runs the real `trib` executable (built next to the test bundle) and captures what it prints.
struct Trib {
    let status: Int32
    let stdout: String
    let stderr: String

    /// Runs `trib` on a thread of its own, so waiting for it never blocks Swift's cooperative pool.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Trib {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try runBlocking(arguments, environment: environment) }) }.start()
        }
    }

    private static func runBlocking(_ arguments: [String], environment: [String: String]) throws -> Trib {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("trib")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "TRIB_BROKER_URL")
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Trib(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                    stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite("The trib command line")
struct CommandLineTests {
    @Test("list names the registered tasks and flows")
    func list() async throws {
        let result = try await Trib.run(["list"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("square"))
        #expect(result.stdout.contains("training-pipeline"))
    }

    @Test("run without a broker runs the flow on the embedded default and prints its output as JSON")
    func runEmbedded() async throws {
        let result = try await Trib.run(["run", "training-pipeline", #"{"pages": 3, "alphas": [0, 1], "threshold": 0.5}"#])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(summary?["promoted"] as? String == "ridge-alpha-0.0")
        let accepted = summary?["rowsAccepted"] as? Int ?? 0, rejected = summary?["rowsRejected"] as? Int ?? 0
        #expect(accepted + rejected == 3 * 40)
        #expect(rejected > 0)
    }

    @Test("input that is not JSON is refused with a hint, before anything runs")
    func invalidJSON() async throws {
        let result = try await Trib.run(["run", "training-pipeline", "{pages: 3"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("is not valid JSON"))
    }

    @Test("a flow input of the wrong shape names the missing field")
    func wrongShape() async throws {
        let result = try await Trib.run(["run", "training-pipeline", #"{"pages": 3}"#])
        #expect(result.status != 0)
        #expect(result.stderr.contains("missing key 'alphas'"))
    }

    @Test("an unknown flow lists the flows there are")
    func unknownFlow() async throws {
        let result = try await Trib.run(["run", "no-such-flow"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("no flow named 'no-such-flow'"))
        #expect(result.stderr.contains("training-pipeline"))
    }

    @Test("a worker without a broker says how to give one", arguments: [["worker"], ["worker", "--concurrency", "0"]])
    func workerValidation(arguments: [String]) async throws {
        let result = try await Trib.run(arguments + (arguments.count > 1 ? ["--broker", "amqp://localhost"] : []))
        #expect(result.status != 0)
        #expect(result.stderr.contains("--broker") || result.stderr.contains("--concurrency must be 1 or more"))
    }

    @Test("the broker URL comes from TRIB_BROKER_URL, and a bad one is refused with the reason")
    func brokerFromEnvironment() async throws {
        let result = try await Trib.run(["worker"], environment: ["TRIB_BROKER_URL": "http://nope:secret@localhost"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the scheme must be amqp or amqps"))
        #expect(!result.stderr.contains("secret"))
    }

    @Test("a renewal delay that is not a number of seconds is refused, naming the variable and what to give")
    func badRenewalDelay() async throws {
        let result = try await Trib.run(["worker", "--broker", "amqp://guest:guest@localhost:5672/"],
                                        environment: ["TRIB_RENEW_HELD_AFTER": "ten minutes"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("TRIB_RENEW_HELD_AFTER is 'ten minutes'"), "\(result.stderr)")
        #expect(result.stderr.contains("consumer_timeout"))
    }
}
