"""Options and helpers shared by the CLI commands (check, audit, demo, ...).

Conventions (as in most Unix tools): data on stdout, progress and diagnostics on stderr;
exit 0 success, 1 completed but not everything allowed / failures recorded, 2 usage error.
Bad input is a one-line ``Error: ...`` with exit 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..types import MODES, PURPOSES

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_AGENT = "tdmscan"


class UsageFailure(click.ClickException):
    """A clear one-line error with exit status 2 (click's own usage errors use 2 as well)."""

    exit_code = 2


def fail(message: str) -> UsageFailure:
    return UsageFailure(message)


def stdout_console(*, no_color: bool = False) -> Any:
    from rich.console import Console

    # soft_wrap: long lines (paths, commands to copy) are never broken mid-word.
    return Console(no_color=no_color or None, soft_wrap=True)


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _agents_callback(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    out: list[str] = []
    for v in value:
        # "--agent GPTBot,CCBot" is accepted as well as repeating the option.
        for a in v.split(","):
            a = a.strip()
            if not a:
                continue
            if any(ch.isspace() for ch in a) or "/" in a:
                raise click.BadParameter(f"{a!r} is not a product token (no spaces or '/')")
            if a.lower() not in (x.lower() for x in out):
                out.append(a)
    return tuple(out) or (DEFAULT_AGENT,)


def agent_options(f: F) -> F:
    """--agent (repeatable, first = own token), --mode, --purpose."""
    f = click.option(
        "--purpose",
        type=click.Choice(PURPOSES),
        default="train-ai",
        show_default=True,
        help="Use the content is checked for.",
    )(f)
    f = click.option(
        "--mode",
        type=click.Choice(MODES),
        default="conservative",
        show_default=True,
        help="conservative: a disallow aimed at a training token reserves training; "
        "strict: recorded, not decided on.",
    )(f)
    f = click.option(
        "--agent",
        "-a",
        "agents",
        multiple=True,
        callback=_agents_callback,
        metavar="TOKEN",
        help="Product token to decide for; repeatable. The first is the crawler's own token "
        f"[default: {DEFAULT_AGENT}].",
    )(f)
    return f


def _positive(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value <= 0:
        raise click.BadParameter("must be positive")
    return value


def fetch_options(default_timeout: float = 15.0) -> Callable[[F], F]:
    """--timeout, --ttl, --user-agent, --allow-private."""

    def deco(f: F) -> F:
        f = click.option(
            "--allow-private",
            is_flag=True,
            help="Allow fetching from private, loopback and link-local addresses.",
        )(f)
        f = click.option(
            "--user-agent",
            metavar="STRING",
            default=None,
            help="User-Agent header sent with every fetch [default: tdmscan/<version> (+url)].",
        )(f)
        f = click.option(
            "--ttl",
            type=float,
            default=None,
            callback=_positive,
            metavar="SECONDS",
            help="How long fetched origin files stay fresh in the cache [default: 86400].",
        )(f)
        f = click.option(
            "--timeout",
            type=float,
            default=default_timeout,
            show_default=True,
            callback=_positive,
            metavar="SECONDS",
            help="Deadline for each fetch (connect, redirects and body).",
        )(f)
        return f

    return deco


def quiet_option(f: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="No progress and no summary.")(f)


def open_ledger(
    path: str | os.PathLike[str], *, create: bool = True, allow_damaged: bool = False
) -> Any:
    """The ledger at ``path`` to write to, or a usage error naming why it cannot be opened.

    A folder that already holds other files and is not a ledger is refused: turning it into
    one would mix the ledger with unrelated files (and a typo in --ledger would go unseen).
    A ledger with damaged segments, or whose last verification failed, is refused unless
    ``allow_damaged``.
    """
    from ..ledger import Ledger, LedgerDamaged
    from ..ledger.storage import LedgerLocationError, is_object_uri

    p = os.fspath(path)
    if is_object_uri(p):
        return open_object_ledger(p, create=create)
    if os.path.exists(p) and not os.path.isdir(p):
        raise fail(f"--ledger {p}: not a directory")
    try:
        if create and os.path.isdir(p) and os.listdir(p):
            try:
                Ledger(p, create=False)
            except FileNotFoundError:
                raise fail(
                    f"--ledger {p}: the folder is not empty and is not a tdmscan ledger; "
                    "give a new or empty folder, or an existing ledger"
                ) from None
        led = Ledger(p, create=create, allow_damaged=allow_damaged)
        led.check_writable()
        return led
    except LedgerDamaged as exc:
        raise fail(str(exc)) from exc
    except LedgerLocationError as exc:
        raise fail(f"--ledger {exc}") from exc
    except FileNotFoundError as exc:
        raise fail(f"--ledger {p}: {exc}") from exc
    except PermissionError as exc:
        raise fail(f"--ledger {p}: permission denied ({exc.filename or p})") from exc
    except OSError as exc:
        raise fail(f"--ledger {p}: {exc.strerror or exc}") from exc


def open_object_ledger(uri: str, *, create: bool) -> Any:
    """An s3://, gs:// or az:// ledger, or one line saying why it cannot be used.

    Whatever the client library raises (no credentials, unknown endpoint, missing bucket,
    denied access) becomes a usage error naming the URI: never a traceback, never a fallback
    to a local folder.
    """
    from ..ledger import Ledger
    from ..ledger.storage import LedgerLocationError

    try:
        return Ledger(uri, create=create)
    except LedgerLocationError as exc:
        raise fail(f"--ledger {exc}") from None
    except FileNotFoundError as exc:
        raise fail(f"--ledger {uri}: {exc}") from None
    except Exception as exc:  # botocore/aiohttp/google-auth errors have no common base
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise fail(f"--ledger {uri}: cannot use the object store ({msg})") from None


def allow_damaged_option(f: F) -> F:
    return click.option(
        "--allow-damaged",
        is_flag=True,
        help="Append to the ledger even though a segment is damaged or its last "
        "`tdmscan ledger verify` failed (see `tdmscan ledger repair`).",
    )(f)


def _apply_key(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Make ``--key FILE`` the signing key of every chain entry this command writes.

    Set as ``TDMSCAN_LEDGER_KEY`` so that child processes that write the ledger sign too, and
    put back when the command ends (commands run in-process by tests or other tools).
    """
    if not value:
        return
    from ..ledger.signing import KEY_ENV, KeyError_, load_signer

    try:
        load_signer(value)
    except KeyError_ as exc:
        raise click.BadParameter(str(exc), param_hint="'--key'") from None
    old = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = os.path.abspath(value)

    def restore() -> None:
        if old is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = old

    ctx.call_on_close(restore)


key_option = click.option(
    "--key",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=str),
    expose_value=False,
    is_eager=True,
    callback=_apply_key,
    help="Sign every ledger chain entry written with this Ed25519 key (tdmscan ledger "
    "keygen) [env: TDMSCAN_LEDGER_KEY].",
)


def _exclude_lists_callback(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> list[Any]:
    from ..signals.exclusions import ExclusionError, load_exclusion_list

    out = []
    for path in value:
        try:
            out.append(load_exclusion_list(path))
        except ExclusionError as exc:
            raise fail(str(exc)) from None
    return out


def exclude_list_option(f: F) -> F:
    """``--exclude-list FILE.csv`` (repeatable): infringing-site lists besides the shipped one."""
    return click.option(
        "--exclude-list",
        "exclude_lists",
        multiple=True,
        type=click.Path(dir_okay=False),
        callback=_exclude_lists_callback,
        metavar="FILE.csv",
        help="A list of websites never to ingest (CSV: domain,source,date), besides the shipped "
        "infringing-site list; repeatable. A URL on a listed domain (or a subdomain) is reserved "
        "with access:listed-infringing, its site is not contacted, and the evidence names the "
        "list and its version.",
    )(f)
