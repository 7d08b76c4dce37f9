"""Private PostgreSQL and Redis servers that a fault drill may stop, restart and flush.

The machine's own servers are shared with every other test; these run on free ports
under a temporary directory, so stopping one disturbs nobody. Used by the fault tests
(``tests/integration/faults``) and by ``bench/load_campaign.py --faults``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_port(port: int, up: bool, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            if (probe.connect_ex(("127.0.0.1", port)) == 0) == up:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not come {'up' if up else 'down'}")


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (``initdb``) on a free port, trust auth."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql)")
        self.bin = Path(found[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="dialer-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bin / tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
                   "-c fsync=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.dir / "server.log"), "-w", "-t", "60", "start")
        _wait_port(self.port, up=True)

    def stop(self, mode: str = "fast") -> None:
        """Stop it: ``fast`` (clients are disconnected) or ``immediate`` (a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        _wait_port(self.port, up=False)

    def restart(self, down_s: float = 0.0, mode: str = "fast") -> None:
        """Stop, stay down ``down_s``, start again."""
        self.stop(mode)
        time.sleep(down_s)
        self.start()

    def close(self) -> None:
        """Stop (if running) and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError, TimeoutError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A Redis server that keeps nothing on disk, on a free port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found")
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, up=True)

    def stop(self) -> None:
        """Kill it (SIGKILL: whatever it held is gone)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
        _wait_port(self.port, up=False)

    def restart(self, down_s: float = 0.0) -> None:
        """Kill, stay down ``down_s``, start again (empty)."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def flush(self) -> None:
        """FLUSHALL: every key gone while clients stay connected."""
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def close(self) -> None:
        """Stop it."""
        with contextlib.suppress(TimeoutError):
            self.stop()
