"""Run one sync job in this process and print what it did as one JSON line.

Started by bench/run.py as its own process (`python -m bench.child …`) so the peak RSS read here
(VmHWM of this process) is the sync's alone: the emulators and the bench driver live in
other processes. The job runs through the product's own entry point,
`dhis_sync_pipeline.launch.execute_in_process`, on the Dagster instance in $DAGSTER_HOME.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (VmHWM, VmRSS), in MiB; None where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB.

    On Linux it is VmHWM from /proc/self/status: `ru_maxrss` survives execve, so in a process
    started by a big parent it reports the parent's peak at fork time, not ours.
    """
    peak = _status_mb("VmHWM")
    if peak is not None:
        return round(peak, 1)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


class RssSampler:
    """This process's resident set size every 50 ms, with the time, to tell which step held the most
    (VmHWM alone says how high, not when)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            rss = _status_mb("VmRSS")
            if rss is not None:
                self.samples.append((time.time(), rss))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_between(self, start: float | None, end: float | None) -> float | None:
        inside = [rss for at, rss in self.samples if start and end and start <= at <= end]
        return round(max(inside), 1) if inside else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("--config", required=True, help="the dhis_sync.yaml written by the bench")
    parser.add_argument("--config-id", required=True)
    parser.add_argument("--full", action="store_true", help="tag the run as a full sync")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    from dagster import DagsterEventType, DagsterInstance

    from dhis_sync_pipeline.config import load_config
    from dhis_sync_pipeline.launch import execute_in_process

    imported = time.perf_counter()
    sync_file = load_config(args.config)
    with DagsterInstance.get() as instance:
        started = time.perf_counter()
        with RssSampler() as sampler:
            run_id = execute_in_process(sync_file, args.config_id, instance, full_sync=args.full)
        finished = time.perf_counter()
        run = instance.get_run_by_id(run_id)
        steps = {
            s.step_key: {
                "status": s.status.value if s.status else None,
                "seconds": round((s.end_time or 0) - (s.start_time or 0), 3) if s.start_time else None,
                "peak_rss_mb": sampler.peak_between(s.start_time, s.end_time),  # the most RSS while it ran
            }
            for s in instance.get_run_step_stats(run_id)
        }
        assets: dict[str, dict] = {}
        failures: list[str] = []
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                mat = event.step_materialization_data.materialization
                assets["/".join(mat.asset_key.path)] = {
                    k: v.value for k, v in mat.metadata.items()
                    if isinstance(v.value, (int, float, str)) and not k.startswith("rejected")
                }
            elif event.event_type == DagsterEventType.STEP_FAILURE:
                failures.append(f"{event.step_key}: {event.event_specific_data.error.message.strip()[:2000]}")
    print(json.dumps({
        "run_id": run_id,
        "status": run.status.value if run else "UNKNOWN",
        "import_seconds": round(imported - began, 3),
        "run_seconds": round(finished - started, 3),
        "steps": steps,
        "assets": assets,
        "failures": failures,
        "peak_rss_mb": peak_rss_mb(),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
