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


# -- read without pydantic, and with it: the same profile or the same error ------------------------


def _both_ways(raw: dict) -> tuple[object, object]:
    """(what threer.checks.profiles reads itself or None, what the pydantic schema reads or its BadInput)."""
    import copy

    from threer.checks.profile_schema import read_profile
    from threer.checks.profiles import _plain_profile

    plain = _plain_profile(copy.deepcopy(raw))
    try:
        schema: object = read_profile(copy.deepcopy(raw), "profile file p.toml")
    except BadInput as exc:
        schema = exc
    return plain, schema


def test_the_schema_has_the_profiles_keys_and_defaults() -> None:
    import dataclasses

    from threer.checks.profile_schema import DkimSelectorSchema, ProfileSchema, RecogniseSchema
    from threer.checks.profiles import DkimSelector, Recognise

    for data, schema in ((Profile, ProfileSchema), (DkimSelector, DkimSelectorSchema), (Recognise, RecogniseSchema)):
        assert [f.name for f in dataclasses.fields(data)] == list(schema.model_fields), data
        for f in dataclasses.fields(data):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            model_default = schema.model_fields[f.name].get_default(call_default_factory=True)
            if dataclasses.is_dataclass(default):
                default = dataclasses.asdict(default)
                model_default = model_default.model_dump()
            if default is not dataclasses.MISSING:
                assert default == model_default, f.name


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_builtin_profiles_read_the_same_both_ways(name: str) -> None:
    import tomllib
    from importlib import resources

    raw = tomllib.loads(resources.files("threer.checks").joinpath("profiles", f"{name}.toml").read_text("utf-8"))
    raw["name"] = name
    plain, schema = _both_ways(raw)
    assert plain is not None and plain == schema


_PATTERN = st.sampled_from(["Mail.Example.", "{domain}.mx.example", "{tenant}.x.example", "bad host!", "{nope}.x", ""])
_VALUE = st.one_of(st.text(max_size=8), st.booleans(), st.integers(-2, 2), st.lists(_PATTERN, max_size=3),
                   st.lists(st.sampled_from(["127.0.0.1", "127.0.0.0/8", " ::1 ", "300.1.1.1", "S1", "s 1"]), max_size=3),
                   st.sampled_from(["https://owa.example/", "http://owa.example/", " https://x.example "]))
_DKIM = st.fixed_dictionaries({"selector": st.sampled_from(["s1", "S2", "bad one", 5])},
                              optional={"cname": st.lists(_PATTERN, max_size=2), "renamable": st.sampled_from([True, 1, "yes"]),
                                        "target": st.just("x")})
_RAW = st.fixed_dictionaries({"name": st.sampled_from(["p", 5])}, optional={
    key: _VALUE for key in ("description", "admin_centre", "mx", "spf_includes", "sending_ips", "dkim_selectors",
                            "autodiscover_cname", "autodiscover_srv", "owa_url", "mx_hosts")
} | {"dkim": st.lists(_DKIM, max_size=2),
     "recognise": st.dictionaries(st.sampled_from(["mx", "spf_includes", "autodiscover", "other"]),
                                  st.one_of(st.lists(_PATTERN, max_size=2), st.just("x")), max_size=3)})


@settings(max_examples=400, deadline=None)
@given(_RAW)
def test_a_profile_read_without_pydantic_is_the_one_pydantic_reads(raw: dict) -> None:
    plain, schema = _both_ways(raw)
    if plain is not None:  # read without pydantic: exactly what pydantic reads
        assert plain == schema
    else:  # left to pydantic: a profile (a value converted) or its BadInput
        assert isinstance(schema, (Profile, BadInput))
