"""Typed readers for environment variables, and development-only generated secrets.

Only `config.settings` uses this module: the rest of the code reads `django.conf.settings`.
"""

import base64
import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def dev_secrets(var_dir: Path) -> dict[str, str]:
    """Secrets for development, generated once and kept in `var/`.

    Generated rather than hard-coded so that no demo secret lives in the settings, and
    kept on disk so that data encrypted by one run can still be read by the next one.
    """
    path = var_dir / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    var_dir.mkdir(parents=True, exist_ok=True)
    staging = var_dir / f".dev-secrets.{os.getpid()}.tmp"
    staging.write_text(json.dumps(generated))
    staging.chmod(0o600)
    try:
        # A hard link appears whole or not at all: when two processes start at once,
        # exactly one wins and both read the same secrets.
        os.link(staging, path)
    except FileExistsError:
        return json.loads(path.read_text())
    finally:
        staging.unlink()
    return generated
