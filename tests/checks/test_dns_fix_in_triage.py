"""The triage's DNS step prints each fix's records as `threer check-dns` does: whole, one a line,
what to remove as `; remove:` lines (the same rendering, not a second copy)."""

from __future__ import annotations

import io

import pytest

from support_dnsserver import DnsTestServer
from threer.cli import render
from threer.cli.output import SafeConsole
from threer.config import Config
from threer.store import Store
from threer.triage.actions import CheckSettings, DefaultActions
from threer.triage.steps import get_step


@pytest.mark.parametrize("width", [80, 120])
def test_the_dns_step_prints_fix_records_whole_with_removals(tmp_path, width: int) -> None:
    with DnsTestServer() as server:
        actions = DefaultActions(Store(tmp_path / "threer.db"), Config(default_profile="m365"),
                                 CheckSettings(nameservers=[server.address], timeout=3.0, dns_only=True))
        result = actions.dns("b-mx-m365.example")
    buffer = io.StringIO()
    render.action_result(SafeConsole(file=buffer, width=width, no_color=True, highlight=False),
                         get_step("review.dns"), result)
    lines = [line.strip() for line in buffer.getvalue().splitlines()]
    changes = [c for p in result.fields["problems"] for c in p["changes"]]
    assert any(c["action"] == "remove" for c in changes)  # the zone really has a record to remove
    for change in changes:
        # whole on a line of its own: a record to add as it is, one to remove as a `; remove:` line
        assert change["line"] in lines or f"; remove: {change['line']}" in lines, (change, lines)
    # a record to remove is shown as one, also where the prose names it (review 3 #14)
    assert "; remove: b-mx-m365.example. 300 IN MX 10 oldmail.b-mx-m365.example." in lines
    assert "b-mx-m365.example. 300 IN MX 10 oldmail.b-mx-m365.example." not in lines


def test_a_long_record_stays_on_one_line_at_120_columns() -> None:
    record = ('_dmarc.contoso.example. 3600 IN TXT "v=DMARC1; p=reject; '
              'rua=mailto:dmarc-reports@contoso.example; ruf=mailto:dmarc-forensic@contoso.example; fo=1"')
    old = '_dmarc.contoso.example. 3600 IN TXT "v=DMARC1; p=none"'
    problems = [{"id": "dmarc.policy-none", "severity": "warn", "message": "DMARC is p=none.",
                 "fix": f"Replace the record with: {record}",
                 "changes": [{"action": "remove", "line": old}, {"action": "add", "line": record}]}]
    buffer = io.StringIO()
    from threer.triage.engine import ActionResult

    render.action_result(SafeConsole(file=buffer, width=120, no_color=True, highlight=False),
                         get_step("review.dns"), ActionResult(fields={"problems": problems}, summary="x"))
    lines = [line.strip() for line in buffer.getvalue().splitlines()]
    assert len(record) > 120 - 8 and record in lines
    assert f"; remove: {old}" in lines
