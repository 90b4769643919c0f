"""Provider profiles: what a hosted mail service needs in a customer's DNS, and how to load one.

A profile names the MX hosts, SPF include, autodiscover target, DKIM selectors and OWA URL of a
service. Host names may depend on the domain, so they are patterns:

- `{domain}`: the customer domain (`contoso.com`);
- `{domain_dashed}`: the domain with dots turned into dashes (`contoso-com`), as Microsoft 365 uses;
- `{token}`, `{tenant}`, `{region}`, `{any}`: text threer cannot know in advance (the Microsoft 365
  MX token, the tenant prefix, a partition label), so any run of letters, digits, '-' and '_' within
  one label matches.

Built-in profiles live in `threer/checks/profiles/*.toml`; a partner's own is a TOML file of the
same shape (docs/how-to/profiles.md).
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from dataclasses import dataclass, field, fields

from threer.errors import BadInput
from threer.files import load_toml, read_user_text

BUILTIN_PROFILES = ("m365", "google")
NO_PROFILE = "none"  # `--profile none`: judge the records on their own merits
AUTO_PROFILE = "auto"  # `--profile auto` (the default): recognise the provider from the records

_SUBSTITUTED = ("domain", "domain_dashed")
# text derived from the domain that the provider may vary: it must contain the domain's letters and
# digits in order (hyphens and dots dropped), with anything before or after (maxxexpress-com01b for
# maxx-express.com, exclusive-jasonshadow-com03i for jasonshadow.com)
_DOMAIN_TOKEN = "domain_token"
_ONE_LABEL = ("token", "tenant", "region", "any")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_HOST_CHARS = re.compile(r"^[a-z0-9_.{}-]+$")


def _check_pattern(pattern: str) -> str:
    """A host pattern: lower-case host characters and known placeholders only."""
    value = pattern.strip().lower().rstrip(".")
    if not value:
        raise ValueError("a host name pattern is empty")
    for name in _PLACEHOLDER.findall(value):
        if name not in _SUBSTITUTED + _ONE_LABEL + (_DOMAIN_TOKEN,):
            known = ", ".join("{" + n + "}" for n in _SUBSTITUTED + (_DOMAIN_TOKEN,) + _ONE_LABEL)
            raise ValueError(f"unknown placeholder {{{name}}} in {pattern!r}; use one of {known}")
    if not _HOST_CHARS.match(value) or "{" in _PLACEHOLDER.sub("", value) or "}" in _PLACEHOLDER.sub("", value):
        raise ValueError(f"{pattern!r} is not a host name pattern such as {{domain_dashed}}.mail.protection.outlook.com")
    return value


def expand_pattern(pattern: str, domain: str) -> str:
    """Fill in `{domain}` and `{domain_dashed}`; one-label placeholders stay as they are."""
    domain = domain.lower().rstrip(".")
    return pattern.replace("{domain_dashed}", domain.replace(".", "-")).replace("{domain}", domain)


def pattern_matches(pattern: str, domain: str, host: str) -> bool:
    """Does `host` fit `pattern` for this domain (case-insensitive, trailing dot ignored)?"""
    expanded = expand_pattern(pattern, domain)
    parts = _PLACEHOLDER.split(expanded)
    # split() alternates literal text and placeholder names
    regex = "".join(
        re.escape(part) if i % 2 == 0 else (r"([a-z0-9_-]+)" if part == _DOMAIN_TOKEN else r"[a-z0-9_-]+")
        for i, part in enumerate(parts)
    )
    match = re.fullmatch(regex, host.lower().rstrip("."))
    if match is None:
        return False
    squeezed = re.sub(r"[^a-z0-9]", "", domain.lower())
    return all(squeezed in re.sub(r"[^a-z0-9]", "", token) for token in match.groups())


def has_wildcards(pattern: str) -> bool:
    """True when the pattern has a part threer cannot fill in (so it cannot be pasted as-is)."""
    return any(name in _ONE_LABEL or name == _DOMAIN_TOKEN for name in _PLACEHOLDER.findall(pattern))


def shown_pattern(pattern: str, domain: str) -> str:
    """A pattern for a fix: what threer knows filled in, the rest as `<token>`, `<tenant>` ... to copy."""
    return expand_pattern(pattern, domain).replace("{domain_token}", "<token>").replace("{", "<").replace("}", ">")


def check_selector(value: str) -> str:
    """A DKIM selector (RFC 6376 §3.1): dot-separated labels of letters, digits, '-' and '_'."""
    value = value.strip().lower()
    if not re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*", value):
        raise ValueError(f"{value!r} is not a DKIM selector such as selector1")
    return value


@dataclass(kw_only=True)
class DkimSelector:
    """A DKIM selector the service signs with, and where its CNAME should point (if a CNAME)."""

    selector: str
    # accepted CNAME targets; empty means the key is published as a TXT record at the selector itself
    cname: list[str] = field(default_factory=list)
    # the admin may publish the key under another selector name (Google's "prefix selector"): a key
    # found at another selector then satisfies this one
    renamable: bool = False

    def __post_init__(self) -> None:
        self.selector = check_selector(self.selector)
        self.cname = [_check_pattern(v) for v in self.cname]


@dataclass(kw_only=True)
class Recognise:
    """How `--profile auto` tells that a domain uses this service. A list left out means the profile's
    own patterns (`mx`, `spf_includes`, `autodiscover_cname`); an empty list means never by that record."""

    mx: list[str] | None = None  # MX host patterns
    spf_includes: list[str] | None = None  # include:/redirect= targets in the domain's own SPF record
    autodiscover: list[str] | None = None  # where autodiscover.<domain> leads (its CNAME chain)

    def __post_init__(self) -> None:
        for name in ("mx", "spf_includes", "autodiscover"):
            value = getattr(self, name)
            setattr(self, name, None if value is None else [_check_pattern(v) for v in value])


@dataclass(kw_only=True)
class Profile:
    """What a provider's service needs in the customer's DNS. A bad value is a ValueError naming it;
    a profile file is read by load_profile, whose errors say which key of the file is wrong."""

    name: str
    description: str = ""
    mx: list[str] = field(default_factory=list)  # accepted MX host patterns; any one of them will do
    spf_includes: list[str] = field(default_factory=list)  # e.g. spf.protection.outlook.com
    sending_ips: list[str] = field(default_factory=list)  # IPs/CIDRs the provider sends from
    autodiscover_cname: str | None = None  # e.g. autodiscover.outlook.com
    autodiscover_srv: str | None = None  # target host of _autodiscover._tcp SRV
    dkim: list[DkimSelector] = field(default_factory=list)
    # more selectors to look for (a TXT key or a CNAME, whatever it is): selectors the admin chose
    dkim_selectors: list[str] = field(default_factory=list)
    owa_url: str | None = None
    # where the customer's exact values (MX token, DKIM CNAME targets) are shown, for fixes that cannot
    # spell them out, e.g. "the Microsoft 365 admin centre (Settings > Domains > the domain > DNS records)"
    admin_centre: str = ""
    recognise: Recognise = field(default_factory=Recognise)

    def __post_init__(self) -> None:
        # the same checks, in the same words, as threer.checks.profile_schema gives for a profile file
        self.mx = [_check_pattern(v) for v in self.mx]
        self.spf_includes = [_check_pattern(v) for v in self.spf_includes]
        self.sending_ips = _check_ips(self.sending_ips)
        self.autodiscover_cname = _optional_pattern(self.autodiscover_cname)
        self.autodiscover_srv = _optional_pattern(self.autodiscover_srv)
        self.dkim = [d if isinstance(d, DkimSelector) else DkimSelector(**d) for d in self.dkim]
        self.dkim_selectors = list(dict.fromkeys(check_selector(v) for v in self.dkim_selectors))
        self.owa_url = _check_owa_url(self.owa_url)
        if not isinstance(self.recognise, Recognise):
            self.recognise = Recognise(**self.recognise)

    def recognise_patterns(self) -> dict[str, list[str]]:
        """The patterns `--profile auto` matches, by record: mx, spf_includes, autodiscover."""
        r = self.recognise
        return {
            "mx": self.mx if r.mx is None else r.mx,
            "spf_includes": self.spf_includes if r.spf_includes is None else r.spf_includes,
            "autodiscover": ([self.autodiscover_cname] if self.autodiscover_cname else []) if r.autodiscover is None else r.autodiscover,
        }

    def where_values_are(self) -> str:
        return self.admin_centre or f"the {self.description or self.name} admin centre"

    def expand(self, pattern: str, domain: str) -> str:
        return expand_pattern(pattern, domain)

    def matches(self, pattern: str, domain: str, host: str) -> bool:
        return pattern_matches(pattern, domain, host)


def _optional_pattern(value: str | None) -> str | None:
    return None if value is None or not value.strip() else _check_pattern(value)


def _check_ips(value: list[str]) -> list[str]:
    import ipaddress

    for item in value:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network such as 203.0.113.0/24") from None
    return [v.strip() for v in value]


def _check_owa_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value.lower().startswith("https://") or " " in value or "." not in value:
        raise ValueError(f"owa_url must be an https:// address, not {value!r}")
    return value


def profile_keys() -> list[str]:
    """The keys of a profile file, in order (as an error about an unknown key lists them)."""
    return [f.name for f in fields(Profile)]


# A profile file's keys and the types they are read here without pydantic (TOML gives them exactly so);
# anything else is left to threer.checks.profile_schema, which converts what it can and words the errors.
_TEXT_KEYS = {"name", "description", "admin_centre", "autodiscover_cname", "autodiscover_srv", "owa_url"}
_LIST_KEYS = {"mx", "spf_includes", "sending_ips", "dkim_selectors"}


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _plain_profile(raw: dict[str, object]) -> Profile | None:
    """The profile when every key of `raw` is known and of its exact type and every value is valid;
    None when pydantic must read it (to convert a value, or to say what is wrong)."""
    for key, value in raw.items():
        if key in _TEXT_KEYS:
            ok = isinstance(value, str)
        elif key in _LIST_KEYS:
            ok = _texts(value)
        elif key == "dkim":
            ok = isinstance(value, list) and all(
                isinstance(d, dict) and isinstance(d.get("selector"), str)
                and set(d) <= {"selector", "cname", "renamable"} and _texts(d.get("cname", []))
                and isinstance(d.get("renamable", False), bool) for d in value)
        elif key == "recognise":
            ok = isinstance(value, dict) and set(value) <= {"mx", "spf_includes", "autodiscover"} and all(
                _texts(v) for v in value.values())
        else:
            ok = False
        if not ok:
            return None
    try:
        return Profile(**raw)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None


def load_profile(name_or_path: str) -> Profile:
    """A built-in profile by name (`m365`, `google`) or a partner profile from a TOML file."""
    text = (name_or_path or "").strip()
    if not text:
        raise BadInput("The profile name is empty. Use auto, m365, google, none, or the path to a profile TOML file.")
    key = text.lower()
    if key == AUTO_PROFILE:
        raise BadInput("auto is not a profile of its own: it picks one of the others for each domain.")
    if key in BUILTIN_PROFILES:
        source = resources.files("threer.checks").joinpath("profiles").joinpath(f"{key}.toml")
        return _parse(source.read_bytes(), f"built-in profile {key}", default_name=key)
    path = Path(text).expanduser()
    looks_like_path = path.suffix.lower() == ".toml" or "/" in text or "\\" in text or path.exists()
    if not looks_like_path:
        raise BadInput(
            f"Unknown profile {text!r}. Use auto, {', '.join(BUILTIN_PROFILES)}, none, or the path to a profile TOML file."
        )
    text = read_user_text(path, "profile file", fix="give the path to a profile TOML file, or use m365 or google")
    return _parse(text.encode("utf-8"), f"profile file {path}", default_name=path.stem)


def _parse(data: bytes, where: str, *, default_name: str) -> Profile:
    try:
        raw = load_toml(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput(f"The {where} is not UTF-8 text. Save it as UTF-8 and try again.") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"The {where} is not valid TOML ({exc}). Fix it; docs/how-to/profiles.md has an example.") from None
    raw.setdefault("name", default_name)
    profile = _plain_profile(raw)
    if profile is None:
        from threer.checks.profile_schema import read_profile

        profile = read_profile(raw, where)  # converts what pydantic converts; BadInput in its words otherwise
    return profile


def resolve_profile(name_or_path: str | None) -> Profile | None:
    """`None` or `none` means no profile; anything else is loaded (BadInput when it cannot be).
    `auto` is not one profile: use choose_profiles() for it."""
    if name_or_path is None or name_or_path.strip().lower() == NO_PROFILE:
        return None
    return load_profile(name_or_path)


def is_auto(name_or_path: str | None) -> bool:
    return name_or_path is not None and name_or_path.strip().lower() == AUTO_PROFILE


def auto_candidates(extra: list[str] | tuple[str, ...] = ()) -> list[Profile]:
    """The profiles `--profile auto` chooses from: the partner's own files first, then the built-ins."""
    profiles = [load_profile(str(path)) for path in extra]
    return profiles + [load_profile(name) for name in BUILTIN_PROFILES]
