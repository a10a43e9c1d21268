"""`trustable users …`: the privacy team's console accounts.

A thin shell over `users.service`. Passwords are read with a hidden prompt, typed
twice, or from standard input (`--password-stdin`, for scripts), never from an
argument, where the shell history and `ps` would keep them.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

users_app = typer.Typer(
    help="Console accounts for the privacy team: create, list, disable, enable, change.",
    no_args_is_help=True,
)

ROLES = "admin, privacy_officer, analyst or support"
PASSWORD_STDIN = typer.Option(
    "--password-stdin", help="Read the password from the first line of standard input."
)


def read_password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="The name to sign in with.")],
    role: Annotated[str, typer.Option(help=ROLES)],
    password_stdin: Annotated[bool, PASSWORD_STDIN] = False,
) -> None:
    """Create a console account; the password is asked for (at least 12 characters)."""
    # Imported here: `cli.main` imports this module to register the commands.
    from trustable.cli.main import console, guarded, running
    from trustable.users.service import create_user, normalize_username, parse_role

    # Name and role are checked before anyone types a password for them.
    guarded(lambda: (normalize_username(username), parse_role(role)))
    password = read_password(password_stdin)
    with running() as trustable, trustable.uow() as uow:
        user = create_user(
            uow,
            trustable.vault,
            username=username,
            password=password,
            role=role,
            now=trustable.clock(),
            actor="cli",
        )
        uow.commit()
    console.print(f"created {user.username} ({user.role.value}), id {user.user_id}")


@users_app.command("list")
def users_list() -> None:
    """Every console account: role, last sign-in, disabled or not."""
    from trustable.cli.main import console, running
    from trustable.users.service import list_users

    with running() as trustable, trustable.reader() as uow:
        found = list_users(uow)
    table = Table("username", "role", "id", "created", "last sign-in", "")
    for user in found:
        state = "[red]disabled[/red]" if user.disabled else ""
        table.add_row(
            user.username,
            user.role.value,
            user.user_id,
            f"{user.created_at:%Y-%m-%d}",
            f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else "never",
            state,
        )
    console.print(table if found else "no console users yet: `trustable users create`")


@users_app.command("disable")
def users_disable(
    user: Annotated[str, typer.Argument(help="The username (or id, usr_…).")],
) -> None:
    """Disable an account: it can no longer sign in (kept; `enable` brings it back)."""
    from trustable.cli.main import console, running
    from trustable.users.service import disable_user

    with running() as trustable, trustable.uow() as uow:
        done = disable_user(uow, trustable.vault, user, now=trustable.clock(), actor="cli")
        uow.commit()
    console.print(f"{done.username} is disabled")


@users_app.command("enable")
def users_enable(
    user: Annotated[str, typer.Argument(help="The username (or id, usr_…).")],
) -> None:
    """Let a disabled account sign in again, with the role and password it had."""
    from trustable.cli.main import console, running
    from trustable.users.service import enable_user

    with running() as trustable, trustable.uow() as uow:
        done = enable_user(uow, trustable.vault, user, now=trustable.clock(), actor="cli")
        uow.commit()
    console.print(f"{done.username} is enabled again")


@users_app.command("set-password")
def users_set_password(
    user: Annotated[str, typer.Argument(help="The username (or id, usr_…).")],
    password_stdin: Annotated[bool, PASSWORD_STDIN] = False,
) -> None:
    """Give an account a new password; it also lifts a lock after wrong passwords."""
    from trustable.cli.main import console, running
    from trustable.users.service import get_user, set_password

    with running() as trustable:
        with trustable.reader() as uow:
            get_user(uow, user)  # an unknown user is said before the password is asked
        password = read_password(password_stdin)
        with trustable.uow() as uow:
            done = set_password(
                uow, trustable.vault, user, password, now=trustable.clock(), actor="cli"
            )
            uow.commit()
    console.print(f"new password set for {done.username}")


@users_app.command("set-role")
def users_set_role(
    user: Annotated[str, typer.Argument(help="The username (or id, usr_…).")],
    role: Annotated[str, typer.Argument(help=ROLES)],
) -> None:
    """Change an account's role (the last enabled admin stays one)."""
    from trustable.cli.main import console, running
    from trustable.users.service import set_role

    with running() as trustable, trustable.uow() as uow:
        done = set_role(uow, trustable.vault, user, role, now=trustable.clock(), actor="cli")
        uow.commit()
    console.print(f"{done.username} is now {done.role.value}")
