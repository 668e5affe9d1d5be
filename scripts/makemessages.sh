#!/usr/bin/env bash
# Refresh the German catalogues (locale/ and each app's locale/) from the code and templates: new strings
# arrive untranslated, and tests/portal/test_translations.py fails until each has its German.
# usage: scripts/makemessages.sh   (PYTHON=… for another interpreter than .venv's)
set -euo pipefail
cd "$(dirname "$0")/.."
DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-portal.settings.test} "${PYTHON:-.venv/bin/python}" manage.py makemessages \
  --locale de --no-obsolete --no-wrap --add-location file \
  --ignore '.venv/*' --ignore 'tests/*' --ignore 'bench/*' --ignore '*/node_modules/*' \
  --ignore 'staticfiles/*' --ignore 'var/*' --ignore 'build/*'
