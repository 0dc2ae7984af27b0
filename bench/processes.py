"""The processes a measurement runs: started with their output in a log file, found ready by the URL they print, read
for CPU time and memory from /proc, and stopped on the way out whatever happens (an error, Ctrl-C, SIGTERM; on Linux
also when the benchmark itself is killed)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Aprova logs "listening for Slack on http://…/slack/events"; the bare app prints "listening on http://…/slack/events".
SLACK_EVENTS_URL = re.compile(r"(http://[\w.:\[\]-]+)/slack/events")
STANDIN_API_URL = re.compile(r"SLACK_API_URL=(\S+)")
PR_SET_PDEATHSIG = 1


class ChildFailed(RuntimeError):
    """A process did not start, or did not finish its job; the message ends with the tail of its output."""


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far (from /proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])  # the 14th and 15th fields, counted after the name
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory (VmHWM), MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


def _die_with_the_benchmark() -> None:
    """In the child before exec: a SIGTERM when the benchmark's process goes, even if it is killed outright."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment, the repository importable wherever the child runs, and ``extra``."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


class Children:
    """Every process started through it is stopped when it closes (SIGTERM, then SIGKILL after ``grace`` seconds)."""

    def __init__(self, log_dir: Path, *, grace: float = 10.0) -> None:
        self.log_dir = log_dir
        self.grace = grace
        self._running: list[Child] = []

    async def __aenter__(self) -> Children:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Shielded: a Ctrl-C during the clean-up must not leave a child behind.
        await asyncio.shield(asyncio.gather(*(self.stop(c) for c in reversed(self._running))))

    async def run(self, name: str, args: Sequence[str], *, env: Mapping[str, str], timeout: float = 120.0) -> Child:
        """Start ``python args`` and wait for it to finish; ChildFailed if it fails."""
        child = await self._spawn(name, args, env)
        await self.finished(child, timeout)
        return child

    async def finished(self, child: Child, timeout: float) -> None:
        """Wait for ``child`` to end on its own; ChildFailed if it fails or takes longer than ``timeout`` seconds."""
        try:
            code = await asyncio.wait_for(child.process.wait(), timeout)
        finally:
            await self.stop(child)
        if code != 0:
            raise ChildFailed(f"{child.name} exited with {code}:\n{child.tail()}")

    async def serve(
        self, name: str, args: Sequence[str], *, env: Mapping[str, str], ready: re.Pattern[str], timeout: float = 60.0
    ) -> Child:
        """Start ``python args`` and wait until its output matches ``ready`` (its first group, if any, is its URL)."""
        child = await self._spawn(name, args, env)
        deadline = time.monotonic() + timeout
        while True:
            found = ready.search(child.log.read_text(errors="replace"))
            if found:
                child.url = found.group(1) if ready.groups else ""
                return child
            if child.process.returncode is not None or time.monotonic() > deadline:
                await self.stop(child)
                raise ChildFailed(f"{name} did not start:\n{child.tail()}")
            await asyncio.sleep(0.05)

    async def wait_healthy(self, child: Child, path: str = "/healthz", timeout: float = 30.0) -> None:
        """Wait until ``child`` answers 200 at ``path``."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=child.url, timeout=5) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(path)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise ChildFailed(f"{child.name} is not healthy:\n{child.tail()}")
                await asyncio.sleep(0.05)

    async def stop(self, child: Child) -> None:
        if child in self._running:
            self._running.remove(child)
        if child.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.process.terminate()
            try:
                await asyncio.wait_for(child.process.wait(), self.grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()

    async def _spawn(self, name: str, args: Sequence[str], env: Mapping[str, str]) -> Child:
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                env=child_environment(env),
                cwd=self.log_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_die_with_the_benchmark if sys.platform == "linux" else None,
            )
        child = Child(name, process, log)
        self._running.append(child)
        return child
