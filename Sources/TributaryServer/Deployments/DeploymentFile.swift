import Foundation
import Tributary
import Yams

/// `tributary.yaml`: a repository's deployments, applied with `trib deploy`. The keys are those of
/// `POST /api/deployments`:
///
/// ```yaml
/// deployments:
///   - name: retrain-weekly
///     flow: training-pipeline
///     workQueue: ml
///     parameters: {pages: 6, threshold: 0.95}
///     schedules:
///       - cron: "0 3 * * 1"
///         timezone: Europe/Berlin
///     triggers: []
/// ```
public struct DeploymentFile {
    /// Each deployment with the line it starts on.
    public let deployments: [(spec: DeploymentSpec, line: Int)]

    /// Reads and checks the whole file; throws ``DeploymentFileError`` naming the file, the line and
    /// what is wrong, before anything is applied.
    public init(path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DeploymentFileError("\(path): cannot be read (\(error.localizedDescription)); write one with a "
                + "'deployments:' list, or give another with --file")
        }
        try self.init(yaml: text, file: path)
    }

    public init(yaml: String, file: String = "tributary.yaml") throws {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw DeploymentFileError("\(file): is not YAML: \(error)")
        }
        guard let root, case .mapping(let top) = root, let list = top["deployments"] else {
            throw DeploymentFileError("\(file):\(root?.mark?.line ?? 1): the file needs a 'deployments:' list")
        }
        guard case .sequence(let items) = list else {
            throw DeploymentFileError("\(file):\(list.mark?.line ?? 1): 'deployments' must be a list of deployments")
        }
        var deployments: [(DeploymentSpec, Int)] = [], names = Set<String>()
        for item in items {
            let line = item.mark?.line ?? 1
            let spec: DeploymentSpec
            do {
                let json = try JSONEncoder().encode(try Self.json(item, file: file))
                spec = try JSONDecoder().decode(DeploymentSpec.self, from: json)
                try spec.validate()
            } catch let error as DeploymentFileError {
                throw error
            } catch let error as ScheduleError {
                throw DeploymentFileError("\(file):\(line): \(error.description)")
            } catch let error as DecodingError {
                throw DeploymentFileError("\(file):\(line): \(error.fieldDescription)")
            }
            guard names.insert(spec.name).inserted else {
                throw DeploymentFileError("\(file):\(line): deployment '\(spec.name)' appears twice")
            }
            deployments.append((spec, line))
        }
        self.deployments = deployments
    }

    /// A YAML node as JSON: scalars by their resolved type (null, bool, int, float, else string).
    static func json(_ node: Node, file: String) throws -> JSONValue {
        switch node {
        case .scalar:
            if node.null != nil { return .null }
            if let bool = node.bool { return .bool(bool) }
            if let int = node.int { return .number(Double(int)) }
            if let float = node.float { return .number(float) }
            return .string(node.string ?? "")
        case .sequence(let sequence):
            return .array(try sequence.map { try json($0, file: file) })
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard let name = key.string else {
                    throw DeploymentFileError("\(file):\(key.mark?.line ?? 1): a key must be text")
                }
                object[name] = try json(value, file: file)
            }
            return .object(object)
        case .alias:
            throw DeploymentFileError("\(file):\(node.mark?.line ?? 1): aliases are not supported; write the value out")
        }
    }
}

/// A deployment file that cannot be applied: where, and what is wrong.
public struct DeploymentFileError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
