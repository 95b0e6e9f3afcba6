import HTTPTypes
import Hummingbird

/// The web UI: `/` and its pages (`/flow-runs`, `/flow-runs/ID`, `/deployments`, `/deployments/NAME`,
/// `/artifacts`, `/workers`) answer
/// the one HTML page, whose scripts read the JSON API; `/ui/NAME` answers its scripts and style.
/// The files travel inside the binary (SwiftPM's `embedInCode`), so an installed `trib` started
/// from any directory serves them. A strict Content-Security-Policy lets only these scripts run.
struct UIRoutes {
    /// The page's paths: each answers the page, which draws what the path names.
    static let pages = ["", "flow-runs", "flow-runs/{id}", "deployments", "deployments/{name}", "artifacts", "workers"]

    /// Files under `/ui/`, with their types.
    static let files: [String: (bytes: [UInt8], type: String)] = [
        "app.css": (PackageResources.app_css, "text/css; charset=utf-8"),
        "app.js": (PackageResources.app_js, "text/javascript; charset=utf-8"),
        "api.js": (PackageResources.api_js, "text/javascript; charset=utf-8"),
        "dom.js": (PackageResources.dom_js, "text/javascript; charset=utf-8"),
        "markdown.js": (PackageResources.markdown_js, "text/javascript; charset=utf-8"),
        "dashboard.js": (PackageResources.dashboard_js, "text/javascript; charset=utf-8"),
        "flow-runs.js": (PackageResources.flow_runs_js, "text/javascript; charset=utf-8"),
        "flow-run.js": (PackageResources.flow_run_js, "text/javascript; charset=utf-8"),
        "artifacts.js": (PackageResources.artifacts_js, "text/javascript; charset=utf-8"),
        "workers.js": (PackageResources.workers_js, "text/javascript; charset=utf-8"),
        "deployments.js": (PackageResources.deployments_js, "text/javascript; charset=utf-8"),
    ]

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        .referrerPolicy: "no-referrer",
    ]

    /// Whether a path is data that an API key guards (the UI's own files are not).
    static func needsKey(_ path: String) -> Bool {
        path.hasPrefix("/api") || path.hasPrefix("/metrics")
    }

    func add(to router: Router<BasicRequestContext>) {
        for page in Self.pages {
            router.get(RouterPath(page)) { _, _ in Self.answer(PackageResources.index_html, type: "text/html; charset=utf-8") }
        }
        router.get("ui/{file}") { _, context -> Response in
            let name = try context.parameters.require("file")
            guard let file = Self.files[name] else {
                throw HTTPError(.notFound, message: "no UI file '\(name)'")
            }
            return Self.answer(file.bytes, type: file.type)
        }
    }

    private static func answer(_ bytes: [UInt8], type: String) -> Response {
        var headers = securityHeaders
        headers[.contentType] = type
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
}
