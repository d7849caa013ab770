"""The TF1 training loop: Coordinator, MonitoredTrainingSession, Scaffold, SessionRunHooks,
Supervisor."""
from .coordinator import Coordinator, LooperThread  # noqa: F401
from .hooks import (CheckpointSaverHook, CheckpointSaverListener, FeedFnHook,  # noqa: F401
                    FileWriterCache, FinalOpsHook, GlobalStepWaiterHook, LoggingTensorHook,
                    NanLossDuringTrainingError, NanTensorHook, SecondOrStepTimer,
                    SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues,
                    StepCounterHook, StopAtStepHook, SummarySaverHook)
from .monitored_session import (ChiefSessionCreator, MonitoredSession,  # noqa: F401
                                MonitoredTrainingSession, Scaffold, SessionCreator,
                                SingularMonitoredSession, WorkerSessionCreator)
from .supervisor import Supervisor  # noqa: F401
