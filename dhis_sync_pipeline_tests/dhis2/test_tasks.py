"""Async job handling without a server: a scripted `fetch`."""

import pytest

from dhis_sync_pipeline.dhis2.errors import DHIS2ImportTimeout
from dhis_sync_pipeline.dhis2.tasks import Job, wait_for_job

REPORT = {"status": "OK", "stats": {"created": 1, "updated": 0, "deleted": 0, "ignored": 0, "total": 1},
          "typeReports": []}


def job_response(**response):
    return {"httpStatus": "OK", "httpStatusCode": 200, "status": "OK", "message": "Initiated", "response": response}


def test_job_from_pre_241_response():
    body = job_response(responseType="JobConfiguration", name="dataValueImport", id="YR1UxOUXmzT",
                        jobType="DATAVALUE_IMPORT",
                        relativeNotifierEndpoint="/api/system/tasks/DATAVALUE_IMPORT/YR1UxOUXmzT")
    assert Job.from_response(body) == Job("DATAVALUE_IMPORT", "YR1UxOUXmzT")


def test_job_from_241_response_without_endpoint():
    body = job_response(responseType="JobConfiguration", name="METADATA_IMPORT (1700000000000)",
                        id="aB3dE5gH7jK", jobType="METADATA_IMPORT")
    assert Job.from_response(body) == Job("METADATA_IMPORT", "aB3dE5gH7jK")
    assert Job.from_response(REPORT) is None


class Script:
    """Answers each path from a list of successive bodies (the last one repeats)."""

    def __init__(self, **answers):
        self.answers = answers
        self.calls = []

    def __call__(self, path):
        self.calls.append(path)
        kind = path.split("/")[1]
        queue = self.answers[kind]
        return queue.pop(0) if len(queue) > 1 else queue[0]


JOB = Job("METADATA_IMPORT", "aB3dE5gH7jK")
RUNNING = [{"level": "INFO", "message": "Importing", "completed": False}]
DONE = [{"level": "INFO", "message": "Import complete", "completed": True}] + RUNNING


def test_polls_until_completed_then_waits_for_summary():
    fetch = Script(tasks=[None, RUNNING, RUNNING, DONE], taskSummaries=[None, None, REPORT])
    result = wait_for_job(fetch, JOB, poll_interval=0.001, timeout=5, instance="dest", base_url="http://x")
    assert result.ok and result.created == 1
    assert fetch.calls.count("system/tasks/METADATA_IMPORT/aB3dE5gH7jK") == 4
    assert fetch.calls.count("system/taskSummaries/METADATA_IMPORT/aB3dE5gH7jK") == 3


def test_never_completing_job_times_out_with_clear_error():
    fetch = Script(tasks=[RUNNING], taskSummaries=[REPORT])
    with pytest.raises(DHIS2ImportTimeout) as info:
        wait_for_job(fetch, JOB, poll_interval=0.01, timeout=0.05, instance="dest", base_url="http://x")
    message = str(info.value)
    assert "aB3dE5gH7jK" in message and "dest" in message and "task_timeout" in message
    assert not any("taskSummaries" in call for call in fetch.calls)


def test_failed_job_without_summary_is_an_error_result():
    failed = [{"level": "ERROR", "message": "Process failed: Java heap space", "completed": True}]
    fetch = Script(tasks=[failed], taskSummaries=[None])
    result = wait_for_job(fetch, JOB, poll_interval=0.001, timeout=5, instance="dest", base_url="http://x")
    assert result.status == "ERROR" and "heap space" in result.message and not result.ok
