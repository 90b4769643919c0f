"""What the analyser found in a pasted bounce or header block: plain data, no printing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

JSON_VERSION = 1


class Hop(BaseModel):
    """One `Received` header, oldest first: who handed the message to whom, when, and how long it sat."""

    from_: str | None = Field(default=None, alias="from", serialization_alias="from")
    by: str | None = None
    at: str | None = None  # ISO 8601 with offset, as the server stamped it
    delay_s: int | None = None  # seconds since the previous hop (the first: since the Date header)
    ip: str | None = None  # the connecting address the server recorded, when it gave one

    model_config = {"populate_by_name": True}


class AuthVerdict(BaseModel):
    """One method's verdict in an Authentication-Results header (RFC 8601)."""

    method: str  # spf, dkim, dmarc, arc, ...
    result: str  # pass, fail, softfail, none, neutral, temperror, permerror, policy, ...
    domain: str | None = None  # what the verdict was for: smtp.mailfrom, header.d, header.from
    authserv_id: str | None = None  # the server that wrote the header


class DkimSignature(BaseModel):
    d: str | None = None
    s: str | None = None


class Alignment(BaseModel):
    """Return-Path (envelope sender) against From (what the reader sees), as DMARC compares them."""

    return_path: str | None = None
    from_domain: str | None = None
    aligned: bool | None = None  # same organisational domain; None when one of them is missing
    note: str = ""


class RecipientStatus(BaseModel):
    """One recipient of a delivery report (RFC 3464 §2.3 gives each its own action and status)."""

    recipient: str | None = None  # Final-Recipient, else Original-Recipient
    action: str | None = None  # failed, delayed, delivered, relayed, expanded
    status: str | None = None
    meaning: str | None = None
    permanent: bool | None = None  # as the top-level field: delivery to this recipient is over
    smtp_code: str | None = None
    remote_mta: str | None = None
    diagnostic: str | None = None


class Analysis(BaseModel):
    """The result of reading pasted text. Every field may be empty: a partial read is still a result."""

    kind: Literal["bounce", "headers", "text"]
    style: str | None = None  # whose bounce it looks like: dsn, exchange, gmail, postfix, exim, sendmail, qmail
    status: str | None = None  # the enhanced status code (RFC 3463), e.g. 5.7.1
    meaning: str | None = None  # that code in plain words
    permanent: bool | None = None  # delivery is over (returned, not retried), whatever the code's class
    smtp_code: str | None = None  # the basic SMTP reply code, e.g. 550
    recipients: list[str] = Field(default_factory=list)
    reporting_mta: str | None = None
    remote_mta: str | None = None
    diagnostic: str | None = None  # the remote server's text, verbatim
    codes: list[str] = Field(default_factory=list)  # every status or error code seen, in order
    hops: list[Hop] = Field(default_factory=list)
    auth: list[AuthVerdict] = Field(default_factory=list)
    dkim: list[DkimSignature] = Field(default_factory=list)
    sending_ip: str | None = None
    alignment: Alignment | None = None
    original_headers: bool = False  # the bounce carried the original message's headers (read into hops etc.)
    attached: bool = False  # the bounce was read from a message attached to the one given (forwarded as an attachment)
    queries: list[str] = Field(default_factory=list)  # research queries, exact codes first
    unreadable: list[str] = Field(default_factory=list)  # what could not be read, in plain words
    # each recipient of a delivery report, the ones given up on first; empty without report fields
    per_recipient: list[RecipientStatus] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", by_alias=True)
        return {"version": JSON_VERSION, **data}
