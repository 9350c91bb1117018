"""The metadata types the emulator knows: names, Java classes, import order, references.

One table drives the importer, the reference checker, `/api/metadata` and the collection
endpoints, so a type added here is served everywhere at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

UID_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{10}$")

DEFAULT_CATEGORY_COMBO = "bjDvmb4bfuf"
DEFAULT_CATEGORY = "GLevLNI9wkl"
DEFAULT_CATEGORY_OPTION = "xYerKDKCefk"
DEFAULT_COC = "HllvX50cXC0"
DEFAULT_IDS = frozenset({DEFAULT_CATEGORY_COMBO, DEFAULT_CATEGORY, DEFAULT_CATEGORY_OPTION, DEFAULT_COC})

# Properties a client may send but that DHIS2 computes or keeps on the other side of a relation;
# the emulator drops them on import so that `:owner` returns exactly what can be imported back.
COMPUTED = frozenset({
    "displayName", "displayShortName", "displayDescription", "displayFormName", "access", "href",
    "favorite", "favorites", "dimension", "items", "allItems", "dimensionItem", "dimensionItemType",
    "externalAccess", "userGroupAccesses", "userAccesses", "publicAccess",
})

# Properties always maintained by the server itself.
SERVER_MANAGED = ("created", "lastUpdated", "lastUpdatedBy", "createdBy")

IDENTIFIABLE = ("id", "code", "name", "created", "lastUpdated", "lastUpdatedBy", "createdBy")
NAMEABLE = IDENTIFIABLE + ("shortName", "description", "formName")


@dataclass(frozen=True)
class TypeSpec:
    """One metadata type: `plural` is the collection name, `klass` the Java class."""

    plural: str
    klass: str
    order: int
    refs: dict[str, str] = field(default_factory=dict)  # dotted path -> target plural
    required: tuple[str, ...] = ("name",)
    unique: tuple[str, ...] = ("code",)
    non_owner: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        """Simple Java class name, as DHIS2 prints it in messages (`DataElement`)."""
        return self.klass.rsplit(".", 1)[1]


def _t(plural: str, klass: str, order: int, refs: dict[str, str] | None = None,
       required: tuple[str, ...] = ("name",), unique: tuple[str, ...] = ("code",),
       non_owner: tuple[str, ...] = ()) -> TypeSpec:
    return TypeSpec(plural, "org.hisp.dhis." + klass, order, refs or {}, required, unique, non_owner)


TYPES: tuple[TypeSpec, ...] = (
    _t("attributes", "attribute.Attribute", 100, {"optionSet": "optionSets"},
       ("name", "valueType"), ("code", "name")),
    _t("userRoles", "user.UserRole", 101, {}, ("name",), ("code", "name"), ("users",)),
    _t("users", "user.User", 102,
       {"userRoles": "userRoles", "organisationUnits": "organisationUnits",
        "dataViewOrganisationUnits": "organisationUnits",
        "teiSearchOrganisationUnits": "organisationUnits",
        "userCredentials.userRoles": "userRoles"},
       ("firstName", "surname"), ("code", "username"), ("userGroups",)),
    _t("userGroups", "user.UserGroup", 103, {"users": "users", "managedGroups": "userGroups"},
       ("name",), ("code", "name"), ("managedByGroups",)),
    _t("sqlViews", "sqlview.SqlView", 1000, {}, ("name", "sqlQuery", "type"), ("code", "name")),
    _t("constants", "constant.Constant", 1010, {}, ("name", "value"), ("code", "name")),
    _t("options", "option.Option", 1020, {"optionSet": "optionSets"}, ("name", "code")),
    _t("optionSets", "option.OptionSet", 1030, {"options": "options"},
       ("name", "valueType"), ("code", "name")),
    _t("optionGroups", "option.OptionGroup", 1040,
       {"options": "options", "optionSet": "optionSets"}, ("name", "shortName")),
    _t("optionGroupSets", "option.OptionGroupSet", 1050,
       {"optionGroups": "optionGroups", "optionSet": "optionSets"}),
    _t("legendSets", "legend.LegendSet", 1080),
    _t("organisationUnits", "organisationunit.OrganisationUnit", 1100,
       {"parent": "organisationUnits"}, ("name", "shortName", "openingDate"), ("code",),
       ("children", "dataSets", "organisationUnitGroups", "users", "ancestors")),
    _t("organisationUnitLevels", "organisationunit.OrganisationUnitLevel", 1110, {},
       ("name", "level"), ("code", "name", "level")),
    _t("organisationUnitGroups", "organisationunit.OrganisationUnitGroup", 1120,
       {"organisationUnits": "organisationUnits"}, ("name", "shortName"), ("code", "name"),
       ("groupSets",)),
    _t("organisationUnitGroupSets", "organisationunit.OrganisationUnitGroupSet", 1130,
       {"organisationUnitGroups": "organisationUnitGroups"}, ("name", "shortName"),
       ("code", "name")),
    _t("categoryOptions", "category.CategoryOption", 1140,
       {"organisationUnits": "organisationUnits"}, ("name", "shortName"), ("code", "name"),
       ("categories", "categoryOptionCombos", "categoryOptionGroups")),
    _t("categoryOptionGroups", "category.CategoryOptionGroup", 1150,
       {"categoryOptions": "categoryOptions"}, ("name", "shortName", "dataDimensionType"),
       ("code", "name"), ("groupSets",)),
    _t("categoryOptionGroupSets", "category.CategoryOptionGroupSet", 1160,
       {"categoryOptionGroups": "categoryOptionGroups"}, ("name", "dataDimensionType"),
       ("code", "name")),
    _t("categories", "category.Category", 1170, {"categoryOptions": "categoryOptions"},
       ("name", "dataDimensionType"), ("code", "name"), ("categoryCombos",)),
    _t("categoryCombos", "category.CategoryCombo", 1180, {"categories": "categories"},
       ("name", "dataDimensionType"), ("code", "name"), ("categoryOptionCombos",)),
    _t("categoryOptionCombos", "category.CategoryOptionCombo", 1190,
       {"categoryCombo": "categoryCombos", "categoryOptions": "categoryOptions"},
       ("categoryCombo",), ("code",)),
    _t("dataElements", "dataelement.DataElement", 1200,
       {"categoryCombo": "categoryCombos", "optionSet": "optionSets",
        "commentOptionSet": "optionSets", "legendSets": "legendSets"},
       ("name", "shortName", "valueType", "aggregationType", "domainType"),
       ("code", "name", "shortName"), ("dataSetElements", "dataElementGroups")),
    _t("dataElementGroups", "dataelement.DataElementGroup", 1210,
       {"dataElements": "dataElements"}, ("name", "shortName"), ("code", "name"), ("groupSets",)),
    _t("dataElementGroupSets", "dataelement.DataElementGroupSet", 1220,
       {"dataElementGroups": "dataElementGroups"}, ("name", "shortName"), ("code", "name")),
    _t("indicatorTypes", "indicator.IndicatorType", 1230, {}, ("name", "factor"), ("code", "name")),
    _t("indicators", "indicator.Indicator", 1240,
       {"indicatorType": "indicatorTypes", "legendSets": "legendSets"},
       ("name", "shortName", "indicatorType", "numerator", "denominator"),
       ("code", "name", "shortName"), ("indicatorGroups", "dataSets")),
    _t("indicatorGroups", "indicator.IndicatorGroup", 1250, {"indicators": "indicators"},
       ("name",), ("code", "name"), ("groupSets",)),
    _t("indicatorGroupSets", "indicator.IndicatorGroupSet", 1260,
       {"indicatorGroups": "indicatorGroups"}, ("name",), ("code", "name")),
    _t("dataEntryForms", "dataentryform.DataEntryForm", 1300, {}, ("name",), ("code", "name")),
    _t("dataSets", "dataset.DataSet", 1310,
       {"categoryCombo": "categoryCombos", "dataSetElements.dataElement": "dataElements",
        "dataSetElements.dataSet": "dataSets", "dataSetElements.categoryCombo": "categoryCombos",
        "organisationUnits": "organisationUnits", "indicators": "indicators",
        "legendSets": "legendSets", "dataEntryForm": "dataEntryForms",
        "workflow": "dataApprovalWorkflows"},
       ("name", "shortName", "periodType"), ("code", "name"), ("sections",)),
    _t("sections", "dataset.Section", 1320,
       {"dataSet": "dataSets", "dataElements": "dataElements", "indicators": "indicators"},
       ("name", "dataSet")),
    _t("dataApprovalLevels", "dataapproval.DataApprovalLevel", 1330, {}, ("name", "orgUnitLevel")),
    _t("dataApprovalWorkflows", "dataapproval.DataApprovalWorkflow", 1340,
       {"dataApprovalLevels": "dataApprovalLevels", "categoryCombo": "categoryCombos"},
       ("name", "periodType")),
    _t("validationRules", "validation.ValidationRule", 1400, {},
       ("name", "operator", "periodType", "leftSide", "rightSide", "importance"),
       ("code", "name")),
    _t("validationRuleGroups", "validation.ValidationRuleGroup", 1410,
       {"validationRules": "validationRules"}, ("name",), ("code", "name")),
    _t("trackedEntityAttributes", "trackedentity.TrackedEntityAttribute", 1450,
       {"optionSet": "optionSets", "legendSets": "legendSets"},
       ("name", "shortName", "valueType", "aggregationType"), ("code", "name", "shortName")),
    _t("trackedEntityTypes", "trackedentity.TrackedEntityType", 1460,
       {"trackedEntityTypeAttributes.trackedEntityAttribute": "trackedEntityAttributes"},
       ("name",), ("code", "name")),
    _t("programStageSections", "program.ProgramStageSection", 1470,
       {"programStage": "programStages", "dataElements": "dataElements"}, ("name",)),
    _t("programStages", "program.ProgramStage", 1480,
       {"program": "programs", "programStageDataElements.dataElement": "dataElements"},
       ("name", "program")),
    _t("programs", "program.Program", 1490,
       {"categoryCombo": "categoryCombos", "trackedEntityType": "trackedEntityTypes",
        "organisationUnits": "organisationUnits",
        "programTrackedEntityAttributes.trackedEntityAttribute": "trackedEntityAttributes"},
       ("name", "shortName", "programType"), ("code", "name")),
    _t("programIndicators", "program.ProgramIndicator", 1500, {"program": "programs"},
       ("name", "shortName", "program")),
    _t("programRuleVariables", "programrule.ProgramRuleVariable", 1600, {"program": "programs"},
       ("name", "program", "programRuleVariableSourceType")),
    _t("programRuleActions", "programrule.ProgramRuleAction", 1620,
       {"programRule": "programRules"}, ("programRuleActionType",)),
    _t("programRules", "programrule.ProgramRule", 1640,
       {"program": "programs", "programRuleActions": "programRuleActions"}, ("name", "program")),
    _t("visualizations", "visualization.Visualization", 1900, {}, ("name", "type")),
    _t("maps", "mapping.Map", 1910),
    _t("eventVisualizations", "eventvisualization.EventVisualization", 1920, {},
       ("name", "type")),
    _t("reports", "report.Report", 1930),
    _t("documents", "document.Document", 1940, {}, ("name", "url")),
    _t("predictors", "predictor.Predictor", 1950,
       {"output": "dataElements", "outputCombo": "categoryOptionCombos"},
       ("name", "output", "generator", "periodType")),
    _t("dashboardItems", "dashboard.DashboardItem", 3500, {}, ()),
    _t("dashboards", "dashboard.Dashboard", 3501, {}, ("name",)),
)

BY_PLURAL: dict[str, TypeSpec] = {t.plural: t for t in TYPES}
BY_SINGULAR: dict[str, TypeSpec] = {t.singular: t for t in TYPES}
BY_KLASS: dict[str, TypeSpec] = {t.klass: t for t in TYPES}

# References every identifiable object may carry; checked in addition to the type's own.
USER_REFS = ("user", "createdBy")


def spec_for_klass(name: str) -> TypeSpec | None:
    """Accept `DataElement`, `org.hisp.dhis.dataelement.DataElement` or `dataElements`."""
    return BY_SINGULAR.get(name) or BY_KLASS.get(name) or BY_PLURAL.get(name)


def iter_path(obj: Any, path: str) -> Iterator[Any]:
    """Yield every value found under a dotted path, flattening lists on the way."""
    head, _, rest = path.partition(".")
    if isinstance(obj, list):
        for item in obj:
            yield from iter_path(item, path)
        return
    if not isinstance(obj, dict) or head not in obj:
        return
    value = obj[head]
    if rest:
        yield from iter_path(value, rest)
    elif isinstance(value, list):
        yield from value
    elif value is not None:
        yield value


def ref_ids(obj: dict, path: str) -> Iterator[str | None]:
    """The uids referenced under `path` (None for a reference without an id)."""
    for ref in iter_path(obj, path):
        if isinstance(ref, dict):
            yield ref.get("id")
        elif isinstance(ref, str):
            yield ref
        else:
            yield None


def describe(spec: TypeSpec, obj: dict | None, uid: str | None) -> str:
    """DHIS2's way of naming an object in messages: `Name [uid] (Type)`."""
    name = (obj or {}).get("name")
    prefix = f"{name} " if name else ""
    return f"{prefix}[{uid}] ({spec.singular})"
