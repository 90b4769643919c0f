"""The `json` format, for machines: the ticket model as one versioned document (TICKET_VERSION)."""

from __future__ import annotations

import json
from typing import Any

from threer.ticket.formats import TicketFormat
from threer.ticket.model import TICKET_VERSION, Ticket

def ticket_document(ticket: Ticket) -> dict[str, Any]:
    return {"version": TICKET_VERSION, **ticket.model_dump(mode="json")}


def render_json(ticket: Ticket) -> str:
    return json.dumps(ticket_document(ticket), ensure_ascii=False, indent=2) + "\n"


FORMAT = TicketFormat(name="json", suffix=".json", summary="one JSON document for machines",
                      render=lambda ticket, width: render_json(ticket))
