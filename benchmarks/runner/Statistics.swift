/// Median, min and max of repeated measurements.
struct Summary: Codable {
    private(set) var median: Double
    private(set) var min: Double
    private(set) var max: Double
    private(set) var runs: [Double]

    init(_ values: [Double]) {
        let sorted = values.sorted()
        runs = values
        median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        min = sorted.first ?? 0
        max = sorted.last ?? 0
    }

    /// Adds one more measurement.
    mutating func append(_ value: Double) {
        self = Summary(runs + [value])
    }

    /// `median (min–max)` with `digits` decimals.
    func text(_ digits: Int = 0) -> String {
        "\(format(median, digits)) (\(format(min, digits))–\(format(max, digits)))"
    }
}

/// The value at quantile `q` (0...1) of `values`.
func percentile(_ values: [Double], _ q: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
}

func format(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}

import Foundation
