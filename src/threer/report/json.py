"""The `--json` renderer: the report as one versioned document (docs/reference/report.md)."""

from __future__ import annotations

import json
from typing import Any

from threer.report.model import REPORT_VERSION, Report


def report_document(report: Report) -> dict[str, Any]:
    return {"version": REPORT_VERSION, **report.model_dump(mode="json")}


def render_json(report: Report) -> str:
    return json.dumps(report_document(report), ensure_ascii=False, indent=2) + "\n"
