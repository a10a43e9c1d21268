"""What the console takes and shows about its users.

Passwords are `SecretStr`, so a form logged or printed by mistake shows `**********`;
an account shown never carries its hash.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from trustable.users.passwords import MAX_PASSWORD
from trustable.users.roles import Permission, Role, permissions
from trustable.users.service import ConsoleUser


class SignInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: SecretStr = Field(min_length=1, max_length=MAX_PASSWORD)


class NewUserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64)
    role: Role
    password: SecretStr = Field(min_length=1, max_length=MAX_PASSWORD)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: SecretStr = Field(min_length=1, max_length=MAX_PASSWORD)


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class UserOut(BaseModel):
    user_id: str
    username: str
    role: Role
    permissions: list[Permission]
    created_at: datetime
    disabled: bool
    last_sign_in_at: datetime | None

    @classmethod
    def of(cls, user: ConsoleUser, now: datetime) -> UserOut:
        return cls(
            user_id=user.user_id,
            username=user.username,
            role=user.role,
            permissions=[] if user.disabled else sorted(permissions(user.role)),
            created_at=user.created_at,
            disabled=user.disabled,
            last_sign_in_at=user.last_sign_in_at,
        )
