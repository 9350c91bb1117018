"""The DHIS2 metadata types this tool can sync, in DHIS2's import (schema) order.

Posting type by type only works when every object's references already exist on the
destination, so assets depend on each other in this order (lowest first). The numbers are
DHIS2's own schema `order` values (see ../shared/DHIS2_API.md), kept so that a reader can check
them against a server's `/api/schemas`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetadataType:
    collection: str  # plural API name, e.g. "dataElements"
    klass: str  # Java simple class name, as /api/deletedObjects wants it
    order: int  # DHIS2 schema order: references point to lower orders
    tracker: bool = False

    @property
    def is_org_unit_tree(self) -> bool:
        """Organisation units reference their parent: parents must be posted first."""
        return self.collection == "organisationUnits"


_TYPES: tuple[MetadataType, ...] = (
    MetadataType("attributes", "Attribute", 100),
    MetadataType("userRoles", "UserRole", 101),
    MetadataType("users", "User", 102),
    MetadataType("userGroups", "UserGroup", 103),
    MetadataType("sqlViews", "SqlView", 1010),
    MetadataType("constants", "Constant", 1015),
    MetadataType("options", "Option", 1020),
    MetadataType("optionSets", "OptionSet", 1030),
    MetadataType("optionGroups", "OptionGroup", 1040),
    MetadataType("optionGroupSets", "OptionGroupSet", 1050),
    MetadataType("legendSets", "LegendSet", 1080),
    MetadataType("organisationUnits", "OrganisationUnit", 1100),
    MetadataType("organisationUnitLevels", "OrganisationUnitLevel", 1110),
    MetadataType("organisationUnitGroups", "OrganisationUnitGroup", 1120),
    MetadataType("organisationUnitGroupSets", "OrganisationUnitGroupSet", 1130),
    MetadataType("categoryOptions", "CategoryOption", 1140),
    MetadataType("categoryOptionGroups", "CategoryOptionGroup", 1150),
    MetadataType("categoryOptionGroupSets", "CategoryOptionGroupSet", 1160),
    MetadataType("categories", "Category", 1170),
    MetadataType("categoryCombos", "CategoryCombo", 1180),
    MetadataType("categoryOptionCombos", "CategoryOptionCombo", 1190),
    MetadataType("dataElements", "DataElement", 1200),
    MetadataType("dataElementGroups", "DataElementGroup", 1210),
    MetadataType("dataElementGroupSets", "DataElementGroupSet", 1220),
    MetadataType("indicatorTypes", "IndicatorType", 1230),
    MetadataType("indicators", "Indicator", 1240),
    MetadataType("indicatorGroups", "IndicatorGroup", 1250),
    MetadataType("indicatorGroupSets", "IndicatorGroupSet", 1260),
    MetadataType("dataEntryForms", "DataEntryForm", 1300),
    MetadataType("dataSets", "DataSet", 1310),
    MetadataType("sections", "Section", 1320),
    MetadataType("dataApprovalLevels", "DataApprovalLevel", 1330),
    MetadataType("dataApprovalWorkflows", "DataApprovalWorkflow", 1340),
    MetadataType("validationRules", "ValidationRule", 1400),
    MetadataType("validationRuleGroups", "ValidationRuleGroup", 1410),
    MetadataType("trackedEntityAttributes", "TrackedEntityAttribute", 1450, tracker=True),
    MetadataType("trackedEntityTypes", "TrackedEntityType", 1460, tracker=True),
    MetadataType("programStageSections", "ProgramStageSection", 1500, tracker=True),
    MetadataType("programStages", "ProgramStage", 1510, tracker=True),
    MetadataType("programs", "Program", 1520, tracker=True),
    MetadataType("programIndicators", "ProgramIndicator", 1530, tracker=True),
    MetadataType("programRuleVariables", "ProgramRuleVariable", 1600, tracker=True),
    MetadataType("programRuleActions", "ProgramRuleAction", 1620, tracker=True),
    MetadataType("programRules", "ProgramRule", 1640, tracker=True),
)

METADATA_TYPES: dict[str, MetadataType] = {t.collection: t for t in _TYPES}

# What a configuration syncs when it names no metadata resources: the aggregate model
# that data values need, without users (which carry passwords and are managed per server).
DEFAULT_METADATA_RESOURCES: tuple[str, ...] = (
    "attributes",
    "options",
    "optionSets",
    "legendSets",
    "organisationUnits",
    "organisationUnitLevels",
    "organisationUnitGroups",
    "organisationUnitGroupSets",
    "categoryOptions",
    "categoryOptionGroups",
    "categoryOptionGroupSets",
    "categories",
    "categoryCombos",
    "categoryOptionCombos",
    "dataElements",
    "dataElementGroups",
    "dataElementGroupSets",
    "indicatorTypes",
    "indicators",
    "indicatorGroups",
    "dataSets",
    "sections",
    "validationRules",
    "validationRuleGroups",
)


def in_import_order(collections: list[str] | tuple[str, ...]) -> list[str]:
    """Sort collection names by DHIS2's import order."""
    return sorted(collections, key=lambda name: METADATA_TYPES[name].order)


