#!/usr/bin/env bash
# Validate every TracingPolicy YAML file under DIR and print a summary:
# accepted files (with their warning count), files refused as invalid and
# files refused because they use a feature the engine does not support yet,
# each with its reasons.
#
# usage: scripts/validate-examples.sh [-w] DIR
#   -w  also print the warnings of accepted files
set -euo pipefail

show_warnings=0
if [[ "${1:-}" == "-w" ]]; then
    show_warnings=1
    shift
fi
if [[ $# -ne 1 || ! -d "$1" ]]; then
    echo "usage: $0 [-w] DIR" >&2
    exit 2
fi

dir="$(cd "$1" && pwd)"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" exec python3 - "$dir" "$show_warnings" <<'EOF'
import os
import sys

from appliance.policy.validate import validate_file

root, show_warnings = sys.argv[1], sys.argv[2] == "1"
files = sorted(
    os.path.join(d, f)
    for d, _, names in os.walk(root)
    for f in names
    if f.endswith((".yaml", ".yml"))
)
if not files:
    print(f"no .yaml or .yml file under {root}")
    sys.exit(1)

counts = {"accepted": 0, "invalid": 0, "unsupported": 0}
for path in files:
    rel = os.path.relpath(path, root)
    problems = validate_file(path)
    errors = [p for p in problems if p.severity == "error"]
    missing = [p for p in problems if p.severity == "unsupported"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors:
        counts["invalid"] += 1
        print(f"REFUSED      {rel}")
        shown = errors
    elif missing:
        counts["unsupported"] += 1
        print(f"UNSUPPORTED  {rel}")
        shown = missing
    else:
        counts["accepted"] += 1
        note = f" ({len(warnings)} warning{'s' if len(warnings) != 1 else ''})" if warnings else ""
        print(f"ACCEPTED     {rel}{note}")
        shown = warnings if show_warnings else []
    for p in shown:
        where = f"{p.path}: " if p.path else ""
        line = f" (line {p.line})" if p.line and "line" not in p.message else ""
        print(f"    {where}{p.message}{line}")

total = len(files)
print()
print(
    f"{total} files: {counts['accepted']} accepted, "
    f"{counts['invalid']} refused as invalid, "
    f"{counts['unsupported']} refused as not supported yet"
)
EOF
