import ArgumentParser
import Foundation

/// `trib config set|unset|view`: the settings profile (``Profile``).
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Keep settings in a profile (~/.tributary/profile, or $TRIB_PROFILE).",
        subcommands: [Set.self, Unset.self, View.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set settings: trib config set TRIB_API_URL=http://host:4200/api")
        @Argument(help: "KEY=VALUE, one or more.")
        var assignments: [String]

        func run() throws {
            var profile = try Profile.load()
            for assignment in assignments {
                guard let (name, value) = Profile.parse(assignment) else {
                    throw ValidationError("'\(assignment)' is not KEY=VALUE, such as TRIB_API_URL=http://127.0.0.1:4200/api")
                }
                _ = try Profile.setting(named: name)
                profile.values[name] = value
                print("Set \(name)=\(value) in \(Profile.path).")
            }
            try profile.save()
        }
    }

    struct Unset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove settings from the profile.")
        @Argument(help: "Setting names, one or more.")
        var names: [String]

        func run() throws {
            var profile = try Profile.load()
            for name in names {
                _ = try Profile.setting(named: name)
                if profile.values.removeValue(forKey: name) == nil {
                    print("\(name) was not set in \(Profile.path).")
                } else {
                    print("Unset \(name) in \(Profile.path).")
                }
            }
            try profile.save()
        }
    }

    struct View: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every setting's value and where it comes from: environment, profile or default "
                + "(a command's own option, such as --broker, wins over all three).")

        func run() throws {
            // The profile as it is on disk: this process's environment already has its values.
            let profile = try Profile.load()
            let environment = Profile.startingEnvironment.withLock { $0 }
            print("Profile: \(Profile.path)")
            for setting in Profile.settings {
                let fromProfile = profile.values[setting.name]
                let line: String
                if let value = environment[setting.name] {
                    line = "\(setting.name)=\(value) (environment\(fromProfile == nil ? "" : "; overrides the profile's"))"
                } else if let value = fromProfile {
                    line = "\(setting.name)=\(value) (profile)"
                } else if let value = setting.defaultValue {
                    line = "\(setting.name)=\(value) (default)"
                } else {
                    line = "\(setting.name) is not set"
                }
                print(line)
            }
        }
    }
}
