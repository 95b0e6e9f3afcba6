import Foundation
import Tributary

extension Tributary {
    /// Creates the deployment, or updates the one of its name, on the server at `apiURL` (else
    /// `TRIB_API_URL`, else http://127.0.0.1:4200/api), as `trib deployment create` does; returns it
    /// as the server keeps it. Saving an unchanged deployment changes nothing.
    ///
    /// ```swift
    /// try await client.deploy(DeploymentSpec(
    ///     name: "retrain", flow: TrainingPipeline.name, parameters: .object(["pages": .number(6)]),
    ///     workQueue: "ml", schedules: [.cron(try CronSchedule("0 3 * * 1", timeZone: "Europe/Berlin"))]))
    /// ```
    @discardableResult
    public func deploy(_ spec: DeploymentSpec, apiURL: String? = nil, apiKey: String? = nil) async throws -> Deployment {
        try spec.validate()
        return try await APIClient(url: apiURL, key: apiKey).call("/deployments", method: "POST",
                                                                  body: try JSONEncoder().encode(spec), as: Deployment.self)
    }
}
