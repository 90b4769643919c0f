"""Provider profiles: the built-ins, partner TOML files, placeholders, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threer.checks.profiles import (
    BUILTIN_PROFILES,
    Profile,
    has_wildcards,
    load_profile,
    pattern_matches,
    resolve_profile,
)
from threer.errors import BadInput


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_builtin_profiles_load(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.mx and profile.spf_includes and profile.dkim and profile.owa_url.startswith("https://")


def test_builtin_names_are_case_insensitive() -> None:
    assert load_profile("M365").name == "m365"


def test_m365_expected_values() -> None:
    p = load_profile("m365")
    assert pattern_matches(p.mx[0], "contoso.com", "contoso-com.mail.protection.outlook.com")
    assert p.spf_includes == ["spf.protection.outlook.com"]
    assert p.autodiscover_cname == "autodiscover.outlook.com"
    assert p.owa_url == "https://outlook.office.com/owa/"
    assert [d.selector for d in p.dkim] == ["selector1", "selector2"]


@pytest.mark.parametrize(
    "target",
    [
        "selector1-contoso-com._domainkey.contoso.onmicrosoft.com",  # the older documented shape
        "selector1-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft",  # the newer one
        "SELECTOR1-contoso-com._domainkey.fabrikam.r-v1.dkim.mail.microsoft.",
    ],
)
def test_m365_dkim_accepts_both_documented_shapes(target: str) -> None:
    spec = load_profile("m365").dkim[0]
    assert any(pattern_matches(p, "contoso.com", target) for p in spec.cname)


@pytest.mark.parametrize(
    ("domain", "host"),
    [
        ("contoso.com", "contoso-com.mail.protection.outlook.com"),
        ("maxx-express.com", "maxxexpress-com01b.mail.protection.outlook.com"),  # the token of a hyphenated domain
        ("maxx-express.com", "maxx-express-com.mail.protection.outlook.com"),
        ("contoso.com", "contoso-com.j-v1.mx.microsoft"),  # the DNSSEC-capable shape, new domains from July 2026
        ("contoso.com", "contoso-com01c.a-v1.mx.microsoft"),
    ],
)
def test_m365_accepts_the_mx_tokens_the_admin_centre_gives(domain: str, host: str) -> None:
    assert any(pattern_matches(p, domain, host) for p in load_profile("m365").mx)


@pytest.mark.parametrize(
    "host",
    ["fabrikam-com.mail.protection.outlook.com", "contoso-com.mail.protection.outlook.com.evil.example",
     "contoso-com.mx.microsoft", "mail.contoso.com"],
)
def test_m365_rejects_other_mx_hosts(host: str) -> None:
    assert not any(pattern_matches(p, "contoso.com", host) for p in load_profile("m365").mx)


@pytest.mark.parametrize(
    ("domain", "target"),
    [
        ("jasonshadow.com", "selector1-exclusive-jasonshadow-com03i._domainkey.jasonshadow.onmicrosoft.com"),
        ("maxx-express.com", "selector1-maxxexpress-com01b._domainkey.maxx.y-v1.dkim.mail.microsoft"),
    ],
)
def test_m365_dkim_accepts_targets_with_extra_text(domain: str, target: str) -> None:
    spec = load_profile("m365").dkim[0]
    assert any(pattern_matches(p, domain, target) for p in spec.cname)


@pytest.mark.parametrize(
    "target",
    [
        "selector1-contoso-com._domainkey.contoso.onmicrosoft.com.evil.example",
        "selector1-fabrikam-com._domainkey.contoso.onmicrosoft.com",
        "selector2-contoso-com._domainkey.contoso.onmicrosoft.com",
        "selector1-contoso-com._domainkey.a.b.onmicrosoft.com",  # {tenant} is one label only
    ],
)
def test_m365_dkim_rejects_other_targets(target: str) -> None:
    spec = load_profile("m365").dkim[0]
    assert not any(pattern_matches(p, "contoso.com", target) for p in spec.cname)


@pytest.mark.parametrize("host", ["aspmx4.googlemail.com", "aspmx5.googlemail.com", "smtp.google.com"])
def test_google_accepts_its_older_and_newer_mx_hosts(host: str) -> None:
    assert any(pattern_matches(p, "contoso.com", host) for p in load_profile("google").mx)


def test_google_dkim_prefix_may_be_chosen_by_the_admin() -> None:
    assert load_profile("google").dkim[0].renamable is True


def test_google_mx_set_and_dkim_txt() -> None:
    p = load_profile("google")
    assert "smtp.google.com" in p.mx and "aspmx.l.google.com" in p.mx
    assert p.dkim[0].selector == "google" and p.dkim[0].cname == []
    assert p.spf_includes == ["_spf.google.com"]
    assert p.owa_url == "https://mail.google.com/"


def test_wildcards_are_known() -> None:
    assert has_wildcards("x.{tenant}.onmicrosoft.com")
    assert not has_wildcards("{domain_dashed}.mail.protection.outlook.com")


def test_none_means_no_profile() -> None:
    assert resolve_profile(None) is None
    assert resolve_profile("none") is None
    assert resolve_profile(" None ") is None


PARTNER = """
description = "Example Hosting"
mx = ["mx1.hosting.example", "mx2.hosting.example"]
spf_includes = ["spf.hosting.example"]
sending_ips = ["127.0.0.0/8"]
autodiscover_cname = "autodiscover.hosting.example"
owa_url = "https://webmail.hosting.example/owa/"

[[dkim]]
selector = "hx1"
cname = ["hx1.{domain_dashed}.dkim.hosting.example"]
"""


def test_partner_profile_from_file(tmp_path: Path) -> None:
    path = tmp_path / "hosting.toml"
    path.write_text(PARTNER, encoding="utf-8")
    profile = load_profile(str(path))
    assert profile.name == "hosting"  # from the file name when the file has none
    assert pattern_matches(profile.dkim[0].cname[0], "contoso.com", "hx1.contoso-com.dkim.hosting.example")


def _write(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "p.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


@pytest.mark.parametrize(
    "text, words",
    [
        ("mx = [", "not valid TOML"),
        ('mx = ["a.example"]\nmx_hosts = ["b"]', "unknown key 'mx_hosts'"),
        ('[[dkim]]\nselector = "s1"\ntarget = "x"', "unknown key 'dkim.0.target'"),
        ('owa_url = "http://owa.example/"', "https://"),
        ('mx = ["{customer}.mail.example"]', "unknown placeholder {customer}"),
        ('mx = ["bad host!"]', "not a host name pattern"),
        ('sending_ips = ["300.1.1.1"]', "not an IP address"),
        ("mx = 5", "mx"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_profile_files_are_clear_errors(tmp_path: Path, text, words: str) -> None:
    with pytest.raises(BadInput) as info:
        load_profile(_write(tmp_path, text))
    assert words in info.value.message


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(BadInput, match="Unknown profile 'office'.*m365, google"):
        load_profile("office")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        load_profile(str(tmp_path / "nope.toml"))
    with pytest.raises(BadInput, match="is a folder"):
        load_profile(str(tmp_path) + "/")


def test_empty_name() -> None:
    with pytest.raises(BadInput, match="empty"):
        load_profile("  ")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_toml_text_gives_a_profile_or_bad_input(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("p") / "any.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))  # lone surrogates make it invalid UTF-8
    try:
        assert isinstance(load_profile(str(path)), Profile)
    except BadInput:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_pattern_matching_never_raises(pattern: str, host: str) -> None:
    assert pattern_matches(pattern, "contoso.com", host) in (True, False)
