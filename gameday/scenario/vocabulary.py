"""The words of a scenario only its target defines: defect names, build versions and the schemas of
the target's own ``stack`` sections. Validated against the target in the validation context
(``{"target": ...}``), else the default target."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

from gameday.scenario.invalid import invalid
from gameday.target import target_of

__all__ = ["DefectName", "VersionName", "target_section"]


def _known_defect(name: str, info: ValidationInfo) -> str:
    target = target_of(info.context)
    if name not in target.defects:
        known = ", ".join(sorted(target.defects)) or "none"
        raise invalid("defect", f"expected a known defect of target {target.name!r} ({known})")
    return name


def _known_version(version: str, info: ValidationInfo) -> str:
    target = target_of(info.context)
    if version not in target.versions:
        known = ", ".join(target.versions) or "none"
        raise invalid("version", f"expected a build of target {target.name!r} ({known})")
    return version


DefectName = Annotated[str, AfterValidator(_known_defect)]
VersionName = Annotated[str, AfterValidator(_known_version)]


def target_section(key: str, value: Any, info: ValidationInfo) -> Any:
    """``stack.<key>`` validated by the target's own model (``None`` stays ``None``)."""
    return None if value is None else target_of(info.context).section(key, value)
