"""One Prefect flow per DVC stage (`python -m flows.<stage>`), plus the nightly `refresh` orchestrator.

Flows are thin: read params, fan partitions out to `tasks/` functions through the task runner chosen in
params.yaml, write outputs atomically, run the stage's Great Expectations gate, write metrics.
"""
import os
import sys

# No internet here and none needed: analytics off before anything imports prefect or dvc.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _started_as_stage() -> bool:
    """True in `python -m flows.<name>` (what dvc.yaml runs), except the server command itself."""
    argv = getattr(sys, "orig_argv", [])
    return len(argv) >= 3 and argv[1] == "-m" and argv[2].startswith("flows.") and argv[2] != "flows.server"


# One Prefect server per run, however the stage was started (`make run`, or `dvc repro` from an activated
# venv): the API URL must be in the environment before prefect is imported. Prefect reads its settings
# once, at import; a thread of the stage (the process pool's log forwarder) or a worker process that
# saw no URL would start a temporary server of its own, and its task runs would never reach the UI.
if _started_as_stage() and not os.environ.get("PREFECT_API_URL"):
    from flows.server import ensure_api_url

    ensure_api_url()
