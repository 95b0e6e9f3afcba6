// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Tributary",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Tributary", targets: ["Tributary"]),
        .library(name: "TributaryCLI", targets: ["TributaryCLI"]),
        .library(name: "TributaryWebhooks", targets: ["TributaryWebhooks"]),
        .library(name: "TributaryServer", targets: ["TributaryServer"]),
        .library(name: "AMQPClient", targets: ["AMQPClient"]),
        .executable(name: "trib", targets: ["trib"]),
        .executable(name: "trib-bench", targets: ["trib-bench"]),
        .executable(name: "trib-floor", targets: ["trib-floor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Without its default trait ConfigurationSupport: the server reads no swift-configuration, and
        // building that package cost every full build 47 more files.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        .target(name: "CAMQPShim", dependencies: ["CRabbitMQ"]),
        // OpenSSL's libcrypto, for SHA-256: librabbitmq-dev already brings libssl-dev.
        .systemLibrary(name: "COpenSSLCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libpq, PostgreSQL's client library: the server's store on PostgreSQL.
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(
            name: "AMQPClient",
            dependencies: [
                "CRabbitMQ", "CAMQPShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "Tributary",
            dependencies: [
                "AMQPClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "COpenSSLCrypto",
            ]
        ),
        // Notifiers that talk HTTP (through Foundation's URLSession): a product of their own, so a
        // worker that does not use them does not link FoundationNetworking.
        .target(name: "TributaryWebhooks", dependencies: ["Tributary"]),
        .target(
            name: "TributaryCLI",
            dependencies: [
                "Tributary",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The server (HTTP, the run store, its commands): a product of its own, so a worker or
        // agent built on TributaryCLI never builds Hummingbird or a database library.
        .target(
            name: "TributaryServer",
            dependencies: [
                "Tributary", "AMQPClient", "TributaryCLI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                "CPostgres",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The web UI's files, compiled into the binary (no build step, no files to install).
            resources: ["index.html", "app.css", "app.js", "api.js", "dom.js", "markdown.js", "dashboard.js",
                        "flow-runs.js", "flow-run.js", "artifacts.js", "workers.js", "deployments.js"].map { .embedInCode("UI/\($0)") }
        ),
        .target(name: "TributaryExamples", dependencies: ["Tributary", "TributaryWebhooks"]),
        .executableTarget(name: "trib", dependencies: ["TributaryCLI", "TributaryExamples", "TributaryServer"]),
        .executableTarget(name: "trib-floor", dependencies: ["CRabbitMQ"], path: "benchmarks/floor"),
        .executableTarget(
            name: "trib-bench",
            dependencies: [
                "Tributary", "TributaryExamples", "TributaryServer", "AMQPClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "benchmarks/runner"
        ),
        .testTarget(name: "AMQPClientTests", dependencies: ["AMQPClient"]),
        .testTarget(name: "TributaryTests", dependencies: [
            "Tributary", "TributaryExamples", "TributaryWebhooks", "TributaryServer", "AMQPClient", "trib",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ], exclude: ["Fixtures"]),
        .testTarget(name: "TributaryCLITests", dependencies: ["TributaryCLI", "trib"]),
    ],
    swiftLanguageModes: [.v6]
)
