"""Async import jobs: `?async=true` answers at once; the work runs on one background thread.

Notifications are kept newest first, the last one carrying `completed: true`; the raw
ImportReport/ImportSummary becomes available under /api/system/taskSummaries when done.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


class JobRunner:
    def __init__(self, state) -> None:
        self.state = state
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dhis2-emulator-job")
        self._lock = threading.Lock()
        self.notifications: dict[tuple[str, str], list[dict]] = {}
        self.summaries: dict[tuple[str, str], Any] = {}

    def _notify(self, job_type: str, job_id: str, message: str, completed: bool,
                level: str = "INFO") -> None:
        entry = {"uid": self.state.new_uid(), "level": level, "category": job_type,
                 "time": self.state.now_str(), "message": message, "completed": completed,
                 "id": job_id}
        with self._lock:
            self.notifications.setdefault((job_type, job_id), []).insert(0, entry)

    def submit(self, job_type: str, work: Callable[[], tuple[Any, str]],
               delay: Callable[[], float] = lambda: 0.0) -> str:
        """Queue `work` (returning (summary, final message)); returns the job id."""
        job_id = self.state.new_uid()
        self._notify(job_type, job_id, "Import process started", False)

        def run() -> None:
            pause = delay()
            if pause > 0:
                time.sleep(pause)
            try:
                summary, message = work()
                level = "INFO"
            except Exception as exc:  # a failed job is reported, as DHIS2 does
                summary, message, level = None, f"Process failed: {exc}", "ERROR"
            with self._lock:
                self.summaries[(job_type, job_id)] = summary
            self._notify(job_type, job_id, message, True, level)

        self._executor.submit(run)
        return job_id

    def task(self, job_type: str, job_id: str) -> list[dict]:
        with self._lock:
            return list(self.notifications.get((job_type, job_id), []))

    def tasks_of_type(self, job_type: str) -> dict[str, list[dict]]:
        with self._lock:
            return {jid: list(n) for (jt, jid), n in self.notifications.items() if jt == job_type}

    def summary(self, job_type: str, job_id: str) -> tuple[bool, Any]:
        with self._lock:
            key = (job_type, job_id)
            return key in self.summaries, self.summaries.get(key)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
