"""The `vt-contact` command: serve, agent add/list/disable/enable/reset-password/set-role/
set-teams/reset-2fa/encrypt-2fa, db upgrade, cases retry/discard, privacy purge/report, keys rotate, audit verify/purge,
backup, restore (see docs/operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import json
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from contact.settings import Settings

if TYPE_CHECKING:
    from cases.service import CaseRegister

T = TypeVar("T")

DEMO_AGENTS = (
    ("anna", "Anna de Vries", "advisor", ["jeugd", "volwassenen"]),
    ("bram", "Bram Jansen", "advisor", ["volwassenen", "professionals"]),
    ("chris", "Chris Bakker", "crisis", ["crisis", "volwassenen"]),
    ("sanne", "Sanne Visser", "supervisor", ["jeugd", "volwassenen", "professionals", "crisis"]),
    ("ada", "Ada Smit", "admin", ["jeugd", "volwassenen", "professionals", "crisis"]),
)
ROLE_CHOICES = ("advisor", "crisis", "supervisor", "admin", "privacy_officer")
_TEAM = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


def _cli_actor() -> dict[str, str | None]:
    """Who changed an account from the command line, for the access log: the OS user (the one
    behind sudo where known), or nobody named when the system cannot tell."""
    import os

    try:
        user: str | None = os.environ.get("SUDO_USER") or getpass.getuser()
    except (OSError, KeyError):
        user = None
    return {"actor": "cli", "os_user": user}


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        key: value
        for key in ("host", "port", "database_url", "redis_url")
        if (value := getattr(args, key, None)) is not None
    }
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SystemExit(f"invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None


def _with_register(args: argparse.Namespace, use: Callable[[CaseRegister], Awaitable[T]]) -> T:
    """Run `use` with the case register of the configured database, then close it."""
    from app.services import case_register
    from contact.clock import SystemClock
    from contact.db import Database

    settings = _settings(args)

    async def run() -> T:
        db = Database(settings.database_url)
        try:
            return await use(case_register(settings, db, SystemClock()))
        finally:
            await db.dispose()

    return asyncio.run(run())


def cmd_cases_retry(args: argparse.Namespace) -> int:
    """Send the dead-lettered handoffs again."""
    count = _with_register(args, lambda register: register.retry_dead())
    print(f"{count} handoff(s) queued for delivery again")
    return 0


async def _hash_key(settings: Settings, db: object) -> bytes:
    """The key of the contact hashes (and of the access log's checkpoint), as the servers build it:
    configured, or under `--demo` the one kept in the database."""
    from app.services import hash_keys
    from contact.db import Database
    from contact.keys import stored_key

    keys = hash_keys(settings)
    if keys.contact_hash:
        return keys.contact_hash
    assert isinstance(db, Database)
    return await stored_key(db, "contact_hash")


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Walk the access log's hash chain; exit 0 only when it is intact."""
    from contact.access_log import verify
    from contact.db import Database

    settings = _settings(args)

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            verdict = await verify(db, await _hash_key(settings, db))
        finally:
            await db.dispose()
        if verdict.ok:
            print(f"access log intact: {verdict.entries} entries")
            return 0
        print(
            f"access log BROKEN at entry {verdict.first_broken}: {verdict.problem} "
            f"({verdict.entries} entries before it verified)",
            file=sys.stderr,
        )
        return 1

    return asyncio.run(run())


def cmd_audit_purge(args: argparse.Namespace) -> int:
    """Delete access-log entries older than VT_ACCESS_LOG_RETENTION_DAYS, keeping a signed checkpoint."""
    from contact.access_log import AccessLog
    from contact.clock import SystemClock
    from contact.db import Database
    from contact.keys import Keys

    settings = _settings(args)

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            log = AccessLog(db, SystemClock(), Keys(await _hash_key(settings, db)))
            return await log.purge(settings.access_log_retention_days)
        finally:
            await db.dispose()

    count = asyncio.run(run())
    print(f"{count} access-log entries older than {settings.access_log_retention_days:g} days purged")
    return 0


def cmd_cases_discard(args: argparse.Namespace) -> int:
    """Give up on one dead-lettered handoff: its payload goes at once, with an audit entry."""
    if not _with_register(args, lambda register: register.discard(args.handoff_id, actor="cli")):
        print(f"no dead-lettered handoff {args.handoff_id}", file=sys.stderr)
        return 1
    print(f"handoff {args.handoff_id} discarded; its payload is deleted")
    return 0


def cmd_privacy_purge(args: argparse.Namespace) -> int:
    """Purge now whatever has passed its retention time (the scheduler does it too)."""
    count = _with_register(args, lambda register: register.purge_due(limit=100_000))
    print(f"{count} contact(s) and handoff(s) purged")
    return 0


def cmd_privacy_report(args: argparse.Namespace) -> int:
    """What is stored now, counts only, and what the next purge removes."""
    print(json.dumps(_with_register(args, lambda register: register.report()), indent=2, sort_keys=True))
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Make every stored contact hash again with the new key (VT_HASH_KEY, old in VT_HASH_KEY_OLD)."""
    from app.rotation import rotate_hash_keys
    from app.services import ConfigError, hash_keys
    from contact.clock import SystemClock
    from contact.db import Database

    settings = _settings(args)

    async def run() -> dict[str, int]:
        db = Database(settings.database_url)
        try:
            return await rotate_hash_keys(db, hash_keys(settings), SystemClock().now())
        finally:
            await db.dispose()

    try:
        done = asyncio.run(run())
    except (ConfigError, ValueError) as exc:
        print(f"vt-contact keys rotate: {exc}", file=sys.stderr)
        return 2
    print(f"{done['callbacks']} callback hash(es) made again, {done['hermelding_links']} repeat-report link(s) wrapped")
    if done["database_key_removed"]:
        print("the key kept in the database was removed")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from contact.migrate import upgrade

    settings = _settings(args)
    upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """A consistent copy of the database while servers run (SQLite backup API, or pg_dump -Fc)."""
    from pathlib import Path

    from contact.backup import BackupError, backup

    settings = _settings(args)
    try:
        kind = backup(settings.database_url, Path(args.path))
    except BackupError as exc:
        print(f"vt-contact backup: {exc}", file=sys.stderr)
        return 1
    print(f"backup ({kind}) written to {args.path} (readable by its owner only)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """A backup into an empty database (or any with --force), then `db upgrade`."""
    from pathlib import Path

    from contact.backup import BackupError, restore

    settings = _settings(args)
    try:
        kind = restore(settings.database_url, Path(args.path), force=args.force)
    except BackupError as exc:
        print(f"vt-contact restore: {exc}", file=sys.stderr)
        return 1
    print(f"backup ({kind}) restored from {args.path}; database schema is up to date")
    return 0


def cmd_agent_add(args: argparse.Namespace) -> int:
    from contact.access_log import Reader
    from contact.auth import AgentService, TokenSigner
    from contact.clock import SystemClock
    from contact.db import Database
    from contact.errors import DomainError

    for team in args.team:
        if not _TEAM.match(team):
            raise SystemExit(f"invalid team name {team!r}")
    if args.expertise:
        from routing.rules import DEFAULT_RULES, RoutingRules

        settings_for_rules = _settings(args)
        known = RoutingRules.load(settings_for_rules.routing_file or DEFAULT_RULES).expertise
        unknown = [e for e in args.expertise if e not in known]
        if unknown:
            raise SystemExit(f"unknown expertise {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 10:
        raise SystemExit("the password must be at least 10 characters")
    settings = _settings(args)

    async def run() -> int:
        db = Database(settings.database_url)
        try:
            agent = await AgentService(db, TokenSigner("unused-for-adding", 60)).add(
                username=args.username,
                name=args.name,
                role=args.role,
                teams=args.team,
                password=password,
                now=SystemClock().now(),
                expertise=args.expertise,
                reader=Reader(None, None),
                logged=_cli_actor(),
            )
        except DomainError as exc:
            print(f"could not add agent: {exc.code}", file=sys.stderr)
            return 1
        finally:
            await db.dispose()
        print(f"agent {agent.username} added (id {agent.id})")
        return 0

    return asyncio.run(run())


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 10:
        raise SystemExit("the password must be at least 10 characters")
    return password


def cmd_agent_list(args: argparse.Namespace) -> int:
    from contact.auth import AgentService, TokenSigner
    from contact.db import Database

    settings = _settings(args)

    async def run() -> list[dict[str, object]]:
        db = Database(settings.database_url)
        try:
            return await AgentService(db, TokenSigner("unused-for-listing", 60)).list_agents()
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    print(f"{'USERNAME':<24} {'ROLE':<16} {'ACTIVE':<7} {'2FA':<4} {'LAST LOGIN (UTC)':<17} {'TEAMS':<40} NAME")
    for r in rows:
        teams = ",".join(map(str, r["teams"]))  # type: ignore[call-overload]
        active = "yes" if r["active"] else "no"
        factor = "yes" if r["second_factor"] else "no"
        last = str(r["last_login"])[:16].replace("T", " ") if r["last_login"] else "never"
        print(f"{r['username']!s:<24} {r['role']!s:<16} {active:<7} {factor:<4} {last:<17} {teams:<40} {r['name']}")
    return 0


def cmd_agent_change(args: argparse.Namespace) -> int:
    """disable, enable, reset-password, set-role, set-teams, reset-2fa: one audited change, in
    the access log too (the OS user as actor); every one but enable ends the agent's sessions,
    and the servers let go of their sockets (at once through Redis when configured, else within
    VT_SESSION_CHECK_S). Disabling or demoting the last active admin needs `--force`."""
    from contact.access_log import Reader
    from contact.auth import AgentService, TokenSigner
    from contact.clock import SystemClock
    from contact.db import Database
    from contact.errors import DomainError

    command = args.agent_command
    password = _read_password() if command == "reset-password" else None
    if command == "set-teams":
        for team in args.teams:
            if not _TEAM.match(team):
                raise SystemExit(f"invalid team name {team!r}")
    settings = _settings(args)
    how = {"reader": Reader(None, None), "logged": _cli_actor(), "force": bool(getattr(args, "force", False))}

    async def run() -> int:
        db = Database(settings.database_url)
        service = AgentService(db, TokenSigner("unused-for-changes", 60, SystemClock()))
        if settings.redis_url:
            import redis.asyncio as aioredis

            client = aioredis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)

            async def signal(agent_id: str) -> None:
                await client.publish(f"{settings.redis_channel}:sessions-ended", agent_id)

            service.on_ended.append(signal)
        try:
            match command:
                case "disable":
                    await service.disable(args.username, "cli", **how)
                case "enable":
                    await service.enable(args.username, "cli", **how)
                case "reset-password":
                    assert password is not None
                    await service.reset_password(args.username, password, "cli", **how)
                case "set-role":
                    await service.set_role(args.username, args.role, "cli", **how)
                case "set-teams":
                    await service.set_teams(args.username, args.teams, "cli", **how)
                case "reset-2fa":
                    await service.reset_second_factor(args.username, "cli", **how)
        except DomainError as exc:
            hint = " (the last active admin: add --force to do it anyway)" if exc.code == "conflict" else ""
            print(f"could not change agent: {exc.code}{hint}", file=sys.stderr)
            return 1
        finally:
            await db.dispose()
            if settings.redis_url:
                await client.aclose()
        print(f"agent {args.username}: {command} done")
        return 0

    return asyncio.run(run())


def cmd_agent_encrypt_2fa(args: argparse.Namespace) -> int:
    """Seal every TOTP secret still stored in the clear (or under an old VT_SECRET_KEY) with the
    current key; exit 1 when some did not open (sealed with a key that is not configured)."""
    from app.services import load_secret_box, secret_box
    from contact.auth import AgentService, TokenSigner
    from contact.db import Database

    settings = _settings(args)

    async def run() -> dict[str, int]:
        db = Database(settings.database_url)
        try:
            box = await load_secret_box(secret_box(settings), db)
            return await AgentService(db, TokenSigner("unused-for-sealing", 60), box=box).seal_stored_secrets()
        finally:
            await db.dispose()

    done = asyncio.run(run())
    print(f"{done['sealed']} TOTP secret(s) sealed now, {done['current']} already sealed with the current key")
    if done["unreadable"]:
        print(
            f"{done['unreadable']} could not be opened: set the key they were sealed with in VT_SECRET_KEY_OLD, "
            "or reset those agents' second factor (agent reset-2fa)",
            file=sys.stderr,
        )
        return 1
    return 0


async def _ensure_demo_agents(settings: Settings) -> list[tuple[str, str, str, str]]:
    """Create or reset the demo agents with fresh passwords, and a TOTP secret for the roles
    that need a second factor; returns (username, password, role, secret or "")."""
    from app.services import load_secret_box, secret_box
    from contact.auth import AgentService, TokenSigner
    from contact.clock import SystemClock
    from contact.db import Database

    db = Database(settings.database_url)
    service = AgentService(db, TokenSigner("unused-for-demo", 60), box=await load_secret_box(secret_box(settings), db))
    credentials = []
    try:
        for username, name, role, teams in DEMO_AGENTS:
            password = secrets.token_urlsafe(9)
            agent_id = await service.upsert(
                username=username, name=name, role=role, teams=teams, password=password, now=SystemClock().now()
            )
            secret = ""
            if role in settings.totp_roles:
                secret = await service.demo_second_factor(agent_id)
            credentials.append((username, password, role, secret))
    finally:
        await db.dispose()
    return credentials


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (its socket I/O is faster), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def cmd_serve(args: argparse.Namespace) -> int:
    from app.bootstrap import ConfigError, create_app
    from contact.hours import HoursError
    from contact.logs import configure
    from contact.migrate import upgrade
    from contact.serving import run
    from contact.web import PrivateAccessLogger

    settings = _settings(args)
    # Only the flag makes a demo (a VT_DEMO variable does not): a demo may keep its hash key in
    # the database; a real server refuses to start without one.
    settings = settings.model_copy(update={"demo": bool(args.demo)})
    if args.demo and "chat_hours" not in settings.model_fields_set:
        # A demo should be tryable at any hour; set VT_CHAT_HOURS to see the real hours.
        settings = settings.model_copy(update={"chat_hours": "24/7"})
    if args.demo and "case_webhook_allow_http" not in settings.model_fields_set:
        # A demo may send its handoffs to a receiver on this machine.
        settings = settings.model_copy(update={"case_webhook_allow_http": True})
    configure(settings.log_level, settings.log_format)
    if args.migrate or args.demo:
        upgrade(settings.database_url)
    if args.demo:
        creds = asyncio.run(_ensure_demo_agents(settings))
        print(f"\nChat hours: {settings.chat_hours} (demo; VT_CHAT_HOURS sets real hours)", flush=True)
        print("Demo agents (log in at /console or POST /api/agent/login):", flush=True)
        for username, password, role, secret in creds:
            totp = f"  TOTP secret {secret} (add it to an authenticator app)" if secret else ""
            print(f"  {username:<8} {password:<14} {role:<11}{totp}".rstrip(), flush=True)
        print(flush=True)
    try:
        app = create_app(settings)
    except (ConfigError, HoursError) as exc:
        print(f"vt-contact cannot start: {exc}", file=sys.stderr)
        return 2
    print(f"vt-contact listening on http://{settings.host}:{settings.port}", flush=True)
    # What exists now (modules, tables, compiled statements) lives as long as the process: keep
    # it out of the collector's full passes (they paused the loop 60-120 ms every few seconds
    # under load), and let short-lived objects die young instead of reaching the old generation.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)
    try:
        # No client address in the access log (it can point to a household), no secret in paths.
        run(
            app,
            host=settings.host,
            port=settings.port,
            header_timeout=settings.header_timeout_s,
            shutdown_timeout=10,
            # An idle keep-alive connection is let go after 15 s (aiohttp's default is an hour).
            keepalive_timeout=15,
            loop=_event_loop(),
            access_log_class=PrivateAccessLogger,
        )
    except ConfigError as exc:
        print(f"vt-contact cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


def _command(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    func: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """A maintenance command that works on the database named by `--database-url` (or VT_DATABASE_URL)."""
    command = group.add_parser(name, help=text)
    command.add_argument("--database-url")
    command.set_defaults(func=func)
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vt-contact", description="Veilig Thuis chat, callbacks and handoff")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--database-url")
    serve.add_argument("--redis-url")
    serve.add_argument("--demo", action="store_true", help="create demo agents and print their passwords")
    serve.add_argument("--migrate", action="store_true", help="upgrade the database schema before starting")
    serve.set_defaults(func=cmd_serve)

    agent = sub.add_parser("agent", help="manage agents").add_subparsers(dest="agent_command", required=True)
    add = agent.add_parser("add", help="add an agent; the password is read from standard input")
    add.add_argument("username")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=list(ROLE_CHOICES))
    add.add_argument("--team", action="append", default=[])
    add.add_argument("--expertise", action="append", default=[], help="a code from the routing file's [expertise]")
    add.add_argument("--database-url")
    add.set_defaults(func=cmd_agent_add)

    listing = agent.add_parser("list", help="every agent with role, teams, status and second factor")
    listing.add_argument("--database-url")
    listing.set_defaults(func=cmd_agent_list)
    changes = {
        "disable": "disable an agent: every session and socket ends",
        "enable": "enable a disabled agent",
        "reset-password": "set a new password (read from standard input); sessions end",
        "set-role": "change the role; sessions end",
        "set-teams": "change the teams; sessions end",
        "reset-2fa": "remove the second factor (enrolled again at the next login); sessions end",
    }
    for name, text in changes.items():
        change = agent.add_parser(name, help=text)
        change.add_argument("username")
        if name == "set-role":
            change.add_argument("role", choices=list(ROLE_CHOICES))
        if name == "set-teams":
            change.add_argument("teams", nargs="+")
        if name in ("disable", "set-role"):
            change.add_argument(
                "--force", action="store_true", help="also for the last active admin (recovery; see docs/operations.md)"
            )
        change.add_argument("--database-url")
        change.add_argument("--redis-url")
        change.set_defaults(func=cmd_agent_change)

    sealing = agent.add_parser("encrypt-2fa", help="seal TOTP secrets stored in the clear or under an old key")
    sealing.add_argument("--database-url")
    sealing.set_defaults(func=cmd_agent_encrypt_2fa)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    _command(db, "upgrade", "create or migrate the schema with Alembic", cmd_db_upgrade)

    cases = sub.add_parser("cases", help="handoffs to the case system").add_subparsers(
        dest="cases_command", required=True
    )
    _command(cases, "retry", "send the dead-lettered handoffs again", cmd_cases_retry)
    discard = _command(
        cases, "discard", "give up on one dead-lettered handoff (its payload is deleted)", cmd_cases_discard
    )
    discard.add_argument("handoff_id")

    keys = sub.add_parser("keys", help="the contact-hash key").add_subparsers(dest="keys_command", required=True)
    _command(keys, "rotate", "re-key stored hashes: new key in VT_HASH_KEY, old in VT_HASH_KEY_OLD", cmd_keys_rotate)

    privacy = sub.add_parser("privacy", help="retention of personal data").add_subparsers(
        dest="privacy_command", required=True
    )
    _command(privacy, "purge", "delete now what has passed its retention time", cmd_privacy_purge)
    _command(privacy, "report", "what is stored, by kind and age (counts only)", cmd_privacy_report)

    audit = sub.add_parser("audit", help="the access log (NEN 7513)").add_subparsers(
        dest="audit_command", required=True
    )
    _command(audit, "verify", "check the hash chain; exit 0 only when it is intact", cmd_audit_verify)
    _command(audit, "purge", "delete entries older than VT_ACCESS_LOG_RETENTION_DAYS", cmd_audit_purge)

    made = _command(sub, "backup", "copy the database to PATH while servers run (never overwrites)", cmd_backup)
    made.add_argument("path")
    back = _command(sub, "restore", "restore a backup into an empty database, then upgrade its schema", cmd_restore)
    back.add_argument("path")
    back.add_argument("--force", action="store_true", help="restore into a database that is not empty")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from app.services import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:  # a setting missing or wrong: say which, no traceback
        print(f"vt-contact: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
