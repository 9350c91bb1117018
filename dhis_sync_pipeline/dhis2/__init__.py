"""DHIS2 Web API client: retrying session, auth, paging, import response parsing.

See docs/CONTRACTS.md ("DHIS2 client") for the interface the rest of the project codes against.
"""

from dhis_sync_pipeline.dhis2.auth import ApiTokenAuth, BasicAuth
from dhis_sync_pipeline.dhis2.client import DHIS2Client, SystemInfo
from dhis_sync_pipeline.dhis2.errors import (
    DHIS2AuthenticationError,
    DHIS2ConnectionError,
    DHIS2Error,
    DHIS2HTTPError,
    DHIS2ImportTimeout,
    DHIS2ResponseError,
)
from dhis_sync_pipeline.dhis2.import_result import ImportResult, ObjectError, parse_import_response
from dhis_sync_pipeline.dhis2.query import (
    fields,
    filter_expr,
    format_datetime,
    in_filter,
    parse_datetime,
    updated_since,
)
from dhis_sync_pipeline.dhis2.version import DHIS2Version

__all__ = [
    "ApiTokenAuth",
    "BasicAuth",
    "DHIS2AuthenticationError",
    "DHIS2Client",
    "DHIS2ConnectionError",
    "DHIS2Error",
    "DHIS2HTTPError",
    "DHIS2ImportTimeout",
    "DHIS2ResponseError",
    "DHIS2Version",
    "ImportResult",
    "ObjectError",
    "SystemInfo",
    "fields",
    "filter_expr",
    "format_datetime",
    "in_filter",
    "parse_datetime",
    "parse_import_response",
    "updated_since",
]
