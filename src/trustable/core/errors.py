"""Errors that Trustable's shells turn into clear answers.

Each carries a stable machine `code` and a `message` for people. Messages never hold
personal values: they name the place and the problem, not the data.
"""

from __future__ import annotations


class TrustableError(Exception):
    """Base of every error Trustable raises on purpose."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(TrustableError):
    """The caller sent something Trustable cannot accept."""

    code = "invalid_request"
    status = 400


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    status = 400


class NotAuthenticated(TrustableError):
    code = "unauthorized"
    status = 401


class Forbidden(TrustableError):
    """The key is genuine but may not do this; `key_id` (never the key) is logged."""

    code = "forbidden"
    status = 403

    def __init__(self, message: str, *, code: str | None = None, key_id: str | None = None):
        super().__init__(message, code=code)
        self.key_id = key_id


class NotFound(TrustableError):
    code = "not_found"
    status = 404


class ConfigurationError(TrustableError):
    """Settings, policy or keys are wrong; Trustable refuses to start or act."""

    code = "configuration_error"
    status = 500


class PolicyError(ConfigurationError):
    """The policy file is invalid; the message names the place and the problem."""

    code = "invalid_policy"


class VaultError(ConfigurationError):
    """The key store cannot be used as it is (wrong master key, damaged key)."""

    code = "vault_error"
