#!/usr/bin/env bash
# The manual pages docs/man/*: each formats without a groff warning (-ww), carries the
# project's version, names every option its program accepts (read from the getopt
# tables of the sources) and every option shows in the program's --help too; and
# plexus.yaml.5 names every key docs/CONFIG.md's tables list.
# Usage: man_pages.sh BUILD_DIR SOURCE_DIR VERSION. Exits 77 (skipped) without groff.
set -uo pipefail
build=${1:?usage: man_pages.sh BUILD_DIR SOURCE_DIR VERSION}
src=${2:?usage: man_pages.sh BUILD_DIR SOURCE_DIR VERSION}
version=${3:?usage: man_pages.sh BUILD_DIR SOURCE_DIR VERSION}
man=$src/docs/man
command -v groff >/dev/null || { echo "groff is not installed (Debian: groff-base): skipped"; exit 77; }

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

for page in plexusd.8 plexus.1 plexus.yaml.5; do
  f=$man/$page
  [ -f "$f" ] || { fail "$page is missing"; continue; }
  warnings=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
  [ -z "$warnings" ] || fail "$page: groff warns: $warnings"
  # What man(1) shows, where man-db is installed (it runs groff with the site's man.local).
  if command -v man >/dev/null; then
    out=$(MANWIDTH=80 man -l "$f" 2>&1) || fail "$page: man -l failed: $out"
    grep -q '^NAME' <<< "$out" || fail "$page: man -l shows no NAME section"
  fi
  grep -qE "^\.TH [^ ]+ [0-9a-z]+ [^ ]+ \"Plexus $version\"" "$f" ||
    fail "$page: its .TH line does not say \"Plexus $version\": $(grep '^\.TH' "$f")"
  if LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$f"; then
    fail "$page: holds control characters"
  fi
done

# The options a program accepts: the long names of its struct option tables and the
# letters of its getopt_long optstrings, in these sources.
long_opts() { cat "$@" | grep -oE '\{"[a-z][a-z0-9-]*", *(no|required|optional)_argument' |
              sed -E 's/^\{"([^"]+)".*/\1/' | sort -u; }
short_opts() { cat "$@" | grep -oE 'getopt_long\(argc, argv, "[^"]*"' |
               sed -E 's/.*"([^"]*)"/\1/' | tr -d ':\n' | fold -w1 | sort -u; }

check_program() { # NAME PAGE HELP-TEXT SOURCES...
  local name=$1 page=$2 help=$3; shift 3
  local n=0 o
  for o in $(long_opts "$@"); do
    n=$((n + 1))
    grep -qF -- "\\-\\-$o" "$page" || fail "$name: option --$o is not in $(basename "$page")"
    grep -qE -- "(^|[^-])--$o([^a-z0-9-]|$)" <<< "$help" || fail "$name: option --$o is not in its --help"
  done
  for o in $(short_opts "$@"); do
    n=$((n + 1))
    grep -qE -- "(^|[^-])\\\\-$o([^a-zA-Z0-9]|$)" "$page" ||
      fail "$name: option -$o is not in $(basename "$page")"
    grep -qE -- "(^|[^-])-$o([^a-zA-Z0-9]|$)" <<< "$help" || fail "$name: option -$o is not in its --help"
  done
  [ "$n" -gt 4 ] || fail "$name: found only $n options in its sources: is the scan broken?"
  echo "$name: $n options checked"
}

bin=$build/bin
help=$("$bin/plexusd" --help) || fail "plexusd --help exited $?"
check_program plexusd "$man/plexusd.8" "$help" "$src"/tools/plexusd/*.c
help=""
for cmd in call list health bench check modules token-hash stats; do
  help+=$("$bin/plexus" "$cmd" --help) || fail "plexus $cmd --help exited $?"
  help+=$'\n'
done
help+=$("$bin/plexus" --help)
check_program plexus "$man/plexus.1" "$help" "$src"/tools/plexus/*.c "$src"/tools/plexus/*.h
for cmd in call list health bench check modules token-hash stats help; do
  grep -qE "^\.S[SH] \"?plexus $cmd" "$man/plexus.1" || fail "plexus.1 has no section for 'plexus $cmd'"
done

# plexus.yaml.5 names, in bold, every key of docs/CONFIG.md's key tables.
keys=$(awk -F'|' '
  /^\| *key *\|/ { col = 2; next }
  /^\| *module *\| *key *\|/ { col = 3; next }
  /^\|[- |]*$/ { next }
  /^\|/ { if (col) { k = $col; gsub(/^ +| +$|`/, "", k); print k } next }
  { col = 0 }' "$src/docs/CONFIG.md" | grep -E '^[a-z_]+$' | sort -u)
n=0
for k in $keys; do
  n=$((n + 1))
  grep -qE "^\.(B|BR) $k( |$)|^\.RB \( $k( |$)|\\\\fB$k\\\\f" "$man/plexus.yaml.5" ||
    fail "plexus.yaml.5 does not name the key '$k' (docs/CONFIG.md lists it)"
done
[ "$n" -gt 50 ] || fail "found only $n keys in docs/CONFIG.md: is the scan broken?"
echo "plexus.yaml.5: $n keys of docs/CONFIG.md checked"

[ "$fails" -eq 0 ] || { echo "$fails problem(s)"; exit 1; }
echo "man pages ok"
