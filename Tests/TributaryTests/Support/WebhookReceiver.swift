import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP server on a free local port that records every request body it is sent, and
/// answers 500 to the first `failFirst` requests, then 200.
final class WebhookReceiver: Sendable {
    private let channel: any Channel
    private let state: Requests

    var url: String { "http://127.0.0.1:\(channel.localAddress?.port ?? 0)/hooks/tributary" }
    /// The bodies received so far, in order, including those answered with 500.
    var bodies: [Data] { state.bodies.withLock { $0 } }

    private init(channel: any Channel, state: Requests) {
        self.channel = channel
        self.state = state
    }

    static func start(failFirst: Int = 0) async throws -> WebhookReceiver {
        let state = Requests(failFirst: failFirst)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(RecordingHandler(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return WebhookReceiver(channel: channel, state: state)
    }

    /// The decoded JSON bodies, waiting up to `limit` until there are at least `count`.
    func waitForBodies(_ count: Int, within limit: Duration = .seconds(15)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + limit
        while bodies.count < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        return bodies.compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }

    func stop() async {
        try? await channel.close()
    }

    fileprivate final class Requests: Sendable {
        let bodies = Mutex<[Data]>([])
        let failFirst: Int
        init(failFirst: Int) { self.failFirst = failFirst }
    }

    private final class RecordingHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let state: Requests
        var body = ByteBuffer()

        init(state: Requests) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head:
                body.clear()
            case .body(var part):
                body.writeBuffer(&part)
            case .end:
                let received = Data(body.readableBytesView)
                let number = state.bodies.withLock { $0.append(received); return $0.count }
                let status: HTTPResponseStatus = number <= state.failFirst ? .internalServerError : .ok
                var headers = HTTPHeaders()
                headers.add(name: "Content-Length", value: "0")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                              promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
