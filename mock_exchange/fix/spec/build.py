"""Build ``fix44.json`` (the venue's FIX 4.4 data dictionary) from a QuickFIX-format FIX44.xml.

Run once when the dictionary changes: ``python -m mock_exchange.fix.spec.build FIX44.xml``.
The output keeps only what validation needs: each field's type and enumerated values, and
for the header, the trailer and every message its tags, required tags and repeating groups
(components inlined; a required component's required fields are required).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("fix44.json")


class _Spec:
    def __init__(self, root: ET.Element) -> None:
        self.numbers = {
            field.attrib["name"]: int(field.attrib["number"])
            for field in root.iter("field")
            if "number" in field.attrib
        }
        components = root.find("components")
        self.components = {element.attrib["name"]: element for element in components or ()}

    def section(self, element: ET.Element, *, required: bool = True) -> dict[str, Any]:
        """Tags (in order), required tags and groups of a message, header, trailer or group."""
        tags: list[int] = []
        required_tags: list[int] = []
        groups: dict[str, Any] = {}
        self._collect(element, required, tags, required_tags, groups)
        return {"tags": tags, "required": required_tags, "groups": groups}

    def _collect(
        self,
        element: ET.Element,
        required: bool,
        tags: list[int],
        required_tags: list[int],
        groups: dict[str, Any],
    ) -> None:
        for child in element:
            child_required = required and child.attrib.get("required") == "Y"
            if child.tag == "component":
                self._collect(
                    self.components[child.attrib["name"]], child_required, tags, required_tags, groups
                )
                continue
            number = self.numbers[child.attrib["name"]]
            tags.append(number)
            if child_required:
                required_tags.append(number)
            if child.tag == "group":
                groups[str(number)] = self.section(child)


def build(xml_path: Path) -> dict[str, Any]:
    root = ET.parse(xml_path).getroot()
    spec = _Spec(root)
    fields: dict[str, Any] = {}
    fields_element = root.find("fields")
    assert fields_element is not None
    for field in fields_element:
        entry: dict[str, Any] = {"type": field.attrib["type"]}
        values = [value.attrib["enum"] for value in field.iter("value")]
        if values:
            entry["values"] = values
        fields[field.attrib["number"]] = entry
    header, trailer, messages = root.find("header"), root.find("trailer"), root.find("messages")
    assert header is not None
    assert trailer is not None
    assert messages is not None
    return {
        "begin_string": f"FIX.{root.attrib['major']}.{root.attrib['minor']}",
        "fields": fields,
        "header": spec.section(header),
        "trailer": spec.section(trailer),
        "messages": {
            message.attrib["msgtype"]: {"category": message.attrib["msgcat"], **spec.section(message)}
            for message in messages
        },
    }


def main() -> None:
    dictionary = build(Path(sys.argv[1]))
    OUTPUT.write_text(json.dumps(dictionary, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
