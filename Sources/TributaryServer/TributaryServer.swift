import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Tributary

/// The server: records the events of every run from the broker into its store, and answers
/// questions about them over HTTP (`/api`). Stops on SIGTERM or SIGINT, finishing the batch it
/// records (what it has not acknowledged waits on the broker for the next start).
public final class TributaryServer: Sendable {
    public let configuration: ServerConfiguration
    public let store: any RunStore
    private let logger: Logger

    /// Opens the store (bringing its schema up to date); the server starts with ``run()``.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "tributary.server")) async throws {
        self.configuration = configuration
        self.logger = logger
        store = try await RunStores.open(configuration.database, logger: logger)
    }

    /// The routes under `/api`, with the API key check when the server has one.
    static func router(store: any RunStore, apiKey: String?, ingest: EventIngest?, feed: ChangeFeed,
                       client: Tributary?, broker: (@Sendable () async throws -> AMQPBroker)?,
                       wakeScheduler: @escaping @Sendable () -> Void = {})
        -> Router<BasicRequestContext> {
        var cancel: (@Sendable (String, String) async throws -> CancelRequestOutcome)?
        if let client {
            cancel = { id, reason in try await client.cancel(flowRunID: id, reason: reason) }
        }
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: MethodNotAllowedMiddleware())
        if let apiKey { router.add(middleware: APIKeyMiddleware(key: apiKey)) }
        router.get("api/health") { _, _ in Health(status: "ok", ingest: ingest?.status) }
        FlowRunRoutes(store: store, cancel: cancel).add(to: router)
        TaskRunRoutes(store: store).add(to: router)
        ArtifactRoutes(store: store).add(to: router)
        ProcessRoutes(store: store).add(to: router)
        ChangeRoutes(feed: feed).add(to: router)
        OpenAPIRoute().add(to: router)
        MetricsRoute(store: store, ingest: ingest).add(to: router)
        QueueRoutes(store: store, broker: broker).add(to: router)
        SubmitRoute(client: client).add(to: router)
        DeploymentRoutes(store: store, wake: wakeScheduler).add(to: router)
        UIRoutes().add(to: router)
        return router
    }

    public func run() async throws {
        if !configuration.isLoopback && configuration.apiKey == nil {
            let address = "\(configuration.host):\(configuration.port)"
            logger.warning("the server listens beyond this machine with no API key: anyone who can reach \(address) can read and cancel runs; set --api-key or TRIB_API_KEY")
        }
        // Submits and cancels for the API; a run submitted here is recorded Pending like any other.
        let client = configuration.brokerURL.map { Tributary(broker: $0, publishesEvents: true) }
        let broker = configuration.brokerURL.map { url in SharedConnection(url: url) }
        var readBroker: (@Sendable () async throws -> AMQPBroker)?
        if let broker { readBroker = { try await broker.get() } }
        let feed = ChangeFeed()
        let ingest = configuration.brokerURL.map {
            EventIngest(brokerURL: $0, queue: configuration.eventsQueue, store: store, feed: feed, logger: self.logger)
        }
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let router = Self.router(store: store, apiKey: configuration.apiKey, ingest: ingest, feed: feed,
                                 client: client, broker: readBroker, wakeScheduler: { wake.yield() })
        let (host, logger) = (configuration.host, self.logger)
        let database = PostgresRunStore.redacted(configuration.database)
        let app = Application(router: router,
                              configuration: .init(address: .hostname(host, port: configuration.port),
                                                   serverName: "tributary"),
                              onServerRunning: { channel in
                                  let port = channel.localAddress?.port ?? 0
                                  logger.info("server ready", metadata: [
                                      "api": "http://\(host):\(port)/api", "database": "\(database)",
                                  ])
                              },
                              logger: logger)
        var services: [any Service] = []
        if let ingest {
            services.append(ingest)
        } else {
            logger.warning("no broker given (--broker or TRIB_BROKER_URL): the server answers from its store but records no new runs")
        }
        services.append(Scheduler(store: store, pusher: client.map(Pusher.client), settings: configuration.scheduler,
                                  wakeups: wakeups, logger: logger))
        if let retention = configuration.retention {
            services.append(RetentionService(store: store, retention: retention, logger: logger))
        }
        services.append(app)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        do {
            try await group.run()
        } catch {
            await client?.close()
            await broker?.close()
            await store.close()
            throw error
        }
        await client?.close()
        await broker?.close()
        await store.close()
    }
}

/// `/api/health`: the server is up, and what its ingestion has done (when it has a broker).
struct Health: ResponseEncodable {
    var status: String
    var ingest: IngestStatus?
}
