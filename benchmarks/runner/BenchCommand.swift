import ArgumentParser
import Foundation
import Logging
import Tributary
import TributaryExamples

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trib-bench",
        abstract: "Tributary's benchmark workloads against the broker's own floor, on a real RabbitMQ.")

    @Option(help: "Broker URL.") var broker = "amqp://guest:guest@localhost:5672/"
    @Option(help: "Tasks in the fanout workload.") var n = 10_000
    @Option(help: "Round trips in the chain workload.") var chain = 1_000
    @Option(help: "Worker processes.") var workers = 2
    @Option(help: "Tasks each worker runs at once.") var concurrency = 16
    @Option(help: "Prefetch of each worker and each echo process.") var prefetch = 200
    @Option(help: "Repetitions of each workload.") var repetitions = 3
    @Option(help: "Message persistence: on, off or both.") var persistence = "both"
    @Option(help: "Task packing (several tasks in one message, issue 15): on, off or both, side by side.")
    var packing = "both"
    @Option(help: "Workloads, comma-separated: fanout,chain,mapreduce,retry,cpu,blocking,flows,agent-fanout.")
    var workloads = "fanout,chain,mapreduce,retry,cpu,blocking,flows,agent-fanout"
    @Option(help: "Flow runs submitted at once in the flows workload.") var flowRuns = 1_000
    @Option(help: "Agent processes for the flows and agent-fanout workloads.") var agents = 2
    @Option(help: "Flow runs each agent runs at once.") var agentConcurrency = 8
    @Flag(inversion: .prefixedNo, help: "Fanout at N = 1,000 / 10,000 / 100,000.") var scale = true
    @Flag(inversion: .prefixedNo, help: "Peak RSS of coordinator and workers on fanout at N = 100,000.")
    var memory = true
    @Flag(help: "A quick check that everything runs: few tasks, one repetition, no scale or memory.")
    var smoke = false
    @Option(help: "Where to write the JSON results.") var json = "benchmarks/out/results.json"
    @Option(help: "Instead of the workloads: one submitted run of this many tasks whose agent is killed half-way.")
    var takeover: Int?
    @Option(help: "Instead of the workloads: what the broker operations a submitted run makes cost, each this many times.")
    var probeBrokerOps: Int?
    @Option(name: .customLong("probe-message-costs"),
            help: "Instead of the workloads: the broker's CPU per message for each part of a task message, this many messages per variant (issue 15).")
    var probeMessageCosts: Int?
    @Option(name: .customLong("events-cost"),
            help: "Instead of the workloads: what recording costs, on fanouts of this many tasks (issue 12).")
    var eventsCost: Int?
    @Option(name: .customLong("api-latency"),
            help: "Instead of the workloads: the server API's latency over a store of this many task runs (issue 12).")
    var apiLatency: Int?
    @Option(name: .customLong("api-big-run"), help: "Task runs in the one large flow run of --api-latency.")
    var apiBigRun = 100_000
    @Option(name: .customLong("database"),
            help: ArgumentHelp("--api-latency and --events-cost on this PostgreSQL (postgres://...; --api-latency "
                + "empties it first) instead of a SQLite file of their own."))
    var database: String?
    @Option(name: .customLong("ui-page"),
            help: ArgumentHelp("Instead of the workloads: a flow run's page in headless Chromium, for flow runs of "
                + "these many task runs (comma list, issue 13)."))
    var uiPage: String?
    @Option(name: .customLong("schedule-lag"),
            help: ArgumentHelp("Instead of the workloads: this many deployments on one interval, run by agents, "
                + "for --schedule-duration seconds: how late their runs are pushed and started (issue 14)."))
    var scheduleLag: Int?
    @Option(name: .customLong("schedule-interval"), help: "The deployments' interval in seconds (--schedule-lag).")
    var scheduleInterval = 60
    @Option(name: .customLong("schedule-duration"), help: "How long --schedule-lag holds them, in seconds.")
    var scheduleDuration = 300
    @Option(help: .hidden) var probeFanout: Int?
    @Option(help: .hidden) var probeQueue = "bench"
    @Option(help: .hidden) var probePersistent = 0

    mutating func validate() throws {
        guard ["on", "off", "both"].contains(persistence) else { throw ValidationError("--persistence is on, off or both") }
        guard ["on", "off", "both"].contains(packing) else { throw ValidationError("--packing is on, off or both") }
        let known: Set = ["fanout", "chain", "mapreduce", "retry", "cpu", "blocking", "flows", "agent-fanout"]
        for name in workloadList where !known.contains(name) {
            throw ValidationError("unknown workload '\(name)'; choose from \(known.sorted().joined(separator: ","))")
        }
        guard n > 0, chain > 0, workers > 0, concurrency > 0, repetitions > 0, (1...65_535).contains(prefetch) else {
            throw ValidationError("counts must be positive and --prefetch from 1 to 65535")
        }
        if smoke {
            n = 300; chain = 50; repetitions = 1; scale = false; memory = false; flowRuns = 40
        }
    }

    var workloadList: [String] { workloads.split(separator: ",").map(String.init) }

    func run() async throws {
        // The runs' status boards (a queue each) go 10 minutes after their last use, not a day:
        // a broker left holding the boards of a few benchmarks' 25,000 runs took minutes and
        // 16 GB and more to restart. Set by this process before anything reads it; its helper
        // processes inherit it.
        setenv("TRIB_FLOW_RUN_RETENTION", "600", 0)
        if let probeBrokerOps {
            for line in try await BrokerOperationCosts(broker: broker, count: probeBrokerOps).measure() { print(line) }
            return
        }
        if let probeMessageCosts {
            guard probeMessageCosts > 0 else { throw ValidationError("--probe-message-costs takes a count above 0") }
            for line in try await MessageCosts(broker: broker, count: probeMessageCosts, rounds: max(repetitions, 3))
                .measure() {
                print(line)
            }
            return
        }
        // The measurements other than the workloads run one after the other, in one invocation.
        var measured = false
        if let apiLatency {
            for line in try await APILatency(bigRun: min(apiBigRun, apiLatency), total: apiLatency,
                                             requests: smoke ? 5 : 100, database: database).measure() {
                print(line)
            }
            measured = true
        }
        if let scheduleLag {
            guard scheduleLag > 0, scheduleInterval > 0, scheduleDuration > 0 else {
                throw ValidationError("--schedule-lag, --schedule-interval and --schedule-duration take numbers above 0")
            }
            for line in try await ScheduleLag(broker: broker, deployments: scheduleLag, interval: scheduleInterval,
                                              duration: scheduleDuration, agents: agents,
                                              agentConcurrency: agentConcurrency).measure() {
                print(line)
            }
            measured = true
        }
        if let uiPage {
            let sizes = uiPage.split(separator: ",").compactMap { Int($0) }
            guard !sizes.isEmpty, sizes.allSatisfy({ $0 > 0 }) else {
                throw ValidationError("--ui-page takes task-run counts, such as 1000,10000,100000")
            }
            for line in try await UIPage(sizes: sizes, repetitions: smoke ? 1 : 3).measure() { print(line) }
            measured = true
        }
        if let eventsCost {
            let pool = try await startWorkers(queue: "bench-events")
            let lines = try await EventsCost(broker: broker, n: eventsCost, repetitions: repetitions,
                                             queue: "bench-events", database: database).measure()
            for worker in pool { await worker.stop() }
            for line in lines { print(line) }
            measured = true
        }
        if measured { return }
        if let takeover {
            let workersPool = try await startWorkers(queue: "bench-takeover")
            let outcome = try await Takeover(broker: broker, queue: "bench-takeover", count: takeover,
                                             chunk: max(1, min(1_000, takeover / 20))).measure()
            for worker in workersPool { await worker.stop() }
            print("takeover: \(takeover) tasks in chunks, agent killed with SIGKILL after \(outcome.tasksDoneAtKill) "
                + "finished; run \(format(outcome.runSeconds, 2)) s in all; kill to the resumed run's first new task "
                + "\(format(outcome.killToFirstNewTaskSeconds, 3)) s; resuming agent's peak RSS "
                + "\(outcome.resumingAgentPeakRSS / 1_048_576) MB; finished tasks run again: \(outcome.reExecuted)")
            return
        }
        if let probeFanout {
            // The memory probe: one fanout in a fresh process, then its own peak RSS.
            let client = Tributary(broker: broker, logger: Self.quietLogger)
            let rate = try await Workloads(client: client, queue: probeQueue, persistent: probePersistent == 1)
                .fanout(probeFanout)
            await client.close()
            print("tasks_per_s=\(rate) peak_rss=\(HelperProcess.peakRSS(pid: getpid()) ?? 0)")
            return
        }
        let modes = persistence == "both" ? [false, true] : [persistence == "on"]
        var report = Report(machine: .current, settings: .init(workers: workers, concurrency: concurrency,
                                                                prefetch: prefetch, repetitions: repetitions, n: n,
                                                                chain: chain, smoke: smoke),
                            command: CommandLine.arguments.joined(separator: " "), modes: [])
        for persistent in modes {
            report.modes.append(try await measure(persistent: persistent))
        }
        print(report.table)
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: json).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        print("JSON: \(json)")
    }

    private func measure(persistent: Bool) async throws -> ModeResult {
        let label = persistent ? "persistent" : "transient"
        let flag = persistent ? "1" : "0"
        var result = ModeResult(persistence: label)
        log("[\(label)] floor: 2 echo processes (plain librabbitmq), prefetch \(prefetch)")
        let floorQueue = "bench.floor.\(label)"
        // Plain librabbitmq reads the URL alone: Tributary's own options (queue_type) left out,
        // its queue a classic one.
        let floorBroker = try QueueType.split(brokerURL: broker).amqpURL
        var echoes: [HelperProcess] = []
        for index in 0..<2 {
            echoes.append(try await HelperProcess("trib-floor", ["echo", floorBroker, floorQueue, "\(prefetch)", flag],
                                                  readyText: "echo ready", label: "echo\(index)"))
        }
        var floorRates: [Double] = [], floorP50: [Double] = [], floorP99: [Double] = []
        for _ in 0..<repetitions {
            floorRates.append(try Self.value("tasks_per_s", in: try runToCompletion(
                "trib-floor", ["fanout", floorBroker, floorQueue, "\(n)", flag])))
            let chainOutput = try runToCompletion("trib-floor", ["chain", floorBroker, floorQueue, "\(chain)", flag])
            floorP50.append(try Self.value("p50_us", in: chainOutput))
            floorP99.append(try Self.value("p99_us", in: chainOutput))
        }
        for echo in echoes { await echo.stop() }
        result.floorFanout = Summary(floorRates)
        result.floorChainP50 = Summary(floorP50)
        result.floorChainP99 = Summary(floorP99)

        let queue = "bench-\(label)"
        var pool = try await startWorkers(queue: queue)
        let client = Tributary(broker: broker, registry: Examples.registry, logger: Self.quietLogger)
        let packings = packing == "both" ? [true, false] : [packing == "on"]
        _ = try await Workloads(client: client, queue: queue, persistent: persistent).fanout(min(n, 500))
        let workQueue = "bench-flows-\(label)"
        var agentPool: [HelperProcess] = []
        if workloadList.contains("flows") || workloadList.contains("agent-fanout") {
            for index in 0..<agents {
                agentPool.append(try await HelperProcess("trib", [
                    "agent", "--broker", broker, "--work-queue", workQueue, "--concurrency", "\(agentConcurrency)",
                    "--id", "bench-agent-\(index)",
                ], readyText: "agent ready", label: "agent\(index)"))
            }
        }
        let iterations = Workloads.calibrateBurn()
        for workload in workloadList {
            // Submitted flows run in the agents, which pack by their own setting: measured once.
            let settings = ["flows", "agent-fanout"].contains(workload) ? [packings[0]] : packings
            for packed in settings {
                let key = ModeResult.key(workload, packed: packed)
                let workloads = Workloads(client: client, queue: queue, persistent: persistent, packing: packed)
                log("[\(label)] \(workload)\(packed ? "" : ", packing off") × \(repetitions)")
                var values: [Double] = [], p99: [Double] = []
                for _ in 0..<repetitions {
                    switch workload {
                    case "fanout": values.append(try await workloads.fanout(n))
                    case "chain":
                        let latencies = try await workloads.chain(chain)
                        values.append(percentile(latencies, 0.5))
                        p99.append(percentile(latencies, 0.99))
                    case "mapreduce": values.append(try await workloads.mapReduce(smoke ? 200 : 2_000, chunk: smoke ? 20 : 100))
                    case "retry": values.append(try await workloads.retry(smoke ? 200 : 2_000))
                    case "flows":
                        let (rate, latencies) = try await workloads.flows(flowRuns, workQueue: workQueue)
                        values.append(rate)
                        result.workloads["flows-p50", default: Summary([])].append(percentile(latencies, 0.5))
                        result.workloads["flows-p99", default: Summary([])].append(percentile(latencies, 0.99))
                        let idle = try await workloads.flowLatency(smoke ? 5 : 50, workQueue: workQueue)
                        result.workloads["flow-idle-p50", default: Summary([])].append(percentile(idle, 0.5))
                    case "agent-fanout":
                        let (submitted, direct) = try await workloads.agentFanout(n, workQueue: workQueue)
                        values.append(submitted)
                        result.workloads["agent-fanout-direct", default: Summary([])].append(direct)
                    case "blocking":
                        // Rounds of workers × concurrency tasks, each 50 ms: 200 tasks on 2 × 16 is 7 rounds.
                        let count = smoke ? 40 : 200
                        let rounds = (count + workers * concurrency - 1) / (workers * concurrency)
                        result.blockingIdealSeconds = Double(rounds) * 0.050
                        values.append(try await workloads.blocking(count))
                    default:
                        let count = smoke ? 20 : 200
                        result.cpuIdealSeconds = Double(count) * 0.010 / Double(workers)
                        values.append(try await workloads.cpu(count, iterations: iterations))
                    }
                }
                result.workloads[key] = Summary(values)
                if !p99.isEmpty { result.workloads[ModeResult.key("chain-p99", packed: packed)] = Summary(p99) }
            }
        }
        if scale {
            for size in [1_000, 10_000] {
                log("[\(label)] scale: fanout N = \(size) × \(repetitions)")
                var rates: [Double] = []
                let workloads = Workloads(client: client, queue: queue, persistent: persistent, packing: packings[0])
                for _ in 0..<repetitions { rates.append(try await workloads.fanout(size)) }
                result.scale["\(size)"] = Summary(rates)
            }
        }
        for agent in agentPool { await agent.stop() }
        await client.close()
        if memory {
            log("[\(label)] memory: fanout N = 100,000 from a fresh coordinator process and fresh workers")
            for worker in pool { await worker.stop() }
            pool = try await startWorkers(queue: queue)
            let output = try runToCompletion("trib-bench", ["--broker", broker, "--probe-fanout", "100000",
                                                            "--probe-queue", queue, "--probe-persistent", flag])
            result.coordinatorPeakRSS = Int(try Self.value("peak_rss", in: output))
            result.workerPeakRSS = pool.compactMap(\.peakRSS)
            result.scale["100000"] = Summary([try Self.value("tasks_per_s", in: output)])
        }
        for worker in pool { await worker.stop() }
        return result
    }

    private func startWorkers(queue: String) async throws -> [HelperProcess] {
        var pool: [HelperProcess] = []
        for index in 0..<workers {
            pool.append(try await HelperProcess("trib", [
                "worker", "--broker", broker, "--queue", queue, "--concurrency", "\(concurrency)",
                "--prefetch", "\(prefetch)", "--id", "bench-\(index)",
            ], readyText: "worker ready", label: "worker\(index)"))
        }
        return pool
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "tributary.bench")
        logger.logLevel = .warning
        return logger
    }

    static func value(_ key: String, in output: String) throws -> Double {
        for field in output.split(whereSeparator: { $0 == " " || $0 == "\n" }) where field.hasPrefix(key + "=") {
            if let value = Double(field.dropFirst(key.count + 1)) { return value }
        }
        throw BenchError("no \(key) in: \(output)")
    }

    private func log(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
