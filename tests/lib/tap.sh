# TAP helpers for the shell tests (source it): n counts the cases.
#   expect NAME WANTED COMMAND...   the command's output (stdout and stderr) must equal WANTED
#   skip NAME REASON                a case skipped, with the reason
#   have COMMAND                    whether COMMAND is installed
#   pass NAME / fail NAME DIAG...   a case passed, or failed with its diagnostics as comments
#   check NAME STATUS DIAG...       pass when STATUS is 0, else fail with DIAG
n=0
expect() {
  local name=$1 want=$2
  shift 2
  n=$((n + 1))
  local got
  got=$("$@" 2>&1)
  if [ "$got" == "$want" ]; then
    echo "ok $n - $name"
  else
    echo "not ok $n - $name"
    echo "#   wanted: $(echo "$want" | head -c 300)"
    if [ "$(printf '%s\n' "$got" | wc -l)" -le 1 ]; then
      echo "#   got:    $(echo "$got" | head -c 300)"
    else # a log: its end says most
      echo "#   got (its last 30 lines):"
      printf '%s\n' "$got" | tail -30 | cut -c1-300 | sed 's/^/#     /'
    fi
  fi
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
have() { command -v "$1" >/dev/null 2>&1; }
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
  n=$((n + 1))
  echo "not ok $n - $1"
  shift
  local line
  for line in "$@"; do printf '%s\n' "$line" | sed 's/^/# /'; done
}
check() { local name=$1 ok=$2; shift 2; if [ "$ok" = 0 ]; then pass "$name"; else fail "$name" "$@"; fi; }
