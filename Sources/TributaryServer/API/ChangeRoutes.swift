import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Tributary

/// `GET /api/changes?flow_run=ID&kind=flow-run,task-run,log,artifact`: a Server-Sent Events stream of what
/// the server records from now on (`event:` the kind, `id:` the event's id, `data:` the event as
/// JSON), filtered to one flow run and to kinds if asked; a comment every 15 s keeps it open.
struct ChangeRoutes {
    let feed: ChangeFeed

    func add(to router: Router<BasicRequestContext>) {
        router.get("api/changes") { request, _ -> Response in
            let parameters = QueryParameters(request: request)
            let flowRunID = parameters.string("flow_run")
            let kinds = Set(try parameters.list("kind", allowed: ["flow-run", "task-run", "log", "artifact"]))
            let events = feed.listen()
            let (ticks, tick) = AsyncStream.makeStream(of: Void.self)
            let beat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    tick.yield()
                }
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                            body: ResponseBody { writer in
                defer { beat.cancel() }
                try await writer.write(ByteBuffer(string: ": recording\n\n"))
                let encoder = JSONEncoder()
                for await item in merge(events, ticks).cancelOnGracefulShutdown() {
                    switch item {
                    case .event(let event):
                        guard flowRunID == nil || event.flowRunID == flowRunID,
                              kinds.isEmpty || kinds.contains(event.kind.rawValue) else { continue }
                        let json = String(decoding: try encoder.encode(event), as: UTF8.self)
                        try await writer.write(ByteBuffer(string: "event: \(event.kind.rawValue)\nid: \(event.id)\ndata: \(json)\n\n"))
                    case .tick:
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
                try await writer.finish(nil)
            })
        }
    }
}

private enum ChangeItem: Sendable {
    case event(RunEvent)
    case tick
}

/// The events and the keep-alive ticks as one stream, ending when the events end.
private func merge(_ events: AsyncStream<RunEvent>, _ ticks: AsyncStream<Void>) -> AsyncStream<ChangeItem> {
    let (merged, continuation) = AsyncStream.makeStream(of: ChangeItem.self)
    let pump = Task {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events { continuation.yield(.event(event)) }
                continuation.finish()
            }
            group.addTask { for await _ in ticks { continuation.yield(.tick) } }
            await group.next()
            group.cancelAll()
        }
    }
    continuation.onTermination = { _ in pump.cancel() }
    return merged
}
