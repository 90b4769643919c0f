"""`threer config`: partner details, default profile, KB folders, business hours."""

from __future__ import annotations

from typing import Optional

import tomli_w
import typer

from threer.cli.app import app_context
from threer.cli.output import emit_exact, emit_json, is_interactive, stderr_console
from threer.errors import BadInput

config_app = typer.Typer(
    help="Partner details and defaults, kept in a TOML file (THREER_CONFIG).\n\n"
         "Example:\n\n  threer config set partner.domain partner.example",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


@config_app.command("show")
def show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Show the config in effect and where it lives.

    Example: threer config show
    """
    from threer.config import load_config

    env = app_context(ctx).env
    config = load_config(env.config_path)
    data = config.model_dump(mode="json")
    if as_json:
        emit_json({"version": 1, "path": str(env.config_path), "config": data})
        return
    stderr_console().print(f"# {env.config_path}{'' if env.config_path.exists() else ' (not written yet: defaults)'}",
                           markup=False)
    emit_exact(tomli_w.dumps(_drop_none(data)))


@config_app.command("set")
def set_value(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="A dotted key, e.g. partner.domain or business_hours.timezone."),
    value: str = typer.Argument(..., help="The value; lists comma-separated; 'none' clears."),
) -> None:
    """Set one config value, validated, and save it: only that key's line changes; the file's
    comments and layout stay.

    Examples:

      threer config set partner.support_address escalations@provider.example

      threer config set business_hours.holidays 2026-12-25,2026-12-26
    """
    from threer.config import load_config, save_config_change, set_config_value

    env = app_context(ctx).env
    before = load_config(env.config_path)
    config = set_config_value(before, key, value)
    kept = save_config_change(before, config, env.config_path)
    stderr_console().print(f"Saved {key} in {env.config_path}." + (
        "" if kept else " The file was written anew (this key's layout could not be edited in place): "
                        "its comments are gone."), markup=False)


@config_app.command("init")
def init(
    ctx: typer.Context,
    partner_domain: Optional[str] = typer.Option(None, "--partner-domain", help="Your partner domain."),
    control_panel_url: Optional[str] = typer.Option(None, "--control-panel-url", help="Your Control Panel URL, or 'none'."),
    support_address: Optional[str] = typer.Option(None, "--support-address", help="The provider's escalation address."),
    technician: Optional[str] = typer.Option(None, "--technician", help="Your name, for tickets."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Default provider profile (auto, m365, google, a TOML path, none)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config file."),
) -> None:
    """Write a config file: asks on a terminal, or takes every value from the options.

    Example:

    \b
      threer config init --partner-domain partner.example \\
        --control-panel-url none --support-address escalations@provider.example
    """
    from threer.config import Config, load_config, save_config, set_config_value

    env = app_context(ctx).env
    if env.config_path.exists() and not force:
        raise BadInput(f"{env.config_path} exists already. Change values with `threer config set`, or add --force.")
    values = {"partner.domain": partner_domain, "partner.control_panel_url": control_panel_url,
              "partner.support_address": support_address, "partner.technician": technician, "default_profile": profile}
    interactive = is_interactive()
    if not interactive and all(v is None for v in values.values()):
        # an empty file would be written and every later ticket refused for want of partner details
        raise BadInput("Nothing to write: give the values as options (--partner-domain, --control-panel-url, "
                       "--support-address, and --technician or --profile if wanted), or run `threer config init` "
                       "on a terminal to be asked for them.")
    if any(v is None for k, v in values.items() if k != "partner.technician") and interactive:
        import questionary

        for key, question in [("partner.domain", "Your partner domain"),
                              ("partner.control_panel_url", "Your Control Panel URL (none if you have none)"),
                              ("partner.support_address", "The provider's support address for escalations"),
                              ("partner.technician", "Your name (optional)"),
                              ("default_profile", "Default provider profile (auto, m365, google, a TOML path, none)")]:
            if values[key] is None:
                values[key] = questionary.text(question, default="auto" if key == "default_profile" else "").unsafe_ask()
    config = load_config(env.config_path) if env.config_path.exists() else Config()
    for key, value in values.items():
        if value is None or (value == "" and key == "partner.technician"):
            continue
        if key == "partner.control_panel_url" and value.strip().lower() in {"none", "", "n/a"}:
            config = set_config_value(config, "partner.control_panel_na", "true")
            config = set_config_value(config, key, "none")
            continue
        config = set_config_value(config, key, value)
    save_config(config, env.config_path)
    missing = config.missing_partner_details()
    note = f" Still missing: {', '.join(missing)}." if missing else ""
    stderr_console().print(f"Wrote {env.config_path}.{note}", markup=False)


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value
