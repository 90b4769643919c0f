"""The system's name servers read from resolv.conf without dnspython, as dnspython reads the file."""

from __future__ import annotations

from pathlib import Path

import dns.resolver
import pytest

from threer.checks.resolver import _resolv_conf_nameservers


def dnspython_reading(path: Path) -> list[str]:
    try:
        return [str(s) for s in dns.resolver.Resolver(filename=str(path), configure=True).nameservers]
    except dns.resolver.NoResolverConfiguration:
        return []


@pytest.mark.parametrize("text", [
    "nameserver 127.0.0.53\n",
    "# a comment\n; another\nsearch lab.example corp.example\noptions edns0 trust-ad ndots:2 timeout:x\n"
    "nameserver 127.0.0.1\nnameserver ::1\nnameserver 127.0.0.1\n",
    "domain lab.example\r\nnameserver 127.0.0.2 # trailing words\r\n",
    "nameserver\n  nameserver 127.0.0.3\n",  # a nameserver line without an address is skipped
    "search lab.example\n",  # no name server at all
    "",
])
def test_a_plain_file_gives_dnspythons_name_servers(tmp_path: Path, text: str) -> None:
    path = tmp_path / "resolv.conf"
    path.write_bytes(text.encode())
    assert _resolv_conf_nameservers(str(path)) == dnspython_reading(path)


@pytest.mark.parametrize("text", [
    "nameserver ::1%lo\n", "nameserver https://127.0.0.1/dns-query\n", "nameserver localhost\n",
    "search bad\\name.example\nnameserver 127.0.0.1\n", "domain " + "x" * 70 + ".example\nnameserver 127.0.0.1\n",
])
def test_what_is_not_plain_is_left_to_dnspython(tmp_path: Path, text: str) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(text, encoding="utf-8")
    assert _resolv_conf_nameservers(str(path)) is None


def test_a_file_that_cannot_be_read_names_no_server(tmp_path: Path) -> None:
    assert _resolv_conf_nameservers(str(tmp_path / "missing.conf")) == []
    (tmp_path / "latin1.conf").write_bytes(b"# caf\xe9\nnameserver 127.0.0.1\n")
    assert _resolv_conf_nameservers(str(tmp_path / "latin1.conf")) is None  # dnspython's own reading
