"""Result writers: each takes PortResults as they are learned and finishes on close."""

from __future__ import annotations

from typing import Protocol

from ..results import PortResult


class ResultWriter(Protocol):
    def write(self, result: PortResult) -> None: ...

    def close(self) -> None: ...
