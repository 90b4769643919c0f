"""Each sample bounce or header block (written here in the style of its server, with made-up
names and documentation addresses) and the fields the analyser must find in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from threer.analyze import _analyze, summary_lines

SAMPLES = Path(__file__).parent / "samples"

EXPECTED = {
    "exchange-online.txt": {
        "kind": "bounce", "style": "exchange", "status": "5.1.10", "permanent": True, "smtp_code": "550",
        "recipients": ["ana.ruiz@fabrikam.example"],
        "reporting_mta": "AM9PR07MB7712.eurprd07.prod.outlook.com", "remote_mta": None,
        "diagnostic": "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "dkim": [{"d": "contoso.example", "s": "selector1"}], "original_headers": True,
        "queries_start": ["550 5.1.10", "5.1.10", "RESOLVER.ADR.RecipientNotFound"],
        "meaning_has": "not found",
    },
    "exchange-classic.txt": {  # the older layout: the recipients listed under "Delivery has failed to …"
        "kind": "bounce", "style": "exchange", "status": "5.2.2", "permanent": True, "smtp_code": "552",
        "recipients": ["orders@florist.example"], "reporting_mta": "EX01.contoso.example",
        "original_headers": True, "queries_start": ["552 5.2.2", "5.2.2"], "meaning_has": "full",
    },
    "gmail.txt": {
        "kind": "bounce", "style": "gmail", "status": "5.1.1", "permanent": True, "smtp_code": "550",
        "recipients": ["jo.baker@northwind.example"], "remote_mta": "mx1.northwind.example",
        "diagnostic": "550 5.1.1 <jo.baker@northwind.example>: Recipient address rejected: User unknown in virtual mailbox table",
        "original_headers": False, "queries_start": ["550 5.1.1", "5.1.1"], "meaning_has": "does not exist",
    },
    "gmail-delay.txt": {  # a delay notice: the recipient is named in "delivering your message to"
        "kind": "bounce", "style": "gmail", "status": "4.7.1", "permanent": False, "smtp_code": "451",
        "recipients": ["sales@slow-host.example"],
        "diagnostic": "451 4.7.1 Greylisted, try again in 5 minutes", "original_headers": True,
        # the hop's address is the TCP-info one in ( ), not the HELO literal [192.168.1.20]
        "hops": [{"from": "192.168.1.20", "by": "smtp.gmail.com", "at": "2026-12-01T02:30:10-08:00", "delay_s": 3,
                  "ip": "198.51.100.34"}],
        "sending_ip": None,  # an authenticated submission (ESMTPSA) is the client, not a sending server
        "queries_start": ["451 4.7.1", "4.7.1"], "meaning_has": "temporary",
    },
    "postfix.txt": {
        "kind": "bounce", "style": "postfix", "status": "5.7.1", "permanent": True, "smtp_code": "554",
        "recipients": ["accounts@tailspin.example"], "reporting_mta": "smtp.partner-mail.example",
        "remote_mta": "mx.tailspin.example", "diagnostic": "554 5.7.1 <accounts@tailspin.example>: Relay access denied",
        "queries_start": ["554 5.7.1", "5.7.1", "Relay access denied"], "meaning_has": "relay denied",
    },
    "exim.txt": {
        "kind": "bounce", "style": "exim", "status": "5.3.4", "permanent": True, "smtp_code": "552",
        "recipients": ["helpdesk@woodgrove.example"], "remote_mta": "mail.woodgrove.example",
        "diagnostic": "552 5.3.4 Message size exceeds fixed limit of 10485760 bytes", "original_headers": True,
        "hops": [{"from": "10.20.0.14", "by": "mail.litware.example", "at": "2026-12-01T11:02:10+01:00",
                  "delay_s": 6}],
        "sending_ip": None,  # a client's authenticated submission from a private address is not a sending server
        "queries_start": ["552 5.3.4", "5.3.4"], "meaning_has": "larger",
    },
    "sendmail.txt": {
        "kind": "bounce", "style": "sendmail", "status": "5.2.2", "permanent": True, "smtp_code": "550",
        "recipients": ["lee.chen@proseware.example"], "reporting_mta": "relay.adatum.example",
        "remote_mta": "mx.proseware.example", "diagnostic": "550 5.2.2 <lee.chen@proseware.example>... Mailbox full",
        "queries_start": ["550 5.2.2", "5.2.2", "Mailbox full"], "meaning_has": "full",
    },
    "qmail.txt": {
        "kind": "bounce", "style": "qmail", "status": "5.7.1", "permanent": True, "smtp_code": "550",
        "recipients": ["orders@wingtip.example"], "reporting_mta": "mx.fourthcoffee.example",
        "remote_mta": "198.51.100.77",
        "diagnostic": "550 5.7.1 <orders@wingtip.example>: Sender address rejected: Access denied",
        "original_headers": True, "queries_start": ["550 5.7.1", "5.7.1"],
    },
    "dsn-delayed.eml": {
        "kind": "bounce", "style": "postfix", "status": "4.4.1", "permanent": False, "smtp_code": None,
        "recipients": ["events@adventure-works.example"], "reporting_mta": "relay.partner-mail.example",
        "remote_mta": "mx.adventure-works.example",
        "diagnostic": "connect to mx.adventure-works.example[198.51.100.90]:25: Connection timed out",
        "original_headers": True, "sending_ip": "198.51.100.12",
        "hops": [
            {"from": "10.1.1.23", "by": "outbound.contoso.example", "at": "2026-12-01T09:59:58+00:00", "delay_s": 3},
            {"from": "outbound.contoso.example", "by": "relay.partner-mail.example", "at": "2026-12-01T10:00:01+00:00",
             "delay_s": 3},
        ],
        "queries_start": ["4.4.1"], "meaning_has": "temporary",
    },
    # RFC 3464 §2.3.3: Action failed is final whatever the class; Postfix returns a 4xx that outlived the queue
    "postfix-returned-4xx.eml": {
        "kind": "bounce", "style": "postfix", "status": "4.2.2", "permanent": True, "smtp_code": "452",
        "recipients": ["dispatch@northwind-freight.example"], "remote_mta": "store.northwind-freight.example",
        "diagnostic": "452 4.2.2 <dispatch@northwind-freight.example>: Mailbox full", "original_headers": True,
        "queries_start": ["452 4.2.2", "4.2.2"], "meaning_has": "gave up (the message was returned and must be sent again)",
    },
    # an Exchange Online NDR is the end of delivery: "550 4.4.7 QUEUE.Expired"
    "exchange-expired.txt": {
        "kind": "bounce", "style": "exchange", "status": "4.4.7", "permanent": True, "smtp_code": "550",
        "recipients": ["dispatch@northwind-freight.example"], "per_recipient": [],
        "diagnostic": "550 4.4.7 QUEUE.Expired; message expired", "meaning_has": "gave up",
    },
    # a delay notice quotes the remote's last reply ("550 4.4.316"); its own words say it is still trying
    "exchange-delay.txt": {
        "kind": "bounce", "style": "exchange", "status": "4.4.316", "permanent": False, "smtp_code": "550",
        "recipients": ["dispatch@northwind-freight.example"], "per_recipient": [],
        "reporting_mta": "AM0PR02MB5555.eurprd02.prod.outlook.com", "remote_mta": "mx.northwind-freight.example",
        "diagnostic": "550 4.4.316 Connection refused [Message=Socket error code 10061] "
                      "[LastAttemptedServerName=mx.northwind-freight.example] [LastAttemptedIP=198.51.100.44:25] "
                      "[AM0PR02MB5555.eurprd02.prod.outlook.com 2026-12-03T14:10:43.112Z 08DD1A2B3C4D5E6F]",
        "meaning_has": "a temporary failure (the sending server keeps trying for a while)",
    },
    # a user forwards the bounce as an attachment, base64-encoded (RFC 2046 forbids it; mail clients do it)
    "forwarded-as-attachment.eml": {
        "kind": "bounce", "style": "exchange", "status": "5.1.10", "permanent": True, "smtp_code": "550",
        "recipients": ["billing@harbour-bakery.example"], "attached": True, "original_headers": True,
        "reporting_mta": "DB8PR03MB6120.eurprd03.prod.outlook.com",
        "diagnostic": "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "hops": [{"from": "DB8PR03MB6120.eurprd03.prod.outlook.com", "by": "DB8PR03MB6120.eurprd03.prod.outlook.com",
                  "at": "2026-12-02T13:41:07+00:00", "delay_s": 2}],
        "queries_start": ["550 5.1.10", "5.1.10", "RESOLVER.ADR.RecipientNotFound"],
    },
    # Exchange writes its NDRs in the sender's language: German headings and "Remoteserver hat '…' zurückgegeben"
    "exchange-german.txt": {
        "kind": "bounce", "style": "exchange", "status": "5.1.10", "permanent": True, "smtp_code": "550",
        "recipients": ["lager@spedition-nord.example"], "reporting_mta": "FR2P281MB0457.DEUP281.PROD.OUTLOOK.COM",
        "diagnostic": "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "original_headers": True, "meaning_has": "not found",
    },
    "exchange-german-delay.txt": {
        "kind": "bounce", "style": "exchange", "status": "4.4.316", "permanent": False, "smtp_code": "550",
        "recipients": ["lager@spedition-nord.example"], "remote_mta": "mx.spedition-nord.example",
        "diagnostic": "550 4.4.316 Connection refused [Message=Socket error code 10061]",
        "meaning_has": "keeps trying",
    },
    # an Exchange NDR's text lists each recipient with its own server reply; every one is reported
    "exchange-several.txt": {
        "kind": "bounce", "style": "exchange", "status": "5.2.2", "permanent": True, "smtp_code": "552",
        "recipients": ["orders@florist.example", "j.moreau@tailspin.example", "stock@wingtip.example"],
        "reporting_mta": "EX01.contoso.example", "remote_mta": None,
        "diagnostic": "552 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException."
                      "MapiExceptionShutoffQuotaExceeded",
        "meaning_has": "mailbox is full",
    },
    # each recipient its own outcome, the one given up on first (RFC 3464 §2.3)
    "dsn-two-recipients.dsn": {
        "kind": "bounce", "style": "dsn", "status": "5.7.1", "permanent": True, "smtp_code": "550",
        "recipients": ["billing@northwind-freight.example", "ops@northwind-freight.example"],
        "diagnostic": "550 5.7.1 message rejected by content filter", "meaning_has": "a permanent failure",
        "per_recipient": [
            {"recipient": "billing@northwind-freight.example", "action": "failed", "status": "5.7.1",
             "meaning": "a permanent failure (the message will not be delivered as it is): the sender is not allowed "
                        "to send to this recipient (relay denied, or blocked by policy)",
             "permanent": True, "smtp_code": "550", "remote_mta": None,
             "diagnostic": "550 5.7.1 message rejected by content filter"},
            {"recipient": "ops@northwind-freight.example", "action": "delayed", "status": "4.4.1",
             "meaning": "a temporary failure (the sending server keeps trying for a while): the recipient's server "
                        "did not answer",
             "permanent": False, "smtp_code": "421", "remote_mta": None, "diagnostic": "421 4.4.1 connection timed out"},
        ],
    },
    # a delay warning says "could not be delivered" too; "warning only … will be retried" decides
    "postfix-delay-text.txt": {
        "kind": "bounce", "style": "postfix", "status": "4.3.0", "permanent": False, "smtp_code": "451",
        "recipients": ["events@adventure-works.example"], "meaning_has": "keeps trying",
    },
    "headers-to-m365.txt": {
        "kind": "headers", "status": None, "permanent": None, "recipients": [], "sending_ip": "198.51.100.201",
        "auth": [{"method": "spf", "result": "softfail", "domain": "news.litware.example"},
                 {"method": "dkim", "result": "fail", "domain": "litware.example"},
                 {"method": "dmarc", "result": "fail", "domain": "litware.example"},
                 {"method": "compauth", "result": "fail", "domain": None}],
        "dkim": [{"d": "litware.example", "s": "mkt2026"}],
        "hops": [
            {"from": "queue.bulk-sender.example", "by": "mailout3.bulk-sender.example",
             "at": "2026-12-01T08:12:29+00:00", "delay_s": 2},
            {"from": "mailout3.bulk-sender.example", "by": "AM6PEPF00004E19.mail.protection.outlook.com",
             "at": "2026-12-01T10:47:29+00:00", "delay_s": 9300},
            {"from": "AM6PEPF00004E19.eurprd04.prod.outlook.com", "by": "DB9PR02MB7305.eurprd02.prod.outlook.com",
             "at": "2026-12-01T10:47:30+00:00", "delay_s": 1},
            {"from": "DB9PR02MB7305.eurprd02.prod.outlook.com", "by": "AS8PR02MB9622.eurprd02.prod.outlook.com",
             "at": "2026-12-01T10:47:31+00:00", "delay_s": 1},
        ],
        "aligned": True,
    },
}


def test_every_sample_has_expectations() -> None:
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_fields(name: str) -> None:
    expected = dict(EXPECTED[name])
    result = _analyze((SAMPLES / name).read_bytes())
    doc = result.to_json()
    queries_start = expected.pop("queries_start", None)
    meaning_has = expected.pop("meaning_has", None)
    aligned = expected.pop("aligned", None)
    for key, value in expected.items():
        got = doc[key]
        if key == "hops":
            got = [{k: h[k] for k in ("from", "by", "at", "delay_s", *(("ip",) if "ip" in value[0] else ()))}
                   for h in got]
        if key == "auth":
            got = [{k: v[k] for k in ("method", "result", "domain")} for v in got]
        assert got == value, f"{name}: {key}"
    if queries_start:
        assert doc["queries"][: len(queries_start)] == queries_start
    if meaning_has:
        assert meaning_has in doc["meaning"]
    if aligned is not None:
        assert doc["alignment"]["aligned"] is aligned
    assert doc["unreadable"] == []
    assert summary_lines(result)  # something to say about each


def test_the_summary_of_a_bounce_names_code_meaning_recipient_and_diagnostic() -> None:
    lines = summary_lines(_analyze((SAMPLES / "postfix.txt").read_bytes()))
    assert lines[0] == "A bounce from Postfix: permanent."
    assert lines[1].startswith("Status 5.7.1: a permanent failure")
    assert "Failed recipient: accounts@tailspin.example." in lines
    assert "Reported by smtp.partner-mail.example, remote server mx.tailspin.example." in lines
    assert lines[-1] == "The remote server said: 554 5.7.1 <accounts@tailspin.example>: Relay access denied"


def test_the_longest_wait_is_named() -> None:
    lines = summary_lines(_analyze((SAMPLES / "headers-to-m365.txt").read_bytes()))
    assert any("the longest wait was 2 h 35 min before AM6PEPF00004E19.mail.protection.outlook.com" in ln for ln in lines)


def test_a_returned_4xx_is_not_told_as_still_being_tried() -> None:
    lines = summary_lines(_analyze((SAMPLES / "postfix-returned-4xx.eml").read_bytes()))
    assert lines[0] == "A bounce from Postfix: failed after retrying (given up, to be sent again)."
    assert "keeps trying" not in " ".join(lines)


def test_a_delay_notice_quoting_a_5xx_reply_is_told_as_still_being_tried() -> None:
    text = (SAMPLES / "exchange-delay.txt").read_text()
    for sample in (text, text.replace("400 4.4.7 Message delayed", "550 4.4.7 Message delayed")):
        lines = summary_lines(_analyze(sample))
        assert lines[0] == "A bounce from Exchange Online / Microsoft 365: delayed, still being tried (a temporary failure)."
        assert "Delayed recipient: dispatch@northwind-freight.example." in lines
        assert "permanent" not in " ".join(lines) and "gave up" not in " ".join(lines)
    # the delay notice's own code alone: 4.4.7 is the queue time, not an expiry
    alone = _analyze(re.sub(r"(?m)^12/3/2026.*\n", "", text))
    assert (alone.status, alone.permanent) == ("4.4.7", False)
    assert "still being retried" in (alone.meaning or "") and "expired" not in (alone.meaning or "")


def test_the_other_recipients_of_a_report_are_in_the_summary() -> None:
    lines = summary_lines(_analyze((SAMPLES / "dsn-two-recipients.dsn").read_bytes()))
    assert lines[0].endswith(": permanent.")
    assert ("For ops@northwind-freight.example: delayed, still being tried (a temporary failure), 4.4.1 "
            "(421 4.4.1 connection timed out).") in lines


def _forward(inner: bytes, encoding: str | None) -> str:
    """A user's message with `inner` attached as message/rfc822, in the given transfer encoding."""
    import base64
    import quopri

    body = {None: inner, "base64": base64.encodebytes(inner),
            "quoted-printable": quopri.encodestring(inner)}[encoding].decode("ascii")
    cte = f"Content-Transfer-Encoding: {encoding}\n" if encoding else ""
    return ("From: Sam <sam@harbour-bakery.example>\nTo: help@partner-mail.example\nSubject: Fwd: returned\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer-77\"\n\n--outer-77\n"
            "Content-Type: text/plain\n\nThis keeps coming back, see attached.\n\n--outer-77\n"
            f"Content-Type: message/rfc822\n{cte}\n{body}\n--outer-77--\n")


