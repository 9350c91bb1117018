"""DHIS2 Web API emulator for tests and the demo. Product code must never import it.

A real HTTP server (Starlette + uvicorn on loopback) speaking the subset of DHIS2's Web API in
../shared/DHIS2_API.md, with DHIS2's response shapes per version (2.36, 2.38–2.43),
server-maintained timestamps, reference checks, async jobs and fault injection.

Where DHIS2's behaviour was uncertain the emulator is *stricter*, never looser. The choices:

Metadata import (/api/metadata)
- References are checked for every reference property in schema.py (store + same payload, any
  order) plus `user`/`createdBy`, `attributeValues.attribute` and the keys of
  `sharing.users`/`sharing.userGroups`: unknown → E5002. DHIS2 is lenient with some of these.
  `skipSharing=true` skips the user and sharing checks, as DHIS2 does for user references.
  `sharing.owner` is not checked (DHIS2's own fixtures name owners that do not exist).
- With atomicMode=NONE, references to payload objects that were themselves rejected are errors
  too (checked to a fixed point), so nothing dangling is ever committed.
- Duplicate uid in one payload: E5004 on every later copy, which counts as an error (DHIS2 only
  warns and drops the copy).
- Uniqueness (E5003) for `code` on every type, and for `name`/`shortName` where DHIS2 has unique
  columns (see `unique` in schema.py); the later object in the payload gets the error.
- CREATE of an existing uid → E5000; UPDATE/DELETE of a missing uid → E5001; a uid already used
  by another type → E5003 on `id`; malformed uid → E4014.
- DELETE refuses (E4030) while *any* stored object references the object, including group
  memberships that DHIS2 would silently drop, and while live data values use it; default
  category objects can never be deleted. Sync must update referrers before deleting.
- identifier=CODE is refused with HTTP 400; AUTO is treated as UID.
- An import that changes nothing still counts as `updated` and bumps lastUpdated (DHIS2 does).
  Payload `created`/`lastUpdated`/`lastUpdatedBy` are ignored; the server sets them, with
  lastUpdatedBy = the importing user. Orgunit `path`/`level` are always recomputed.
- Non-owner and computed properties (displayName, access, href, categories.categoryCombos,
  organisationUnits.children, dataSets.sections, …) are dropped on import and references are
  stored as `{"id": uid}` only, so `fields=:owner` returns exactly what can be imported back.
- importMode=VALIDATE commits nothing; the report shows what would have happened.
- Report HTTP status: 2.36 answers every report with 200 (plain ImportReport); 2.38+ wraps it
  and answers WARNING/ERROR with 409.
- Empty or unparsable body → HTTP 400 WebMessage "No content to map due to end-of-input".

Data values (/api/dataValueSets) — what each version's source does, see data_values.py
- Export 2.36–2.42 (SpringDataValueSetStore): no `offset` (ignored like any unknown parameter)
  and no ORDER BY: rows are shuffled per request and `limit` cuts that arbitrary order. 2.43
  (HibernateDataExportStore): `offset`/`limit` over ORDER BY period start/end, created,
  dataElement, ties in random order. `order`/`orderByPeriod` (2.43) are not emulated.
- Timestamps are stored zone-less, server-local (like the `datavalue` table) and exported in UTC
  as `…T10:00:00.000+0000` (toLongGmtDate). lastUpdated/lastUpdatedDuration: 2.36–2.42 compare
  the local column with the UTC text of the instant (west of UTC the window starts late, east of
  it early); 2.43 compares correctly. lastUpdated wins over a duration. Zone-less parameters are
  server-local. 2.43.0 needs a period or start/end besides lastUpdated (E2002) and ignores an
  invalid duration; before 2.43 the last failing E20xx check is reported, in 2.43 the first.
- Writers: 2.36 leaves nulls out and writes `dataValues` only when there is a row; 2.38–2.42
  write every field with explicit nulls (`"comment":null`, `"completeDate":null`); 2.43 leaves
  nulls out and leaves the group's ids out of each value. Header: 2.36–2.42 only for exactly one
  dataSet, period and orgUnit (no dataElementGroup); 2.43 per id (dataSet, period, orgUnit when
  exact, attributeOptionCombo). startDate/endDate select periods *contained* in the window.
- Stricter: unknown dataSet/orgUnit/dataElement ids are refused (DHIS2 drops them silently).
- Import 2.36–2.42 (DefaultDataValueSetService): conflicts E7610 data element, E7611 period,
  E7612 org unit, E7613 category option combo, E7615 attribute option combo; also enforced
  (stricter): E7634, E7635, E7633 (element not in the header's dataSet), E7619, E7621. Header
  dataSet/orgUnit/AOC unknown → E7600/E7603/E7604, status ERROR. An unchanged value (value,
  comment, followup) is `ignored` without conflict and not rewritten from 2.38 on (the fix is in
  2.38.6/2.39.5/2.40.3, all emulated patch levels); 2.36 counts it `updated`. A value without
  value and comment, or with `deleted:true`, deletes (the tombstone is the posted row). CREATE of
  a live value / UPDATE or DELETE of a missing one are ignored, and listed in rejectedIndexes
  (2.39+). `rejectedIndexes` only from 2.39.2/2.40.1 (not in 2.36, 2.38). Payload `created` and
  `lastUpdated` are kept up to 2.40 (to the second, as the batch writer stores them); 2.41+ use
  server time. storedBy from the payload, else the importing user. skipExistingCheck=true with an
  existing value is a conflict (DHIS2 would fail in the database). zeroIsSignificant not emulated.
- Import 2.43 (DataEntryPipeline/DefaultDataEntryService): a JSON payload is one group (the
  dataEntryAutoGroup setting is off by default). Without `dataSet` the set is detected from the
  elements: several → E8002, none → E8003. Group checks E8020 element, E8022 org unit, E8021
  period type, E8023 AOC, E8024 COC, E8031 org unit opening/closed date, E8030 input periods
  (with 2.43.0's inverted test), E8128 duplicate key: any of them rejects every value of the
  group (ERROR, 409, counts 0). Value checks E8120–E8125 reject one value (WARNING, 200).
  Conflicts have no object/property and `objects: {"args": …}`. Every write is `updated`
  (imported always 0, unchanged values too), CREATE/UPDATE and skipExistingCheck are ignored,
  DELETE counts `deleted`; storedBy is the importing user; JSON `followUp` (not `followup`) is
  read. Not emulated: E8025 and E8032 (category option org units/dates), approvals, expiry days
  and future periods (they only bind non-superusers; every emulated user is a superuser).
- Status: SUCCESS, WARNING when any conflict, ERROR for a failed header or unreadable payload.
  An empty body gives ERROR "The import process failed: No content to map due to end-of-input":
  409 from 2.38 (200 in 2.36, whose summaries are never wrapped).
- idScheme other than UID is refused (HTTP 400 on import, 409 on export).

Other
- Collections default to `fields=id,displayName`, order name then id; unknown filter properties
  and operators are HTTP 400; a request line over 8000 characters gets 414 with a plain
  container page (the servlet container answers, not DHIS2).
- deletedObjects `klass` takes `DataElement`, the Java class name or the collection name; unknown
  klass → 400. Re-creating a uid removes its deletedObjects entry (DHIS2 does).
- Async jobs run one at a time on a background thread, delayed by the latency fault of their
  path; taskSummaries answers an empty 200 body until the job is done.
- No credentials: 302 to /dhis-web-commons/security/login.action (401 with
  X-Requested-With: XMLHttpRequest); /api/system/ping is public.

Time zones and the clock
- Any IANA zone (`timezone=`, `--timezone`): serverDate and metadata timestamps are zone-less
  server-local; serverTimeZoneDisplayName is the CLDR long standard name (Java 11+ prints the
  same; a Java 8 run of 2.36 would print e.g. "Colombia Time"). The test clock offset moves the
  instant, so jumps across DST land on the right wall time.
- Metadata `created`/`lastUpdated` filters: zone-less = server-local, an offset is converted.
  An unparsable date is HTTP 400 (DHIS2: 409 QueryParserException).

Complete registrations (/api/completeDataSetRegistrations)
- Conflicts are DHIS2's plain {object, value}; an unknown AOC falls back to the default one and
  `orgUnit` in a payload is ignored (DHIS2 does both). `completed:false` is stored and exported;
  only importStrategy=DELETE and the DELETE method remove a registration.
- `created` keeps DHIS2's UTC-text comparison (late west of UTC, early east of it).
- Not emulated: user hierarchy/sharing checks (E2012, "not in hierarchy of user"; every user
  is a superuser), compulsory-field conflicts, locked periods, storedBy length, the
  `importOptions` echo in summaries. idSchemes other than UID/ID on import → HTTP 400; export
  supports UID, CODE, NAME. Stricter: the AOC end date ignores openPeriodsAfterCoEndDate.
- A missing `dataSet` (2.36–2.40) gets 400 with a JSON WebMessage (DHIS2: Tomcat's error page).
  Rows come in key order (DHIS2 has no ORDER BY); orgUnitGroup rows repeat per membership, as
  DHIS2's LEFT JOIN does.
- A date that cannot be read fails the whole import (ERROR) and keeps what was written before it.
"""

from .faults import FaultInjector
from .server import EmulatorServer
from .state import EmulatorState

__all__ = ["EmulatorServer", "EmulatorState", "FaultInjector"]
