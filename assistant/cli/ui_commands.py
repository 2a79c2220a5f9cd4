"""``assistant ui``: serve the Gradio app (chat, library, digests, status) on the configured store.

Examples::

    assistant ui                                  # http://127.0.0.1:7860
    assistant --store store ui --port 8080
    assistant ui --host 0.0.0.0 --auth alice:s3cret
"""

from __future__ import annotations

import click

from assistant.cli.base import cli, err_console, plain, settings_of
from assistant.cli.options import provider_option
from assistant.settings import safe_url


@cli.command()
@click.option("--host", help="Interface to bind (default: ui.host, 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default: ui.port, 7860).")
@click.option(
    "--auth",
    metavar="USER:PASS",
    help="Protect every page and API route with this login (or set ASSISTANT_UI__AUTH).",
)
@click.option("--share", is_flag=True, default=None, help="Also open a public gradio.live link.")
@provider_option
@click.pass_context
def ui(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    auth: str | None,
    share: bool | None,
    provider: str | None,
) -> None:
    """Open the app: cited chat over the papers, the library, and the system status.

    \b
    Examples:
      assistant ui
      assistant --store store ui --port 8080
      assistant ui --host 0.0.0.0 --auth alice:s3cret
    """
    settings = settings_of(ctx).with_overrides(
        **{
            "ui.host": host,
            "ui.port": port,
            "ui.auth": auth,
            "ui.share": share,
            "llm.provider": provider,
        }
    )
    # Gradio takes seconds to import: only this command pays for it.
    from assistant.ui.app import auth_pair, bind_warning, launch

    warning = bind_warning(settings.ui.host, auth_pair(settings) is not None)
    if warning:
        err_console.print(f"[bold yellow]warning:[/] {plain(warning)}", highlight=False)
    if settings.ui.share and auth_pair(settings) is None:
        err_console.print(
            "[bold yellow]warning:[/] --share makes the app public on the internet; "
            "add --auth user:password.",
            highlight=False,
        )
    err_console.print(
        f"Papers assistant on http://{settings.ui.host}:{settings.ui.port} "
        f"(store: {plain(safe_url(settings.chroma_url or '') or settings.store_dir)}, "
        f"llm: {plain(settings.llm.provider)})",
        highlight=False,
    )
    launch(settings)
