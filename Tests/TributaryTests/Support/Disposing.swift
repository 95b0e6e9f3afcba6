/// Runs `body`, then `dispose`, whether `body` returned or threw: a failing test leaves no server,
/// worker or agent process behind.
func disposing<T>(_ dispose: () async -> Void, _ body: () async throws -> T) async throws -> T {
    do {
        let value = try await body()
        await dispose()
        return value
    } catch {
        await dispose()
        throw error
    }
}

/// Runs `body`; only if it throws, runs `dispose` before passing the error on (for setting up the
/// processes a test uses: those already started go if a later one fails to start).
func disposingOnFailure<T>(_ dispose: () async -> Void, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        await dispose()
        throw error
    }
}
