import Foundation

/// Everything one benchmark run measured, for the table and the JSON file.
struct Report: Codable {
    struct Machine: Codable {
        let cores: Int
        let memoryGiB: Double
        let date: String
        let swift: String
        let rabbitmq: String

        static var current: Machine {
            Machine(cores: ProcessInfo.processInfo.activeProcessorCount,
                    memoryGiB: (Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824 * 10).rounded() / 10,
                    date: ISO8601DateFormatter().string(from: Date()),
                    swift: ProcessInfo.processInfo.environment["TRIB_SWIFT_VERSION"] ?? "unknown",
                    rabbitmq: ProcessInfo.processInfo.environment["TRIB_RABBITMQ_VERSION"] ?? "unknown")
        }
    }

    struct Settings: Codable {
        let workers: Int
        let concurrency: Int
        let prefetch: Int
        let repetitions: Int
        let n: Int
        let chain: Int
        let smoke: Bool
    }

    let machine: Machine
    let settings: Settings
    let command: String
    var modes: [ModeResult]

    var table: String {
        var lines = [
            "Tributary benchmarks — \(machine.cores) cores, \(machine.memoryGiB) GiB, \(machine.date)",
            "Swift \(machine.swift), RabbitMQ \(machine.rabbitmq), librabbitmq 0.11 floor",
            "\(settings.workers) worker processes × concurrency \(settings.concurrency), prefetch \(settings.prefetch); "
                + "client in its own process; broker on the same machine; median (min–max) of \(settings.repetitions)"
                + (settings.smoke ? " — SMOKE RUN, figures mean nothing" : ""),
            "",
            "| workload | persistence | Tributary | floor (plain librabbitmq) | ratio |",
            "| --- | --- | --- | --- | --- |",
        ]
        for mode in modes {
            let p = mode.persistence
            // Each task workload with packing on, then off (when both were run), side by side.
            let variants = [true, false].map { packed in
                (off: packed ? "" : ", packing off", figures: { (name: String) in
                    mode.workloads[ModeResult.key(name, packed: packed)]
                })
            }
            for (off, w) in variants {
                if let fanout = w("fanout"), let floor = mode.floorFanout {
                    lines.append("| fanout N=\(settings.n)\(off), tasks/s | \(p) | \(fanout.text()) | \(floor.text()) | "
                        + "\(format(fanout.median / floor.median, 2)) × floor |")
                }
            }
            for (off, w) in variants {
                if let chain = w("chain"), let floor = mode.floorChainP50 {
                    lines.append("| chain p50\(off), µs | \(p) | \(chain.text()) | \(floor.text()) | "
                        + "\(format(chain.median / floor.median, 2)) × floor |")
                }
                if let chain = w("chain-p99"), let floor = mode.floorChainP99 {
                    lines.append("| chain p99\(off), µs | \(p) | \(chain.text()) | \(floor.text()) | "
                        + "\(format(chain.median / floor.median, 2)) × floor |")
                }
            }
            for (off, w) in variants {
                if let value = w("mapreduce") {
                    lines.append("| mapreduce 2,000 + 20 + 1 tasks\(off), s | \(p) | \(value.text(3)) | | |")
                }
                if let value = w("retry") {
                    lines.append("| retry 2,000 (all completed)\(off), tasks/s | \(p) | \(value.text()) | | |")
                }
                if let value = w("cpu"), let ideal = mode.cpuIdealSeconds {
                    lines.append("| cpu 200 × 10 ms\(off), s | \(p) | \(value.text(3)) | ideal \(format(ideal, 3)) | "
                        + "\(format(value.median / ideal, 2)) × ideal |")
                }
                if let value = w("blocking"), let ideal = mode.blockingIdealSeconds {
                    lines.append("| blocking \(settings.smoke ? 40 : 200) × 50 ms (usleep)\(off), s | \(p) | \(value.text(3)) | "
                        + "ideal \(format(ideal, 3)) | \(format(value.median / ideal, 2)) × ideal |")
                }
            }
            if let value = mode.workloads["flows"] {
                lines.append("| flows: \(settings.smoke ? 40 : 1_000) runs × 5 tasks at once, 2 agents, flow runs/s | \(p) | "
                    + "\(value.text()) | target 200 | |")
            }
            if let p50 = mode.workloads["flows-p50"], let p99 = mode.workloads["flows-p99"] {
                lines.append("| flows: submit → final status p50 / p99, ms | \(p) | \(p50.text(1)) / \(p99.text(1)) | | |")
            }
            if let idle = mode.workloads["flow-idle-p50"] {
                lines.append("| one flow run on idle agents, submit → result p50, ms | \(p) | \(idle.text(1)) | target 20 | |")
            }
            if let agent = mode.workloads["agent-fanout"], let direct = mode.workloads["agent-fanout-direct"] {
                lines.append("| fanout N=\(settings.n) submitted to an agent (journaled), tasks/s | \(p) | \(agent.text()) | "
                    + "client.run: \(direct.text()) | \(format(agent.median / direct.median, 2)) × client.run |")
            }
            for size in ["1000", "10000", "100000"] {
                if let value = mode.scale[size] {
                    lines.append("| scale: fanout N=\(size), tasks/s | \(p) | \(value.text()) | | |")
                }
            }
            if let big = mode.scale["100000"], let ten = mode.scale["10000"] {
                lines.append("| scale: 100k ÷ 10k | \(p) | \(format(big.median / ten.median, 2)) | | |")
            }
            if let rss = mode.coordinatorPeakRSS {
                let workers = mode.workerPeakRSS.map { "\($0 / 1_048_576) MB" }.joined(separator: ", ")
                lines.append("| peak RSS at N=100,000: coordinator; workers | \(p) | \(rss / 1_048_576) MB; \(workers) | | |")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// The figures for one persistence setting.
struct ModeResult: Codable {
    let persistence: String
    var floorFanout: Summary?
    var floorChainP50: Summary?
    var floorChainP99: Summary?
    var workloads: [String: Summary] = [:]
    var scale: [String: Summary] = [:]
    var coordinatorPeakRSS: Int?
    var workerPeakRSS: [Int] = []
    var cpuIdealSeconds: Double?
    /// Rounds of `workers × concurrency` blocking tasks, 50 ms each.
    var blockingIdealSeconds: Double?

    init(persistence: String) {
        self.persistence = persistence
    }

    /// The key of a workload's figures: its name, with `@unpacked` when packing was off.
    static func key(_ workload: String, packed: Bool) -> String {
        packed ? workload : "\(workload)@unpacked"
    }
}
