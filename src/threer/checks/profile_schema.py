"""A profile file read by pydantic: what threer.checks.profiles does not read itself.

threer.checks.profiles reads a profile file whose keys all have their exact TOML types and valid values
without pydantic (the built-in profiles, nearly every partner file). Anything else comes here: pydantic
converts what it converts (`renamable = 1`), and a bad file gets its error in the words threer has always
given ("unknown key 'dkim.0.target'", "a bad value: mx: must be a list"). The checks of each value are the
profiles module's own, so both ways give the same profile; tests/checks/test_profiles.py compares them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from threer.checks import profiles
from threer.errors import BadInput, describe_validation_error


class DkimSelectorSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    selector: str
    cname: list[str] = Field(default_factory=list)
    renamable: bool = False

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        return profiles.check_selector(value)

    @field_validator("cname")
    @classmethod
    def _cnames(cls, value: list[str]) -> list[str]:
        return [profiles._check_pattern(v) for v in value]


class RecogniseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mx: list[str] | None = None
    spf_includes: list[str] | None = None
    autodiscover: list[str] | None = None

    @field_validator("mx", "spf_includes", "autodiscover")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [profiles._check_pattern(v) for v in value]


class ProfileSchema(BaseModel):
    """The keys of threer.checks.profiles.Profile, with the same defaults and checks."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    mx: list[str] = Field(default_factory=list)
    spf_includes: list[str] = Field(default_factory=list)
    sending_ips: list[str] = Field(default_factory=list)
    autodiscover_cname: str | None = None
    autodiscover_srv: str | None = None
    dkim: list[DkimSelectorSchema] = Field(default_factory=list)
    dkim_selectors: list[str] = Field(default_factory=list)
    owa_url: str | None = None
    admin_centre: str = ""
    recognise: RecogniseSchema = Field(default_factory=RecogniseSchema)

    @field_validator("dkim_selectors")
    @classmethod
    def _selectors(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(profiles.check_selector(v) for v in value))

    @field_validator("mx", "spf_includes")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return [profiles._check_pattern(v) for v in value]

    @field_validator("autodiscover_cname", "autodiscover_srv")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        return profiles._optional_pattern(value)

    @field_validator("sending_ips")
    @classmethod
    def _ips(cls, value: list[str]) -> list[str]:
        return profiles._check_ips(value)

    @field_validator("owa_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return profiles._check_owa_url(value)


def read_profile(raw: dict[str, Any], where: str) -> profiles.Profile:
    """The profile in `raw` (a profile file's TOML), or BadInput naming the first thing wrong in it."""
    try:
        schema = ProfileSchema.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["type"] == "extra_forbidden":
            key = ".".join(str(p) for p in err["loc"])
            raise BadInput(
                f"The {where} has an unknown key {key!r}. Known keys: {', '.join(profiles.profile_keys())}."
            ) from None
        raise BadInput(f"The {where} has a bad value: {describe_validation_error(exc)}.") from None
    return profiles.Profile(**schema.model_dump())
