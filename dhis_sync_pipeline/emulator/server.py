"""EmulatorServer: uvicorn on 127.0.0.1:<ephemeral port> in a background thread."""

from __future__ import annotations

import json
import random
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import uvicorn

from .app import build_app
from .auth import make_token
from .faults import FaultInjector
from .state import EmulatorState
from .tasks import JobRunner


def seed_state(state: EmulatorState, seed: Any, generator_options: dict | None = None) -> None:
    """Load `seed`: "empty", "generated", a folder of *.json, or a list of payloads/paths."""
    if seed in (None, "empty"):
        return
    if seed == "generated":
        from .generator import generate_data_values, generate_metadata
        options = dict(generator_options or {})
        values = options.pop("data_values", 1000)
        metadata = generate_metadata(**options)
        _check(state.import_metadata(metadata), "generated metadata")
        if values:
            _check(state.import_data_values(
                {"dataValues": list(generate_data_values(metadata, values,
                                                         seed=options.get("seed", 1)))}),
                "generated data values")
        return
    if isinstance(seed, (str, Path)):
        folder = Path(seed)
        if not folder.is_dir():
            raise ValueError(f"Seed {seed!r} is neither 'empty', 'generated' nor a folder")
        items: Iterable[Any] = sorted(p for p in folder.glob("*.json") if p.stat().st_size > 0)
    else:
        items = seed
    for item in items:
        payload = json.loads(Path(item).read_text()) if isinstance(item, (str, Path)) else item
        if isinstance(payload, dict) and "dataValues" in payload:
            _check(state.import_data_values(payload), str(item)[:80])
        else:
            _check(state.import_metadata(payload), str(item)[:80])


def _check(result: dict, what: str) -> None:
    if result.get("status") not in ("OK", "SUCCESS"):
        raise ValueError(f"Seeding the emulator failed for {what}: {json.dumps(result)[:2000]}")


class EmulatorServer:
    """A running emulated DHIS2. Use as a context manager or call start()/stop()."""

    def __init__(self, version: str = "2.40", seed: Any = "empty", timezone: str = "UTC",
                 users: dict[str, str] | None = None, host: str = "127.0.0.1", port: int = 0,
                 generator_options: dict | None = None) -> None:
        self.state = EmulatorState(version=version, timezone=timezone, users=users)
        self.faults = FaultInjector()
        self.jobs = JobRunner(self.state)
        self.host = host
        self.port = port
        seed_state(self.state, seed, generator_options)
        self.state.reset_request_log()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._token_rng = random.Random(f"tokens:{version}")

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` (no trailing slash, no /api)."""
        if self._server is None:
            raise RuntimeError("EmulatorServer is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> "EmulatorServer":
        if self._server is not None:
            return self
        config = uvicorn.Config(build_app(self.state, self.faults, self.jobs), host=self.host,
                                port=self.port, log_level="warning", access_log=False,
                                lifespan="off", loop="asyncio", timeout_graceful_shutdown=2,
                                h11_max_incomplete_event_size=64 * 1024)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="dhis2-emulator", daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("The DHIS2 emulator failed to start")
            thread.join(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Shut uvicorn down and wait, so the port and thread are really gone."""
        if self._server is None:
            return
        self._server.should_exit = True
        assert self._thread is not None
        self._thread.join(10)
        self._server = None
        self._thread = None
        self.jobs.shutdown()

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def create_token(self, username: str = "admin", expires: datetime | None = None,
                     version: int = 2) -> str:
        """A valid personal access token for `username` (v2 `d2p_…` form unless version=1)."""
        if username not in self.state.passwords:
            raise KeyError(f"Unknown user {username!r}")
        token = make_token(self._token_rng, version)
        with self.state.lock:
            self.state.tokens[token] = {"username": username, "expires": expires}
        return token
