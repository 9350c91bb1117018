import pickle

import requests

from dhis_sync_pipeline.dhis2 import ApiTokenAuth, BasicAuth, DHIS2HTTPError, DHIS2ImportTimeout
from dhis_sync_pipeline.dhis2.errors import DHIS2ConnectionError

TOKEN = "d2p_SECRETSECRETSECRETSECRETSECRETSECRETSECRETSE12345"


def prepared(auth):
    return auth(requests.Request("GET", "http://x/api/me").prepare())


def test_basic_auth_header_and_repr():
    auth = BasicAuth("admin", "s3cret-pw")
    assert prepared(auth).headers["Authorization"] == "Basic YWRtaW46czNjcmV0LXB3"
    assert "s3cret-pw" not in repr(auth) and "s3cret-pw" not in str(auth) and "admin" in repr(auth)


def test_token_auth_header_and_repr():
    auth = ApiTokenAuth(TOKEN)
    assert prepared(auth).headers["Authorization"] == f"ApiToken {TOKEN}"
    assert TOKEN not in repr(auth) and TOKEN not in str(auth) and "SECRET" not in repr(auth)
    assert isinstance(auth, requests.auth.AuthBase)


def test_errors_carry_fields_and_pickle():
    error = DHIS2HTTPError("boom", status_code=404, error_code="E1005", dhis2_message="not found",
                           instance="source", url="http://x")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status_code, copy.error_code, copy.instance, str(copy)) == (404, "E1005", "source", "boom")
    assert not copy.retryable and DHIS2HTTPError("x", status_code=503).retryable
    timeout = pickle.loads(pickle.dumps(DHIS2ImportTimeout("late", job_type="METADATA_IMPORT", job_id="j", instance="d")))
    assert timeout.job_id == "j" and timeout.retryable
    assert DHIS2ConnectionError("down", instance="source").instance == "source"