@pytest.mark.parametrize("encoding", [None, "base64", "quoted-printable"])
@pytest.mark.parametrize("name", ["postfix-returned-4xx.eml", "exchange-delay.txt"])
def test_a_bounce_attached_to_a_forward_is_read_in_any_encoding(name: str, encoding: str | None) -> None:
    inner = (SAMPLES / name).read_bytes()
    result = _analyze(_forward(inner, encoding))
    alone = _analyze(inner)
    assert result.kind == "bounce" and result.attached is True
    assert (result.status, result.permanent, result.recipients, result.diagnostic) == (
        alone.status, alone.permanent, alone.recipients, alone.diagnostic)
    assert result.unreadable == []
    assert "a bounce forwarded as an attachment" in summary_lines(result)[1]


def test_a_forwarded_message_that_is_not_a_bounce_still_gives_its_headers() -> None:
    inner = (SAMPLES / "headers-to-m365.txt").read_bytes()
    result = _analyze(_forward(inner, "base64"))
    assert result.kind == "headers" and result.attached is False
    assert result.sending_ip == "198.51.100.201" and result.unreadable == []


def test_every_recipient_of_an_exchange_ndr_is_reported_with_its_own_reply() -> None:
    result = _analyze((SAMPLES / "exchange-several.txt").read_bytes())
    got = [(r.recipient, r.status, r.permanent, r.remote_mta, r.smtp_code) for r in result.per_recipient]
    assert got == [("orders@florist.example", "5.2.2", True, None, "552"),
                   ("j.moreau@tailspin.example", "5.1.1", True, "mx.tailspin.example", "550"),
                   ("stock@wingtip.example", "5.7.1", True, "mail.wingtip.example", "554")]
    lines = summary_lines(result)
    assert "Failed recipients: orders@florist.example, j.moreau@tailspin.example, stock@wingtip.example." in lines
    assert any(ln.startswith("For stock@wingtip.example: permanent, 5.7.1 (554 5.7.1 Service unavailable") for ln in lines)


