import Foundation
import Testing
import Tributary

@Suite("Schedules: when a deployment runs next")
struct ScheduleTests {
    struct Expectation: Decodable, CustomTestStringConvertible {
        var cron: String, timezone: String, why: String, after: Date, next: [Date]
        var testDescription: String { "\(cron) in \(timezone): \(why)" }
    }

    /// Computed once by Fixtures/make-cron-expectations.py (croniter for the wall-clock times,
    /// zoneinfo for the instants) and checked in.
    static let expectations: [Expectation] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/cron-expectations.json")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return (try? decoder.decode([Expectation].self, from: Data(contentsOf: url))) ?? []
    }()

    @Test("the fixture of reference times is there")
    func fixtureLoads() {
        #expect(Self.expectations.count >= 20)
    }

    @Test("cron's next times match the reference's, across month ends, 29 February and both daylight-saving changes",
          arguments: expectations)
    func cronNextTimes(_ expected: Expectation) throws {
        let schedule = Schedule.cron(try CronSchedule(expected.cron, timeZone: expected.timezone))
        var times: [Date] = [], current = expected.after
        for _ in expected.next {
            let next = try #require(schedule.next(after: current))
            times.append(next)
            current = next
        }
        #expect(times == expected.next)
    }

    @Test("a daily cron runs once on the day the clocks skip its time, and once on the day they repeat it")
    func dailyAcrossChanges() throws {
        let schedule = Schedule.cron(try CronSchedule("30 2 * * *", timeZone: "Europe/Berlin"))
        let march = schedule.times(after: date("2026-03-28T00:00:00Z"), through: date("2026-03-31T00:00:00Z"), limit: 10)
        #expect(march.map(\.timeIntervalSince1970) == [
            "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z",
        ].map { date($0).timeIntervalSince1970 })
        let october = schedule.times(after: date("2026-10-24T00:00:00Z"), through: date("2026-10-27T00:00:00Z"), limit: 10)
        #expect(october.count == 3)
    }

    @Test("an interval runs on the grid through its anchor, strictly after the time asked")
    func intervals() throws {
        let anchor = date("2026-01-01T00:00:00Z")
        let schedule = Schedule.interval(try IntervalSchedule(seconds: 90, anchor: anchor))
        #expect(schedule.next(after: anchor) == anchor.addingTimeInterval(90))
        #expect(schedule.next(after: anchor.addingTimeInterval(100)) == anchor.addingTimeInterval(180))
        #expect(schedule.next(after: anchor.addingTimeInterval(-10)) == anchor)
        #expect(schedule.times(after: anchor, through: anchor.addingTimeInterval(900), limit: 4).count == 4)
    }

    @Test("malformed cron strings, time zones and intervals get an error that names what is wrong",
          arguments: [
              ("0 3 * *", "UTC", "has 4 fields"),
              ("61 * * * *", "UTC", "minute field '61' has 61, out of range"),
              ("0 3 * * funday", "UTC", "day of week field 'funday'"),
              ("0 3 5-1 * *", "UTC", "from 5 down to 1"),
              ("*/0 * * * *", "UTC", "not a whole number above 0"),
              ("0 0 30 2 *", "UTC", "never matches"),
              ("0 3 * * 1", "Mars/Olympus", "time zone 'Mars/Olympus' is not known"),
          ])
    func malformed(_ cron: String, _ timeZone: String, _ message: String) {
        #expect { try CronSchedule(cron, timeZone: timeZone) } throws: { error in
            "\(error)".contains(message)
        }
        #expect(throws: ScheduleError.self) { try IntervalSchedule(seconds: 0.5) }
    }

    @Test("a schedule reads and writes the JSON the API and tributary.yaml carry")
    func coding() throws {
        let schedules: [Schedule] = [
            .cron(try CronSchedule("0 3 * * 1", timeZone: "Europe/Berlin")),
            .interval(try IntervalSchedule(seconds: 3600, anchor: date("2026-01-01T00:00:00Z"))),
        ]
        let encoder = JSONEncoder(), decoder = JSONDecoder()
        encoder.dateEncodingStrategy = .iso8601
        decoder.dateDecodingStrategy = .iso8601
        #expect(try decoder.decode([Schedule].self, from: encoder.encode(schedules)) == schedules)
        #expect(throws: ScheduleError.self) {
            try decoder.decode(Schedule.self, from: Data(#"{"cron": "0 3 * * 1", "timezone": "Nowhere"}"#.utf8))
        }
    }

    private func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
}
