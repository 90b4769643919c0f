"""SPF (RFC 7208), one module a concern:

- `record`: the record parser (`parse_record`, `SpfRecord`, `SpfSyntaxError`) and `txt_value`;
- `macros`: macro-strings (§7), parsed and expanded;
- `evaluate`: `check_host()`, the RFC 7208 evaluator for one client address;
- `tree`: the include/redirect tree walked without a client address (`spf_tree`);
- `findings`: the `spf` check (`check_spf`) and its findings.

The names below are the package's API; import them from `threer.checks.spf`.
"""

from threer.checks.spf.evaluate import SpfResult, check_host, domain_is_valid, select_spf_record
from threer.checks.spf.findings import CHECK, FINDING_IDS, check_spf
from threer.checks.spf.macros import Macro, MacroString, parse_macro_string
from threer.checks.spf.record import (
    DEFAULT_TTL,
    LOOKUP_LIMIT,
    NAME_LIMIT,
    VOID_LIMIT,
    Mechanism,
    Modifier,
    SpfRecord,
    SpfSyntaxError,
    is_spf_record,
    parse_record,
    txt_value,
)
from threer.checks.spf.tree import SpfNode, spf_tree

__all__ = [
    "CHECK", "DEFAULT_TTL", "FINDING_IDS", "LOOKUP_LIMIT", "NAME_LIMIT", "VOID_LIMIT", "Macro", "MacroString",
    "Mechanism", "Modifier", "SpfNode", "SpfRecord", "SpfResult", "SpfSyntaxError", "check_host", "check_spf",
    "domain_is_valid", "is_spf_record", "parse_macro_string", "parse_record", "select_spf_record", "spf_tree",
    "txt_value",
]