def test_the_older_exchange_layouts_list_every_recipient() -> None:
    text = (SAMPLES / "exchange-several.txt").read_text()
    heading_only = re.sub(r"(?s)Diagnostic information for administrators:.*?(?=Original message headers:)", "", text)
    assert _analyze(heading_only).recipients == [
        "orders@florist.example", "j.moreau@tailspin.example", "stock@wingtip.example"]
    hashes = text.replace("Remote Server returned '552 5.2.2 mailbox full; STOREDRV.Deliver.Exception:"
                          "QuotaExceededException.MapiExceptionShutoffQuotaExceeded'",
                          "#< #5.2.2 smtp;552 5.2.2 mailbox full> #SMTP#")
    result = _analyze(hashes)
    assert len(result.recipients) == 3 and result.diagnostic == "552 5.2.2 mailbox full"


def test_the_older_german_exchange_layout_lists_its_recipients() -> None:
    text = ("Die Zustellung an folgende Empf\xe4nger oder Gruppen ist fehlgeschlagen:\n\n"
            "einkauf@moebel-sued.example\nDas Postfach des Empf\xe4ngers ist voll.\n\n"
            "kasse@moebel-sued.example\nDie E-Mail-Adresse wurde nicht gefunden.\n\n"
            "Generierender Server: EX02.contoso.example\n\nRemoteserver hat '552 5.2.2 mailbox full' zur\xfcckgegeben\n")
    result = _analyze(text)
    assert (result.kind, result.style, result.permanent) == ("bounce", "exchange", True)
    assert result.recipients == ["einkauf@moebel-sued.example", "kasse@moebel-sued.example"]
    assert (result.reporting_mta, result.diagnostic) == ("EX02.contoso.example", "552 5.2.2 mailbox full")


def test_delay_words_in_the_returned_message_do_not_make_a_failure_a_delay() -> None:
    body = "\nHello,\nyour delivery is delayed by two days; we will retry the shipment on Friday.\n"
    for name in ("exim.txt", "qmail.txt", "exchange-online.txt"):
        result = _analyze((SAMPLES / name).read_text() + body)
        assert result.permanent is True, name
        assert "delayed" not in summary_lines(result)[0], name
