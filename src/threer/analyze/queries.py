"""What the Research step searches with, from an analysis: exact codes first, then the diagnostic."""

from __future__ import annotations

import re

from threer.analyze.models import Analysis

MAX_QUERIES = 6
# Exchange's own reason tokens are codes too: RESOLVER.ADR.RecipNotFound, STOREDRV.Submission.Exception
_DOTTED_CODE = re.compile(r"\b[A-Z]{3,}(?:\.[A-Za-z]+){1,4}\b")
_NOISE = re.compile(r"<?[\w.+-]+@[\w.-]+>?|\[?\b\d{1,3}(?:\.\d{1,3}){3}\b\]?|https?://\S+|\b[0-9a-f]{8,}\b|\bid\s+\S+",
                    re.IGNORECASE)


def research_queries(analysis: Analysis) -> list[str]:
    out: list[str] = []

    def add(q: str | None) -> None:
        q = " ".join((q or "").split())
        if q and q.lower() not in (x.lower() for x in out):
            out.append(q)

    if analysis.smtp_code and analysis.status:
        add(f"{analysis.smtp_code} {analysis.status}")
    add(analysis.status)
    for code in analysis.codes:
        # other enhanced codes only when the diagnostic names them: a transcript's "503 5.0.0" is noise
        if code.startswith("0x") or ("." in code and code in (analysis.diagnostic or "")) or analysis.kind == "text":
            add(code)
    if analysis.diagnostic:
        for token in _DOTTED_CODE.findall(analysis.diagnostic):
            add(token)
        words = _NOISE.sub(" ", analysis.diagnostic)
        words = re.sub(r"(?<![\w.])[245]\d\d(?:[ -]#?[245]\.\d{1,3}\.\d{1,3})?\b|[245]\.\d{1,3}\.\d{1,3}", " ", words)
        add(" ".join(words.split()[:25]).strip(" .;:-'\""))
    return out[:MAX_QUERIES]
