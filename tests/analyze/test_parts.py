"""The analyser's parts on small inputs: status codes, Authentication-Results, Received, alignment."""

from __future__ import annotations

import pytest

from threer.analyze import _analyze
from threer.analyze.authres import parse_authentication_results, parse_dkim_signature
from threer.analyze.codes import describe, find_codes, is_permanent
from threer.analyze.headers import is_internal, parse_received


@pytest.mark.parametrize("code, words", [
    ("5.1.1", "mailbox does not exist"),
    ("4.4.7", "expired"),
    ("5.7.26", "several authentication checks"),
    ("5.7.23", "SPF"),
    ("4.2.2", "mailbox is full"),
    ("5.9.9", "an unlisted problem"),
    ("5.6.99", "content"),
    # the registry's words (RFC 6710, RFC 6531): 7.15 priority too low, 6.8 and its duplicate 6.10 a UTF-8 reply
    ("5.7.15", "priority is too low"),
    ("5.6.8", "a reply in UTF-8 (a non-ASCII mailbox name) was needed"),
    ("5.6.10", "a reply in UTF-8 was needed"),
    ("5.6.7", "a non-ASCII address was not accepted"),
    ("5.6.9", "UTF-8 (non-ASCII) headers"),
    ("4.7.1", "put the message off by a policy rule for now (often greylisting"),
    ("5.7.1", "not allowed to send to this recipient"),
])
def test_codes_in_plain_words(code: str, words: str) -> None:
    assert words in describe(code)


def test_class_says_permanent_or_temporary() -> None:
    assert describe("4.2.2").startswith("a temporary failure")
    assert describe("5.2.2").startswith("a permanent failure")
    assert (is_permanent("5.1.1"), is_permanent("4.4.7"), is_permanent(None)) == (True, False, None)
    assert describe("not a code") is None


def test_codes_found_in_text_in_order_each_once() -> None:
    text = "Outlook said 0x800ccc0e, then 550-5.7.1 relaying denied; again 550 5.7.1. Version 10.0.17763.1 is fine."
    assert find_codes(text) == ["0x800CCC0E", "550", "5.7.1"]


def test_authentication_results_with_comments_quotes_and_versions() -> None:
    value = ('mx.contoso.example (looked (nested) up); spf=pass (sender SPF authorized) smtp.mailfrom="bob@Fabrikam.Example";'
             ' dkim/1=fail reason="bad; sig" header.d=fabrikam.example header.s=s1; dmarc=pass header.from=fabrikam.example')
    verdicts, clean = parse_authentication_results(value)
    assert clean
    assert [(v.method, v.result, v.domain) for v in verdicts] == [
        ("spf", "pass", "fabrikam.example"), ("dkim", "fail", "fabrikam.example"), ("dmarc", "pass", "fabrikam.example")]
    assert {v.authserv_id for v in verdicts} == {"mx.contoso.example"}


def test_authentication_results_none_and_garbage() -> None:
    assert parse_authentication_results("mx.example.net; none") == ([], True)
    verdicts, clean = parse_authentication_results("mx.example.net; ===; spf=pass smtp.mailfrom=a.example")
    assert not clean and [v.method for v in verdicts] == ["spf"]


def test_dkim_signature_tags() -> None:
    sig = parse_dkim_signature("v=1; a=rsa-sha256; d = Contoso.Example ; s=sel\n 2026; b=abc")
    assert (sig.d, sig.s) == ("contoso.example", "sel2026")
    assert parse_dkim_signature("v=1; a=rsa-sha256") is None


