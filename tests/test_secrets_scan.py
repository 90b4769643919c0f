"""find_secrets: what looks like a password or key is flagged; ordinary error text is not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threer.secrets_scan import REDACTED, find_secrets, redact


def flagged(text: str) -> list[tuple[str, str]]:
    return [(hit.kind, text[hit.start:hit.end]) for hit in find_secrets(text)]


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("Password: Summer2024!", "Summer2024!", "password"),  # the whole value, its last character too
        ("password=hunter2", "hunter2", "password"),
        ("pwd=abc123; user=jane", "abc123", "password"),
        ("Server=mail;User Id=jane;Password=Tr0ub4dor&3;", "Tr0ub4dor&3", "password"),
        ('passwd: "correct horse battery"', "correct horse battery", "password"),
        ("my password is letmein", "letmein", "password"),
        ("She said her password was Kitten99.", "Kitten99.", "password"),
        ("the new password is dragonfly", "dragonfly", "password"),
        ("passcode 4421", "4421", "password"),
        ("PIN: 0000", "0000", "password"),
        ("app password: qwhrtzkxmnbvcpls", "qwhrtzkxmnbvcpls", "app password"),
        ("app password abcd efgh ijkl mnop", "abcd efgh ijkl mnop", "app password"),
        ("she read out code abcd efgh ijkl mnop to me", "abcd efgh ijkl mnop", "app password"),
        ("api_key = 'zq8Xr2Lm5Np7Vb3Kd9Tf'", "zq8Xr2Lm5Np7Vb3Kd9Tf", "API key or token"),
        ("key id AKIAIOSFODNN7EXAMPLE in the log", "AKIAIOSFODNN7EXAMPLE", "AWS access key ID"),
        ("aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ok", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "API key or token"),
        ("Authorization: Bearer abC9dEf8ghI7jkL6mnO5pq", "abC9dEf8ghI7jkL6mnO5pq", "bearer token"),
        ("Authorization: Basic amFuZTpodW50ZXIy", "amFuZTpodW50ZXIy", "basic-auth credentials"),
        ("token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "API token"),
        ("see https://jane:s3cret@mail.contoso.com/owa", "s3cret", "password in a web address"),
        # help-desk phrasings (review 3 #5): a few words between keyword and value, "reset to", user/password pairs
        ("to change it. password for the DNS panel is Hunter2!", "Hunter2!", "password"),
        ("the password for her mailbox is sunshine", "sunshine", "password"),
        ("password to the router: Xy7!pq", "Xy7!pq", "password"),
        ("password was reset to Welcome123", "Welcome123", "password"),
        ("her password has been changed to Autumn2026", "Autumn2026", "password"),
        ("credentials: admin/Hunter2!", "Hunter2!", "password"),
        ("login is pete / Winter2027", "Winter2027", "password"),
    ],
)
def test_secrets_are_flagged(text: str, secret: str, kind: str) -> None:
    assert (kind, secret) in flagged(text)


def test_private_key_block_is_flagged_whole() -> None:
    text = "cert:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\nthanks"
    [(kind, secret)] = flagged(text)
    assert kind == "private key"
    assert secret.startswith("-----BEGIN PRIVATE KEY-----") and secret.endswith("-----END PRIVATE KEY-----")


def test_a_truncated_private_key_is_flagged_to_the_end() -> None:
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU"
    assert flagged(text) == [("private key", text)]


def test_jwt_is_flagged() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    assert [s for _, s in flagged(f"Authorization: Bearer {token}")] == [token]


ORDINARY = [
    "0x800CCC0E",
    "Task 'jane@contoso.com - Sending' reported error (0x800CCC0F): 'The connection to the server was interrupted.'",
    "550 5.7.1 Unable to relay",
    "Remote Server returned '550 5.7.1 RESOLVER.RST.AuthRequired; authentication required [Stage: CreateMessage]'",
    "Diagnostic information for administrators:\nGenerating server: AM6PR04MB5432.eurprd04.prod.outlook.com\n"
    "jane@contoso.com\nRemote Server returned '554 5.4.14 Hop count exceeded - possible mail loop ATTR34 "
    "[DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]'",
    "Original message headers:\nMessage-ID: <DB9PR08MB6588D7A4B8C2F2B1E4C9B0A8E5A12@DB9PR08MB6588.eurprd08.prod.outlook.com>",
    "X-MS-Exchange-CrossTenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47",
    "Correlation ID: {3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
    "Request Id: 8a5f1c2e-3b4d-4e6f-9a0b-1c2d3e4f5a6b Trace Id: 0f4c5d6e-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
    "535 5.7.3 Authentication unsuccessful",
    "530 5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, "
    "SmtpClientAuthentication is disabled for the Tenant.",
    "Your password has expired.",
    "The password you entered is incorrect.",
    "the password is incorrect",
    "Password: prompt keeps appearing in Outlook",
    "Enter password:\n550 5.7.1 Unable to relay",
    "Outlook keeps asking for the password every few minutes since the password was reset",
    "password prompt loops; token 0x800CCC0E appears",
    "Basic authentication failed for the mailbox",
    "Microsoft365BusinessPremium licence assigned",
    "when they send mail from home it fails",
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=contoso.com; s=selector1; "
    "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGhpcyBpcyBub3QgYSBzZWNyZXQ0NTY3ODkwYWJjZGVm",
    "https://support.microsoft.com/en-us/office/fix-outlook-password-prompts-7c53e0f6-6e1a-4a3e-9d4a-2f0f7e1b1b2c",
    "v=spf1 include:spf.protection.outlook.com -all",
    "Error code: 0x80070005 (E_ACCESSDENIED); event ID 4625",
    "the password for the shared mailbox is asked again and again",
    "password for the DNS panel was reset to default",
    "sign-in: Outlook/OWA both fail with 5.7.8",
    "login: https://portal.example.net/admin",
    "the password of the mailbox was changed to a longer one",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_error_text_is_not_flagged(text: str) -> None:
    assert flagged(text) == []


def test_hit_positions_and_lines() -> None:
    text = "line one\nuser jane\npassword: Hunter22\n"
    [hit] = find_secrets(text)
    assert (hit.line, text[hit.start:hit.end]) == (3, "Hunter22")


def test_redact_keeps_the_words_that_gave_it_away() -> None:
    assert redact("Password: Summer2024! and pwd=abc123") == f"Password: {REDACTED} and pwd={REDACTED}"
    assert redact("nothing here") == "nothing here"
    assert redact("") == ""


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_sane_hits(text: str) -> None:
    hits = find_secrets(text)
    last = 0
    for hit in hits:
        assert last <= hit.start < hit.end <= len(text)
        last = hit.end
    masked = redact(text, hits)
    assert masked.count(REDACTED) >= len(hits)
    assert len(masked) == len(text) + sum(len(REDACTED) - (h.end - h.start) for h in hits)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["password:", "pwd=", "my", "is", "AKIA", "x7Kp", "abcd", " ", "\n", "Bearer", "0x800CCC0E", "'", '"', "=", "efgh"]), max_size=30))
def test_keyword_soup_never_fails(parts: list[str]) -> None:
    text = " ".join(parts)
    for hit in find_secrets(text):
        assert text[hit.start:hit.end].strip()
