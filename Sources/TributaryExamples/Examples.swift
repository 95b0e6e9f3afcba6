import Tributary

/// Every task and flow of the examples, as one registry for `trib` and its workers.
public enum Examples {
    public static let tasks: [any TaskDefinition.Type] = [
        Increment.self, Square.self, Sum.self,
        Flaky.self, AlwaysFails.self, Nap.self, Chatty.self, Burn.self, SlowIncrement.self, CrashWorker.self, BlockThread.self, BlockingNap.self,
        Blob.self, RecordValue.self,
        Extract.self, Validate.self, Train.self, Evaluate.self, Promote.self, FetchBaseline.self, HostileEcho.self,
    ]

    public static let flows: [any FlowDefinition.Type] = [
        TrainingPipeline.self, SlowFanout.self, CrashAgent.self, RecordedFanout.self, TimedRecordedFanout.self,
        MixedOutcomes.self, HostileText.self, Checkpoint.self, Report.self,
    ]

    public static let registry = Registry(tasks: tasks, flows: flows)
}
