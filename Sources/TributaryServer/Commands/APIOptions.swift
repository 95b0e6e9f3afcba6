import ArgumentParser

/// Where the server's API is, for the commands that ask it.
struct APIOptions: ParsableArguments {
    @Option(name: .customLong("api-url"), help: "The server's API (else TRIB_API_URL, else http://127.0.0.1:4200/api).")
    var apiURL: String?
    @Option(name: .customLong("api-key"), help: "The server's API key, if it has one (else TRIB_API_KEY).")
    var apiKey: String?
    @Flag(help: "Print JSON, for scripts.")
    var json = false

    var client: APIClient { APIClient(url: apiURL, key: apiKey) }
}
