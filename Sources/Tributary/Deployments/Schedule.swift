import Foundation

/// When a deployment runs on its own: a cron expression in a time zone, or a fixed interval from an
/// anchor time. Encoded as `{"cron": "0 3 * * 1", "timezone": "Europe/Berlin"}` or
/// `{"interval": 3600, "anchor": "2026-01-01T00:00:00Z"}`.
public enum Schedule: Sendable, Equatable, Codable, CustomStringConvertible {
    case cron(CronSchedule)
    case interval(IntervalSchedule)

    /// The first time strictly after `time` that this schedule runs at.
    public func next(after time: Date) -> Date? {
        switch self {
        case .cron(let schedule): schedule.next(after: time)
        case .interval(let schedule): schedule.next(after: time)
        }
    }

    /// The times this schedule runs at in (`start`, `end`], at most `limit` of them.
    public func times(after start: Date, through end: Date, limit: Int) -> [Date] {
        var times: [Date] = [], current = start
        while times.count < limit, let next = next(after: current), next <= end {
            times.append(next)
            current = next
        }
        return times
    }

    /// The last `limit` times this schedule runs at in (`start`, `end`], oldest first.
    public func latestTimes(after start: Date, through end: Date, limit: Int) -> [Date] {
        var times: [Date] = [], current = start
        times.reserveCapacity(limit + 1)
        while let next = next(after: current), next <= end {
            times.append(next)
            if times.count > limit { times.removeFirst() }
            current = next
        }
        return times
    }

    public var description: String {
        switch self {
        case .cron(let schedule): "cron '\(schedule.expression)' (\(schedule.timeZone.identifier))"
        case .interval(let schedule): "every \(IntervalSchedule.describe(seconds: schedule.seconds)) from "
            + ISO8601Time.format(schedule.anchor)
        }
    }

