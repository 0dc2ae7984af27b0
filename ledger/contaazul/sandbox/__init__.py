"""Local emulator of the Conta Azul API v2 ("the Conta Azul sandbox") for tests and the no-credentials demo."""

from __future__ import annotations

from .oauth import SCOPE
from .server import Sandbox
from .state import SandboxState

__all__ = ["SCOPE", "Sandbox", "SandboxState"]
