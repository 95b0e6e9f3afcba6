import Foundation

/// A five-field cron expression (minute, hour, day of month, month, day of week), as Vixie cron
/// reads it: `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, month and weekday
/// names (`jan`, `mon`), 7 for Sunday as well as 0, and the nicknames `@hourly`, `@daily`,
/// `@weekly`, `@monthly`, `@yearly`. When both day of month and day of week are restricted, a day
/// matches if either does (as cron).
///
/// It matches wall-clock times; ``CronSchedule`` maps them to instants in a time zone.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let description: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 is Sunday.
    let daysOfWeek: Set<Int>
    let daysOfMonthRestricted: Bool
    let daysOfWeekRestricted: Bool

    private static let nicknames = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `text`; throws ``ScheduleError`` naming the field that is wrong and what it takes.
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.nicknames[trimmed.lowercased()] ?? trimmed
        let fields = expanded.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw ScheduleError("cron '\(text)' has \(fields.count) field\(fields.count == 1 ? "" : "s"); it takes 5: "
                + "minute hour day-of-month month day-of-week (such as '0 3 * * 1'), or @hourly, @daily, @weekly, "
                + "@monthly, @yearly")
        }
        description = trimmed
        minutes = try Self.field(fields[0], "minute", 0...59, names: [], in: text)
        hours = try Self.field(fields[1], "hour", 0...23, names: [], in: text)
        daysOfMonth = try Self.field(fields[2], "day of month", 1...31, names: [], in: text)
        months = try Self.field(fields[3], "month", 1...12, names: Self.monthNames, firstName: 1, in: text)
        daysOfWeek = Set(try Self.field(fields[4], "day of week", 0...7, names: Self.dayNames, in: text).map { $0 % 7 })
        daysOfMonthRestricted = !fields[2].hasPrefix("*")
        daysOfWeekRestricted = !fields[4].hasPrefix("*")
        guard Self.someDayExists(daysOfMonth: daysOfMonth, months: months, weekdaysToo: daysOfWeekRestricted) else {
            throw ScheduleError("cron '\(text)' never matches: no month of \(fields[3]) has a day \(fields[2])")
        }
    }

    /// Whether wall-clock `time` (its fields in ``WallClock``) matches.
    func matches(_ time: WallClock) -> Bool {
        months.contains(time.month) && dayMatches(time) && hours.contains(time.hour) && minutes.contains(time.minute)
    }

    func dayMatches(_ time: WallClock) -> Bool {
        let byMonth = daysOfMonth.contains(time.day), byWeek = daysOfWeek.contains(time.weekday)
        switch (daysOfMonthRestricted, daysOfWeekRestricted) {
        case (true, true): return byMonth || byWeek
        case (true, false): return byMonth
        case (false, true): return byWeek
        case (false, false): return true
        }
    }

    /// The first wall-clock minute after `time` that matches (within 8 years; the parser refused
    /// expressions that never match).
    func next(after time: WallClock) -> WallClock? {
        var candidate = time.addingMinutes(1)
        let limit = time.year + 8
        while candidate.year <= limit {
            if !months.contains(candidate.month) {
                candidate = candidate.startOfNextMonth()
            } else if !dayMatches(candidate) {
                candidate = candidate.startOfNextDay()
            } else if !hours.contains(candidate.hour) {
                candidate = candidate.startOfNextHour()
            } else if !minutes.contains(candidate.minute) {
                candidate = candidate.addingMinutes(1)
            } else {
                return candidate
            }
        }
        return nil
    }

    private static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String],
                              firstName: Int = 0, in expression: String) throws -> Set<Int> {
        func problem(_ detail: String) -> ScheduleError {
            ScheduleError("cron '\(expression)': the \(name) field '\(text)' \(detail); it takes numbers "
                + "\(range.lowerBound)-\(range.upperBound)\(names.isEmpty ? "" : " or names (\(names[0]), \(names[1]), ...)")"
                + ", '*', ranges 'a-b', steps '*/n' and lists 'a,b'")
        }
        func value(_ part: Substring) throws -> Int {
            if let number = Int(part) {
                guard range.contains(number) else { throw problem("has \(number), out of range") }
                return number
            }
            if let index = names.firstIndex(of: part.lowercased()) { return index + firstName }
            throw problem("has '\(part)', which is not a number\(names.isEmpty ? "" : " or a name")")
        }
        var result = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else { throw problem("is not well formed") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else { throw problem("has step '\(pieces[1])', not a whole number above 0") }
                step = parsed
            }
            let lower: Int, upper: Int
            if pieces[0] == "*" {
                (lower, upper) = (range.lowerBound, range.upperBound)
            } else {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2, bounds.allSatisfy({ !$0.isEmpty }) else { throw problem("is not well formed") }
                lower = try value(bounds[0])
                upper = bounds.count == 2 ? try value(bounds[1]) : (pieces.count == 2 ? range.upperBound : lower)
                guard lower <= upper else { throw problem("has a range from \(lower) down to \(upper)") }
            }
            result.formUnion(stride(from: lower, through: upper, by: step))
        }
        return result
    }

    /// Whether some month of `months` has some day of `daysOfMonth` (a weekday restriction always
    /// finds a day, as cron ORs the two).
    private static func someDayExists(daysOfMonth: Set<Int>, months: Set<Int>, weekdaysToo: Bool) -> Bool {
        if weekdaysToo { return true }
        let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return months.contains { month in daysOfMonth.contains { $0 <= longest[month - 1] } }
    }
}

