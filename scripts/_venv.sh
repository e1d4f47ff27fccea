# Shared by scripts/run and scripts/test: make .venv and install the project into it,
# again only when pyproject.toml changed. Needs nothing but Python 3.11+.

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "Tenure needs Python 3.11 or newer on PATH" >&2
  return 1
}

ensure_venv() {
  local extras="$1"  # "" or "[dev]"
  if [ ! -x .venv/bin/python ]; then
    local python
    python="$(find_python)"
    echo "creating .venv with $("$python" --version)" >&2
    "$python" -m venv .venv
  fi
  local digest stamp=.venv/.tenure-installed
  digest="$(.venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')"
  local have
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [ "$have" = "$digest$extras" ] || [ "$have" = "$digest[dev]" ]; then
    return 0
  fi
  echo "installing tenure$extras into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras"
  echo "$digest$extras" >"$stamp"
}
