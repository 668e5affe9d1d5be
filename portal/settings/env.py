"""The one place that reads the process environment.

Every setting that comes from outside is read here, so the README's list of variables
and this module stay in step. A ``NAME_FILE`` variable (a container secret mounted as
a file) takes precedence over ``NAME``.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()

# A `.env` file beside manage.py is read when present (development convenience only);
# real environment variables win over it.
_dotenv = BASE_DIR / ".env"
if _dotenv.is_file():
    environ.Env.read_env(str(_dotenv), overwrite=False)


def secret(name: str, default: str | None = None) -> str | None:
    """Return NAME, or the stripped contents of the file named by NAME_FILE."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)
