"""One Prefect flow per DVC stage (`python -m flows.<stage>`), plus the nightly `refresh` orchestrator.

Flows are thin: read params, fan shards out to `tasks/` functions through the task runner chosen in
params.yaml, write outputs atomically, run the stage's Great Expectations gate, write metrics.
"""
import os

# No internet here and none needed: analytics off before anything imports prefect or dvc.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
