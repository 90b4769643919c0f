"""`--profile auto`: which provider's service a domain uses, told from its own records.

Each profile declares how to recognise it (`Profile.recognise_patterns()`): MX host patterns, the
include:/redirect= targets of the domain's SPF record, and where autodiscover.<domain> leads. The MX
is asked first because it says where mail is delivered; the SPF include and autodiscover are the
fallbacks (a domain behind a filtering service still sends through its provider). The questions are
the ones the mx, spf and autodiscover checks ask anyway, so their answers come from the cache.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from threer.checks.profiles import Profile, pattern_matches

if TYPE_CHECKING:
    from threer.checks.resolver import Lookup


@dataclass(frozen=True)
class ProfileChoice:
    """The profile a domain is judged against, and how it was chosen, in words for the report."""

    profile: Profile | None
    how: str  # given | config | auto-mx | auto-spf | auto-autodiscover | auto-none | auto-error
    reason: str  # "recognised from the MX (contoso-com.mail.protection.outlook.com)", ...

    @property
    def name(self) -> str | None:
        return self.profile.name if self.profile else None

    @property
    def recognised_from_mx(self) -> bool:
        return self.how in ("auto-mx", "given", "config")


def fixed_choice(profile: Profile | None, how: str = "given") -> ProfileChoice:
    """A profile named by the user (`--profile`) or by the config, or none."""
    where = "given with --profile" if how == "given" else "the config's default_profile"
    if profile is None:
        return ProfileChoice(None, how, f"no profile ({where}): judged on the records' own merits")
    return ProfileChoice(profile, how, where)


def _spf_targets(txt: "Lookup") -> list[str]:
    """The literal include:/redirect= targets of the domain's own SPF record (none when it has not one)."""
    from threer.checks.spf import SpfSyntaxError, is_spf_record, parse_record

    records = [r for r in txt.records if is_spf_record(r)] if txt.exists else []
    if len(records) != 1:
        return []
    try:
        record = parse_record(records[0])
    except SpfSyntaxError:
        return []
    specs = [m.domain_spec for m in record.mechanisms if m.name == "include" and m.domain_spec is not None]
    if record.redirect is not None:
        specs.append(record.redirect.value)
    return [spec.literal.lower().rstrip(".") for spec in specs if not spec.has_macros]


async def recognise_profile(resolver: Any, domain: str, candidates: list[Profile]) -> ProfileChoice:
    """The first candidate the domain's MX, then SPF include, then autodiscover points at."""
    mx, txt, autodiscover = await asyncio.gather(
        resolver.query(domain, "MX"), resolver.query(domain, "TXT"), resolver.query(f"autodiscover.{domain}", "A")
    )
    hosts = [rd.exchange.to_text(omit_final_dot=True).lower() for rd in mx.rdata] if mx.exists else []
    includes = _spf_targets(txt)
    chain = [h.lower().rstrip(".") for h in autodiscover.cname_chain]
    by_record = (
        ("mx", "auto-mx", "the MX", hosts),
        ("spf_includes", "auto-spf", "the SPF include", includes),
        ("autodiscover", "auto-autodiscover", "the autodiscover CNAME", chain),
    )
    for key, how, words, values in by_record:
        for profile in candidates:
            patterns = profile.recognise_patterns()[key]
            hit = next((v for v in values for p in patterns if pattern_matches(p, domain, v)), None)
            if hit is not None:
                return ProfileChoice(profile, how, f"recognised from {words} ({hit})")
    if mx.is_error and txt.is_error:
        return ProfileChoice(None, "auto-error", "not recognised: the MX and TXT look-ups failed, so judged on the records' own merits")
    return ProfileChoice(None, "auto-none", "no profile matched: judged on the records' own merits")
