from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_teacher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A teacher endpoint or key in the developer's environment must not leak into the tests."""
    monkeypatch.delenv("CODER_PIPELINE_TEACHER_BASE_URL", raising=False)
    monkeypatch.delenv("CODER_PIPELINE_TEACHER_API_KEY", raising=False)
