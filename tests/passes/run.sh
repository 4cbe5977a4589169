#!/bin/sh
# run.sh — the pass tests: text-IR files with FileCheck-style expectations.
#
#   tests/passes/run.sh PPCC [TEST.ir...]      (default: every tests/passes/*.ir)
#
# Each test file holds a graph in the text IR (docs/ir.md) and comment lines:
#   ; RUN: PASS,PASS,...     the pass list; the runner calls
#                            PPCC --passes LIST --verify-each --check-each --emit=ir -o - FILE
#                            so every test also verifies the IR and checks with the interpreter
#                            that no pass changed the outputs
#   ; OPTIONS: OPT OPT ...   extra ppcc options (e.g. --pattern-conv=sparse), split on blanks
#   ; CHECK: TEXT            TEXT must occur in the output, after the previous CHECK's match
#                            (same line further right, or a later line)
#   ; CHECK-NOT: TEXT        TEXT must not occur between the matches of the CHECKs around it
#                            (before the first CHECK / after the last one: from the start / to
#                            the end of the output)
#   ; ERROR: TEXT            ppcc must fail, and TEXT must occur in its error output
# TEXT is matched literally (no regular expressions), with surrounding blanks trimmed.
# Lines starting with ';' are the test's own (directives and explanations): ppcc reads a copy of
# the file with them blanked (line numbers unchanged), since the text IR's comments are '#'.
# Prints one line per failure and "pass tests: N passed, M failed"; exits 1 on any failure.
# POSIX sh and awk only.

if [ $# -lt 1 ]; then
    echo "usage: $0 PPCC [TEST.ir...]" >&2
    exit 2
fi
PPCC=$1
shift
HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    set -- "$HERE"/*.ir
fi
if [ ! -x "$PPCC" ]; then
    echo "run.sh: $PPCC is not an executable" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ppcc-pass-tests.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM

# match_checks TESTFILE OUTPUT: apply the CHECK/CHECK-NOT lines of TESTFILE to OUTPUT.
# Prints the reason and returns 1 on a mismatch.
match_checks() {
    awk '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    # text of output line l from column c1 (1-based) up to, not including, column c2 (0 = end)
    function region(l, c1, c2) {
        if (c2 == 0) return substr(out[l], c1)
        return substr(out[l], c1, c2 - c1)
    }
    # fail if a pending CHECK-NOT occurs between (l1,c1) and (l2,c2); c2 = 0 means end of line l2
    function check_nots(l1, c1, l2, c2,    j, l, s, from, to) {
        for (j = 1; j <= np; j++) {
            for (l = l1; l <= l2; l++) {
                from = (l == l1) ? c1 : 1
                to = (l == l2) ? c2 : 0
                s = region(l, from, to)
                if (index(s, pat[pend[j]]) > 0) {
                    printf "  CHECK-NOT: %s\n  found on output line %d: %s\n", pat[pend[j]], l, out[l]
                    bad = 1
                    return
                }
            }
        }
        np = 0
    }
    FNR == NR {
        if (match($0, /^;[ \t]*CHECK-NOT:/)) { n++; kind[n] = "NOT"; pat[n] = trim(substr($0, RLENGTH + 1)) }
        else if (match($0, /^;[ \t]*CHECK:/)) { n++; kind[n] = "CHECK"; pat[n] = trim(substr($0, RLENGTH + 1)); nchecks++ }
        next
    }
    { out[++m] = $0 }
    END {
        if (nchecks == 0) { print "  no CHECK lines in the test"; exit 1 }
        line = 1; col = 1; np = 0; bad = 0
        for (i = 1; i <= n && !bad; i++) {
            if (pat[i] == "") { printf "  empty %s pattern\n", kind[i]; exit 1 }
            if (kind[i] == "NOT") { pend[++np] = i; continue }
            found = 0
            for (l = line; l <= m; l++) {
                start = (l == line) ? col : 1
                p = index(substr(out[l], start), pat[i])
                if (p > 0) { found = 1; ml = l; mc = start + p - 1; break }
            }
            if (!found) {
                printf "  CHECK: %s\n  not found (searching from output line %d)\n", pat[i], line
                exit 1
            }
            check_nots(line, col, ml, mc)
            line = ml; col = mc + length(pat[i])
        }
        if (!bad && np > 0 && m >= line) check_nots(line, col, m, 0)
        exit bad
    }' "$1" "$2"
}

passed=0
failed=0
for t in "$@"; do
    name=$(basename "$t")
    passes=$(sed -n 's/^;[[:space:]]*RUN:[[:space:]]*//p' "$t" | head -n 1 | sed 's/[[:space:]]*$//')
    if ! grep -q '^;[[:space:]]*RUN:' "$t"; then
        echo "FAIL $name: no '; RUN:' line"
        failed=$((failed + 1))
        continue
    fi
    out="$TMP/out"
    err="$TMP/err"
    input="$TMP/$name"
    options=$(sed -n 's/^;[[:space:]]*OPTIONS:[[:space:]]*//p' "$t" | head -n 1)
    sed 's/^;.*$//' "$t" >"$input"
    # shellcheck disable=SC2086 # OPTIONS are split on blanks on purpose
    "$PPCC" --passes "$passes" $options --verify-each --check-each --emit=ir -o - "$input" >"$out" 2>"$err"
    rc=$?
    if grep -q '^;[[:space:]]*ERROR:' "$t"; then
        # an expected failure: non-zero exit (not a crash), every ERROR text on stderr
        why=""
        if [ $rc -eq 0 ]; then
            why="ppcc succeeded, expected an error"
        elif [ $rc -gt 128 ]; then
            why="ppcc crashed (status $rc)"
        else
            sed -n 's/^;[[:space:]]*ERROR:[[:space:]]*//p' "$t" | sed 's/[[:space:]]*$//' >"$TMP/errs"
            while IFS= read -r e; do
                if ! grep -F -q -- "$e" "$err"; then
                    why="error output lacks: $e"
                    break
                fi
            done <"$TMP/errs"
        fi
        if [ -n "$why" ]; then
            echo "FAIL $name: $why"
            sed 's/^/  stderr: /' "$err"
            failed=$((failed + 1))
        else
            passed=$((passed + 1))
        fi
        continue
    fi
    if [ $rc -ne 0 ]; then
        echo "FAIL $name: ppcc exited with status $rc"
        sed 's/^/  stderr: /' "$err"
        failed=$((failed + 1))
        continue
    fi
    if match_checks "$t" "$out" >"$TMP/why"; then
        passed=$((passed + 1))
    else
        echo "FAIL $name (passes: $passes)"
        cat "$TMP/why"
        echo "  output:"
        sed 's/^/  | /' "$out"
        failed=$((failed + 1))
    fi
done

echo "pass tests: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
