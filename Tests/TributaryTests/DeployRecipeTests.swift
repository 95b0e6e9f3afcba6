import Foundation
import Testing

/// The recipes in deploy/ for a real install.
@Suite("Deployment recipes")
struct DeployRecipeTests {
    @Test("the systemd units for worker, agent and server pass systemd-analyze verify")
    func systemdUnitsVerify() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/systemd/verify.sh")
        let trib = WorkerProcess.binDirectory.appendingPathComponent("trib").path
        let result = try await Command.run(URL(fileURLWithPath: "/bin/bash"), [script.path, trib])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("3 units verified"), "\(result.output)")
    }
}