# Which other types each type's owner-side properties point to. Assets depend on these, so a
# type is posted only after everything it references (attributes are referenced by every type
# through attributeValues and are added separately).
REFERENCES: dict[str, tuple[str, ...]] = {
    # attributes come first in DHIS2's order although one may use an optionSet: such an
    # attribute needs its optionSet on the destination already (a known DHIS2 limitation too).
    "userGroups": ("users",),
    "users": ("userRoles",),  # their orgUnit assignments need the orgUnits to exist already
    "optionSets": ("options",),
    "optionGroups": ("options",),
    "optionGroupSets": ("optionGroups", "optionSets"),
    "organisationUnitGroups": ("organisationUnits",),
    "organisationUnitGroupSets": ("organisationUnitGroups",),
    "categoryOptions": ("organisationUnits",),
    "categoryOptionGroups": ("categoryOptions",),
    "categoryOptionGroupSets": ("categoryOptionGroups",),
    "categories": ("categoryOptions",),
    "categoryCombos": ("categories",),
    "categoryOptionCombos": ("categoryCombos", "categoryOptions"),
    "dataElements": ("categoryCombos", "optionSets", "legendSets"),
    "dataElementGroups": ("dataElements",),
    "dataElementGroupSets": ("dataElementGroups",),
    "indicators": ("indicatorTypes", "legendSets"),
    "indicatorGroups": ("indicators",),
    "indicatorGroupSets": ("indicatorGroups",),
    "dataSets": (
        "dataElements",
        "categoryCombos",
        "organisationUnits",
        "indicators",
        "legendSets",
        "dataEntryForms",
    ),
    "sections": ("dataSets", "dataElements", "indicators", "categoryCombos"),
    "dataApprovalWorkflows": ("dataApprovalLevels", "categoryCombos"),
    "validationRules": ("organisationUnitLevels",),
    "validationRuleGroups": ("validationRules",),
    "trackedEntityAttributes": ("optionSets", "legendSets"),
    "trackedEntityTypes": ("trackedEntityAttributes",),
    "programStageSections": ("dataElements",),
    "programStages": ("dataElements", "programStageSections", "optionSets"),
    "programs": (
        "programStages",
        "trackedEntityTypes",
        "trackedEntityAttributes",
        "organisationUnits",
        "categoryCombos",
    ),
    "programIndicators": ("programs",),
    "programRuleVariables": ("programs", "dataElements", "trackedEntityAttributes"),
    "programRuleActions": ("dataElements", "trackedEntityAttributes", "programStages"),
    "programRules": ("programs", "programRuleActions"),
}

# Inverse (non-owner) properties: the other side of a relation that a later type owns, e.g. an
# option's `optionSet` is set by importing the optionSet with its `options`. Posted type by type
# they would point forward to objects that do not exist yet, and DHIS2 ignores them on import,
# so they are removed before posting.
INVERSE_PROPERTIES: dict[str, frozenset[str]] = {
    "options": frozenset({"optionSet"}),
    "organisationUnits": frozenset(
        {"children", "organisationUnitGroups", "dataSets", "programs", "users", "ancestors"}
    ),
    "organisationUnitGroups": frozenset({"groupSets"}),
    "categoryOptions": frozenset({"categories", "categoryOptionCombos", "categoryOptionGroups"}),
    "categoryOptionGroups": frozenset({"groupSets"}),
    "categories": frozenset({"categoryCombos", "items"}),
    "categoryCombos": frozenset({"categoryOptionCombos"}),
    "dataElements": frozenset({"dataElementGroups", "dataSets", "dataSetElements"}),
    "dataElementGroups": frozenset({"groupSets"}),
    "indicators": frozenset({"indicatorGroups", "dataSets"}),
    "indicatorGroups": frozenset({"groupSets", "indicatorGroupSet"}),
    "dataSets": frozenset({"sections"}),
    "validationRules": frozenset({"validationRuleGroups"}),
}


def upstream_types(collection: str, selected: set[str] | frozenset[str]) -> set[str]:
    """The selected types that `collection` must wait for.

    References to types that are not selected are followed through, so that skipping, say,
    categories still keeps categoryCombos after categoryOptions.
    """
    found: set[str] = set()
    seen: set[str] = set()
    pending = list(REFERENCES.get(collection, ()))
    if collection != "attributes":
        pending.append("attributes")
    while pending:
        name = pending.pop()
        if name in seen or name == collection:
            continue
        seen.add(name)
        if name in selected:
            found.add(name)
        else:
            pending.extend(REFERENCES.get(name, ()))
    return found
