import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _start_django(*, code: str = "print('started')", **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "PUBLIC_BASE_URL", "PORT"}
    }
    clean.pop("FIELD_ENCRYPTION_KEY", None)
    clean.pop("ALLOWED_HOSTS", None)
    return subprocess.run(  # noqa: S603 - the test's own code, in this interpreter
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_refuses_to_start_without_its_secrets():
    result = _start_django(DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY, FIELD_ENCRYPTION_KEY, ALLOWED_HOSTS is not set" in result.stderr


def test_production_starts_with_its_secrets():
    result = _start_django(
        DEBUG="0",
        SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEY="dGhpcy1pcy1hLTMyLWJ5dGUta2V5LWZvci10ZXN0cyE=",
        ALLOWED_HOSTS="switchboard.example.com",
    )

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_development_needs_no_configuration(tmp_path):
    result = _start_django(DEBUG="1", SWITCHBOARD_VAR_DIR=str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dev-secrets.json").exists()


def test_webhook_urls_follow_the_port_the_server_is_given():
    shown = "from django.conf import settings; print(settings.PUBLIC_BASE_URL)"

    assert _start_django(DEBUG="1", PORT="9123", code=shown).stdout.strip() == (
        "http://127.0.0.1:9123"
    )
    assert _start_django(
        DEBUG="1", PORT="9123", PUBLIC_BASE_URL="https://sb.example.com/", code=shown
    ).stdout.strip() == ("https://sb.example.com")