    private enum CodingKeys: String, CodingKey { case cron, timezone, interval, anchor }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let cron = try container.decodeIfPresent(String.self, forKey: .cron)
        let timeZone = try container.decodeIfPresent(String.self, forKey: .timezone)
        let seconds = try container.decodeIfPresent(Double.self, forKey: .interval)
        let anchor = try container.decodeIfPresent(String.self, forKey: .anchor)
        switch (cron, seconds) {
        case (let cron?, nil):
            if anchor != nil {
                throw ScheduleError(#""anchor" goes with "interval", not "cron": a cron schedule follows its time zone's clock"#)
            }
            self = .cron(try CronSchedule(cron, timeZone: timeZone ?? "UTC"))
        case (nil, let seconds?):
            if timeZone != nil {
                throw ScheduleError(#""timezone" goes with "cron", not "interval": an interval counts elapsed seconds "#
                    + #"from its "anchor" (use cron for a time on local clocks)"#)
            }
            self = .interval(try IntervalSchedule(seconds: seconds, anchor: try anchor.map { text in
                guard let date = ISO8601Time.parse(text) else {
                    throw ScheduleError("anchor '\(text)' is not an ISO 8601 time such as 2026-01-01T00:00:00Z")
                }
                return date
            }))
        case (_?, _?):
            throw ScheduleError(#"a schedule has "cron" or "interval", not both: give each its own schedule"#)
        case (nil, nil):
            throw ScheduleError(#"a schedule has "cron" (with an optional "timezone") or "interval" (seconds, "#
                + #"with an optional "anchor" time)"#)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .cron(let schedule):
            try container.encode(schedule.expression.description, forKey: .cron)
            try container.encode(schedule.timeZone.identifier, forKey: .timezone)
        case .interval(let schedule):
            try container.encode(schedule.seconds, forKey: .interval)
            try container.encode(ISO8601Time.format(schedule.anchor), forKey: .anchor)
        }
    }
}

/// A cron expression read on the wall clocks of a time zone.
///
/// Across daylight-saving changes it follows the wall clock, with two rules: a local time the change
/// skips (02:30 on the night clocks go from 02:00 to 03:00) runs once, at the end of the gap (03:00);
/// a local time the change repeats (02:30 on the night clocks go back from 03:00 to 02:00) runs once,
/// at its first occurrence. So a daily job runs once every day, and an hourly one once per local hour.
public struct CronSchedule: Sendable, Equatable {
    public let expression: CronExpression
    public let timeZone: TimeZone

    /// Throws ``ScheduleError`` for a malformed expression or a time zone the system does not know.
    public init(_ expression: String, timeZone identifier: String = "UTC") throws {
        self.expression = try CronExpression(expression)
        guard let timeZone = TimeZone(identifier: identifier) else {
            throw ScheduleError("time zone '\(identifier)' is not known: give an IANA name such as UTC, "
                + "Europe/Berlin or America/New_York")
        }
        self.timeZone = timeZone
    }

    /// The first instant strictly after `time` whose wall clock matches, by the rules above.
    public func next(after time: Date) -> Date? {
        let seconds = Int(time.timeIntervalSince1970.rounded(.down))
        var wall = WallClock(naiveSeconds: seconds + timeZone.secondsFromGMT(for: time))
        while let candidate = expression.next(after: wall) {
            let instant = self.instant(of: candidate)
            if instant > time { return instant }
            wall = candidate
        }
        return nil
    }

    /// The instant a wall-clock time names here: its first occurrence if the clocks went back over
    /// it, the end of the gap if they jumped over it.
    func instant(of wall: WallClock) -> Date {
        let naive = wall.naiveSeconds
        let earlier = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(naive - 86400)))
        let later = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(naive + 86400)))
        let occurrences = Set([earlier, later]).map { naive - $0 }
            .filter { timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double($0))) == naive - $0 }
        if let first = occurrences.min() { return Date(timeIntervalSince1970: Double(first)) }
        // Skipped: the change happened between naive - later and naive - earlier.
        let from = Date(timeIntervalSince1970: Double(naive - max(earlier, later)))
        return timeZone.nextDaylightSavingTimeTransition(after: from)
            ?? Date(timeIntervalSince1970: Double(naive - min(earlier, later)))
    }
}

/// Every `seconds`, on the grid through `anchor`: exact elapsed time, so a daily interval keeps its
/// UTC time and moves an hour on local clocks across daylight saving (use cron for a local time).
public struct IntervalSchedule: Sendable, Equatable {
    public let seconds: Double
    public let anchor: Date
    /// The longest interval, in seconds: 10 years of 365 days.
    public static let longest: Double = 315_360_000

    /// Throws ``ScheduleError`` for an interval under a second. The anchor defaults to 2020-01-01 UTC,
    /// so intervals that divide a day fall on round times.
    public init(seconds: Double, anchor: Date? = nil) throws {
        guard seconds >= 1, seconds <= Self.longest else {
            throw ScheduleError("an interval must be 1 second to 10 years (\(Int(Self.longest)) s), not \(seconds)")
        }
        self.seconds = seconds
        self.anchor = anchor ?? Date(timeIntervalSince1970: 1_577_836_800)
    }

    public func next(after time: Date) -> Date? {
        let elapsed = time.timeIntervalSince(anchor)
        var steps = (elapsed / seconds).rounded(.down) + 1
        if anchor.addingTimeInterval(steps * seconds) <= time { steps += 1 }
        return anchor.addingTimeInterval(steps * seconds)
    }

    /// `90` as "90 s", `3600` as "1 h", `86400` as "1 d".
    static func describe(seconds: Double) -> String {
        for (unit, size) in [("d", 86400.0), ("h", 3600.0), ("min", 60.0)] where seconds >= size
            && (seconds / size).rounded() == seconds / size {
            return "\(Int(seconds / size)) \(unit)"
        }
        return seconds.rounded() == seconds ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}

/// A schedule, cron expression, time zone or deployment that cannot be used, with what to do.
public struct ScheduleError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
