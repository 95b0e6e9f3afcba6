import Dispatch
import Glibc

/// Calls `action` each time the process receives one of `signals`, instead of the default of
/// ending it, until ``stop()``.
final class SignalWatch {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], action: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "tributary.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
    }

    /// Stops watching; the signals get their default handling back.
    func stop() {
        for source in sources {
            source.cancel()
            signal(Int32(source.handle), SIG_DFL)
        }
    }
}
