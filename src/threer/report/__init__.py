"""The escalation report (`threer report`): how many sessions a partner resolved itself, how many it
escalated and which escalations were avoidable, over a period.

- `period`: reading --since/--until;
- `categories`: what kind of problem a session was;
- `model`: the Report; `compute`: `build_report` (pure); `source`: reading the store;
- one module per renderer: `json` (the versioned --json contract), `terminal` (rich), `html` (one page).
"""

from threer.report.compute import Article, build_report
from threer.report.model import GROUPINGS, REPORT_VERSION, Report
from threer.report.period import Period, parse_period

__all__ = ["Article", "GROUPINGS", "Period", "REPORT_VERSION", "Report", "build_report", "parse_period"]
