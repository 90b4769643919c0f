"""The ticket's formats are one module each under threer/ticket/formats/: found by name, and a new one is one file."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from support_sessions import make_session, partner_config

from threer.store import Store
from threer.ticket import FORMATS, build_ticket, formats, render
from threer.triage.engine import load_session

NOW = datetime(2024, 3, 4, 10, 30, tzinfo=timezone.utc)


def test_the_built_in_formats_in_their_order() -> None:
    assert FORMATS == ("text", "markdown", "json", "eml")
    for name in FORMATS:
        fmt = formats.get(name)
        assert fmt.name == name and fmt.suffix.startswith(".") and fmt.summary


def test_an_unknown_format_names_the_choices() -> None:
    with pytest.raises(ValueError, match="use one of text, markdown, json, eml"):
        formats.get("pdf")


def test_a_new_format_is_one_new_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke, threer_env) -> None:
    """A module dropped beside the built-in ones is a format of `threer ticket --format` with no other change."""
    from support_sessions import write_partner_config

    folder = tmp_path / "desk-formats"
    folder.mkdir()
    (folder / "desk.py").write_text(
        "from threer.ticket.formats import TicketFormat\n"
        "FORMAT = TicketFormat(name='desk', suffix='.desk', summary='one line for our desk',\n"
        "                      render=lambda t, width: f'{t.triage_id}|{t.customer.domain}|{width}\\n')\n",
        encoding="utf-8")
    monkeypatch.setattr(formats, "__path__", [*formats.__path__, str(folder)])
    monkeypatch.delitem(sys.modules, "threer.ticket.formats.desk", raising=False)
    assert formats.names() == ("text", "markdown", "json", "eml", "desk")

    store = Store(threer_env.db_path)
    session_id = make_session(store)
    ticket = build_ticket(load_session(store, session_id), partner_config(), now=NOW)
    assert render(ticket, "desk") == f"{session_id}|contoso.com|72\n"
    write_partner_config(threer_env.config_path)
    result = invoke("ticket", session_id, "--format", "desk")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{session_id}|contoso.com|72\n"


def test_text_ticket_keeps_each_dns_record_of_a_fix_whole() -> None:
    """A record in a DNS fix is one line of the text ticket, never wrapped inside the quoted block, so it
    can be copied from the mail in one piece; the prose around it still wraps (review 2 #7)."""
    from support_sessions import ACTIONS, DNS_CHECKED, session_in_memory

    record = 'florist.example. 3600 IN TXT "v=spf1 ip4:127.0.40.1 include:spf.mailhost.example -all"'
    old = 'florist.example. 3600 IN TXT "v=spf1 ip4:127.0.40.1 include:spf.mailhost.example ~all"'
    fix = f"Once every sending service is listed, publish {record} in place of {old} at the domain's DNS host."
    dns = {**DNS_CHECKED, "problems": [{"id": "spf.all-softfail", "severity": "info", "message": "Softfail.", "fix": fix}]}
    ticket = build_ticket(session_in_memory(actions={**ACTIONS, "review.dns": dns}), partner_config(), now=NOW)
    for width in (60, 72, 100):
        lines = render(ticket, "text", width=width).splitlines()
        for whole in (record, old):
            assert [line for line in lines if whole in line], f"width {width}: {whole} is cut"
        block = [line for line in lines if "| " in line and ("Softfail" in line or "place of" in line or "IN TXT" in line)]
        assert all(len(line) <= width or "IN TXT" in line for line in block)