/// A time of day on a calendar date, with no time zone: what a clock on the wall shows. Its
/// arithmetic is the proleptic Gregorian calendar's.
struct WallClock: Sendable, Equatable, Comparable {
    var year: Int, month: Int, day: Int, hour: Int, minute: Int

    /// The wall clock as if it were UTC: seconds since 1970 of that naive time.
    var naiveSeconds: Int {
        let days = Self.daysFromCivil(year: year, month: month, day: day)
        return ((days * 24 + hour) * 60 + minute) * 60
    }

    /// 0 is Sunday.
    var weekday: Int {
        let days = Self.daysFromCivil(year: year, month: month, day: day)
        return ((days % 7) + 11) % 7 // 1970-01-01 was a Thursday (4)
    }

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        (self.year, self.month, self.day, self.hour, self.minute) = (year, month, day, hour, minute)
    }

    /// The wall clock of naive `seconds` since 1970 (seconds within the minute dropped).
    init(naiveSeconds seconds: Int) {
        let minutes = Int((Double(seconds) / 60).rounded(.down))
        let days = Int((Double(minutes) / 1440).rounded(.down))
        let minuteOfDay = minutes - days * 1440
        let (year, month, day) = Self.civil(fromDays: days)
        self.init(year: year, month: month, day: day, hour: minuteOfDay / 60, minute: minuteOfDay % 60)
    }

    func addingMinutes(_ count: Int) -> WallClock { WallClock(naiveSeconds: naiveSeconds + count * 60) }
    func startOfNextHour() -> WallClock {
        WallClock(naiveSeconds: (Int((Double(naiveSeconds) / 3600).rounded(.down)) + 1) * 3600)
    }
    func startOfNextDay() -> WallClock {
        WallClock(naiveSeconds: (Self.daysFromCivil(year: year, month: month, day: day) + 1) * 86400)
    }
    func startOfNextMonth() -> WallClock {
        month == 12 ? WallClock(year: year + 1, month: 1, day: 1, hour: 0, minute: 0)
            : WallClock(year: year, month: month + 1, day: 1, hour: 0, minute: 0)
    }

    static func < (lhs: WallClock, rhs: WallClock) -> Bool { lhs.naiveSeconds < rhs.naiveSeconds }

    /// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// The Gregorian date `days` after 1970-01-01 (civil_from_days).
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