def test_received_ip_from_brackets_parens_or_helo_and_by_outside_comments() -> None:
    r = parse_received("from mail.fabrikam.example (mail.fabrikam.example [198.51.100.3]) by mx.contoso.example "
                       "(Postfix) with ESMTPS id 1; Tue, 1 Dec 2026 10:00:00 +0000")
    assert (r.from_host, r.ip, r.by, r.submission) == ("mail.fabrikam.example", "198.51.100.3", "mx.contoso.example", False)
    assert r.at.isoformat() == "2026-12-01T10:00:00+00:00"
    r = parse_received("(qmail 1 invoked by uid 89); 1 Dec 2026 13:05:41 -0000")
    assert (r.from_host, r.by, r.at.isoformat()) == (None, None, "2026-12-01T13:05:41+00:00")
    r = parse_received("from [IPv6:2001:db8::5] by smtp.example with ESMTPSA; garbage date")
    assert (r.ip, r.submission, r.at) == ("2001:db8::5", True, None)


def test_the_connecting_address_is_the_tcp_info_not_the_helo_literal() -> None:
    r = parse_received("from [192.168.1.20] (host-81-2-3-4.isp.example [81.2.3.4]) by smtp.gmail.com with ESMTPSA "
                       "id x1; Tue, 01 Dec 2026 02:30:10 -0800")
    assert (r.from_host, r.ip, r.by) == ("192.168.1.20", "81.2.3.4", "smtp.gmail.com")
    r = parse_received("from [192.168.1.20] by smtp.example with ESMTPSA; Tue, 01 Dec 2026 02:30:10 -0800")
    assert r.ip == "192.168.1.20"  # no TCP-info: the literal is all there is


def test_internal_addresses() -> None:
    assert all(is_internal(ip) for ip in ["10.1.2.3", "172.20.0.1", "192.168.1.1", "127.0.0.1", "fd00::1", "::1"])
    assert not any(is_internal(ip) for ip in ["198.51.100.7", "2603:10a6::1", "8.8.8.8"])


def test_return_path_not_aligned_with_from() -> None:
    text = ("Return-Path: <bounce@mailer.esp.example>\nFrom: Shop <news@shop.example>\n"
            "Date: Tue, 1 Dec 2026 10:00:00 +0000\nSubject: hi\n")
    result = _analyze(text)
    assert result.kind == "headers"
    assert result.alignment.aligned is False
    assert "mailer.esp.example" in result.alignment.note and "shop.example" in result.alignment.note


def test_subdomain_return_path_aligns_with_its_organisational_domain() -> None:
    result = _analyze("Return-Path: <b@mail.shop.example>\nFrom: news@shop.example\nDate: Tue, 1 Dec 2026 10:00:00 +0000\n")
    assert result.alignment.aligned is True


def test_plain_text_with_codes_is_text_with_codes_and_queries() -> None:
    result = _analyze("Outlook keeps saying 0x800CCC0E when sending; the web shows 5.7.57 sometimes")
    assert result.kind == "text"
    assert result.codes == ["0x800CCC0E", "5.7.57"]
    assert result.queries[:2] == ["0x800CCC0E", "5.7.57"]
    assert result.status is None and result.permanent is None


def test_a_dsn_block_pasted_on_its_own_is_a_bounce() -> None:
    text = ("Reporting-MTA: dns; out.partner.example\n\nFinal-Recipient: rfc822; x@y.example\nAction: failed\n"
            "Status: 5.4.4\nDiagnostic-Code: smtp; 554 5.4.4 no route\n")
    result = _analyze(text)
    assert (result.kind, result.style, result.status, result.recipients, result.reporting_mta) == (
        "bounce", "dsn", "5.4.4", ["x@y.example"], "out.partner.example")


def test_quoted_forwarded_bounce_is_read_without_the_quote_marks() -> None:
    text = "> This is the mail system at host a.example.\n>\n> <u@b.example>: host mx.b.example[198.51.100.1] said: 550 5.1.1 no\n>     such user (in reply to RCPT TO command)\n"
    result = _analyze(text)
    assert (result.style, result.status, result.recipients, result.diagnostic) == (
        "postfix", "5.1.1", ["u@b.example"], "550 5.1.1 no such user")
