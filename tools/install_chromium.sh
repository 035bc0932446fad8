#!/bin/sh
# Headless Chromium renders the audit's HTML report in tests/audit/test_report.py
# (Debian's chromium package). Installed as root; without root the report tests
# skip with a clear reason.
set -e
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q chromium >/dev/null 2>&1 || {
        apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null
    }
else
    echo "chromium not installed and not root: the report's browser tests will skip" >&2
fi
