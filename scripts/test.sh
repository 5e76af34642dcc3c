#!/usr/bin/env bash
# README command 2: set up this machine, then run the whole test suite:
# static checks, the Python tests, and every molecule scenario (create,
# converge, idempotence, check mode, verify, destroy; stack and cutover share
# the idempotence and check-mode runs of their common converge).
#   scripts/test.sh                 everything (what CI runs)
#   scripts/test.sh fast            lint, shellcheck, types and the tests that need no root, Docker,
#                                   network or playbook run: needs only Python (no root), under a minute
#   scripts/test.sh static python   only those groups
#   scripts/test.sh base docker     only those molecule scenarios
set -uo pipefail
# shellcheck source=scripts/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# fast and static need only the project's venv; the rest needs the machine (root, apt, Docker, images).
SCENARIOS=(base docker monitor stack cutover)
selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=(static python "${SCENARIOS[@]}")
machine=false
for group in "${selected[@]}"; do
  case "$group" in fast|static) ;; *) machine=true ;; esac
done
set -e
if $machine; then
  smops_require_root "$@"
  smops_setup
else
  smops_setup_venv_only
fi
set +e
cd "$SMOPS_ROOT"

PYTHON_DIRS=(src tests tools molecule library benchmarks inventory images/systemd)
SHELL_SCRIPTS=(scripts/setup.sh scripts/site.sh scripts/standins.sh scripts/test.sh .ci/run)
times="$SMOPS_STATE/test-times.txt"
: >"$times"
passed=0 failed=0 failures=()
suite_start=$(date +%s)
clk_tck=$(getconf CLK_TCK)
read -r _ user nice system _ _ irq softirq _ </proc/stat
busy_start=$(( (user + nice + system + irq + softirq) / clk_tck ))

# CPU seconds (user + system) this shell's finished children used, in $CPU:
# the suite is CPU-bound on 2 cores, so its budget is kept in CPU as well as time.
# (The test hosts' own work is not a child of this shell: see docs/testing.md.)
cpu_seconds() {
  local line stat
  read -r line <"/proc/$BASHPID/stat"
  # After the name (in parentheses, which may hold spaces) come field 3 on: cutime and
  # cstime are fields 16 and 17, in clock ticks.
  read -r -a stat <<<"${line##*) }"
  CPU=$(( (stat[13] + stat[14]) / clk_tck ))
}

step() {  # step NAME COMMAND...: run, time and record one check
  local name=$1 start rc cpu cpu_file="$SMOPS_STATE/.step-cpu"; shift
  log "── $name"
  start=$(date +%s); rm -f "$cpu_file"
  # In a subshell of its own, whose children are this check's processes only
  # (a lane that ends meanwhile is the main shell's child, not this one's).
  ( "$@"; rc=$?; cpu_seconds; echo "$CPU" >"$cpu_file"; exit $rc ); rc=$?
  { read -r cpu <"$cpu_file"; } 2>/dev/null || cpu="?"
  rm -f "$cpu_file"
  printf '%-28s %4ss %5s cpu-s  %s\n' "$name" "$(( $(date +%s) - start ))" "$cpu" \
    "$([ $rc -eq 0 ] && echo ok || echo FAILED)" | tee -a "$times" >&2
  if [ $rc -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}

# The base scenario mounts a data volume: give each test host a loop device
# over a sparse file, as a stand-in for a DigitalOcean block-storage volume.
attach_data_devices() {
  local platform file
  for platform in noble debian12; do
    file="$SMOPS_STATE/data-volume-$platform.img"
    rm -f "$file"; truncate -s 128M "$file"
    export "SMOPS_DATA_DEVICE_${platform^^}=$(losetup -f --show "$file")"
  done
}

detach_data_devices() {
  local platform var
  for platform in noble debian12; do
    var="SMOPS_DATA_DEVICE_${platform^^}"
    [ -n "${!var:-}" ] && losetup -d "${!var}" 2>/dev/null
    unset "$var"
    rm -f "$SMOPS_STATE/data-volume-$platform.img"
  done
  return 0
}

# Each scenario's test hosts (the names in its molecule.yml): the stack's and
# the cut-over's hosts have names of their own, so they can run beside the others.
scenario_hosts() {
  case "$1" in
    base) echo noble debian12 ;;
    stack) echo ubuntu2404 ;;
    cutover) echo cutover ;;
    *) echo debian12 ;;
  esac
}

cleanup_test_hosts() {  # cleanup_test_hosts SCENARIO
  # molecule destroy leaves the hosts' anonymous volumes behind (volumes of
  # running hosts are in use, so the other lane's are kept).
  # shellcheck disable=SC2046
  docker rm -f $(scenario_hosts "$1") >/dev/null 2>&1
  docker volume prune -f >/dev/null 2>&1
  return 0
}

scenario() {  # scenario NAME: one molecule scenario, from clean hosts to clean hosts
  local rc
  cleanup_test_hosts "$1"
  [ "$1" = base ] && attach_data_devices
  molecule test -s "$1"; rc=$?
  cleanup_test_hosts "$1"
  [ "$1" = base ] && detach_data_devices
  return $rc
}

# The stack and cut-over scenarios are the longest by far and spend much of
# their time waiting (image builds, health checks, certificates): when other
# groups run too, each runs beside them in a lane of its own, its output kept
# in a file and printed at the end.
BESIDE=(stack cutover)
declare -A lane_pid=()
if [ ${#selected[@]} -gt 1 ]; then
  for lane in "${BESIDE[@]}"; do
    printf '%s\n' "${selected[@]}" | grep -qx "$lane" || continue
    lane_log="$SMOPS_STATE/molecule-$lane.log"
    rm -f "$lane_log.rc"  # a lane that dies before writing it is a failure, not an old result
    log "── molecule $lane (beside the other groups; output in $lane_log)"
    ( start=$(date +%s); scenario "$lane" >"$lane_log" 2>&1; rc=$?; cpu_seconds
      echo "$rc $(( $(date +%s) - start )) $CPU" >"$lane_log.rc" ) &
    lane_pid[$lane]=$!
  done
fi

for group in "${selected[@]}"; do
  case "$group" in
    fast)
      step yamllint yamllint -s .
      step ruff ruff check "${PYTHON_DIRS[@]}"
      step ruff-format ruff format --check "${PYTHON_DIRS[@]}"
      step shellcheck shellcheck "${SHELL_SCRIPTS[@]}"
      step mypy mypy
      # The marks are enforced by tests/conftest.py: an unmarked test that needs more fails.
      step "pytest (fast)" pytest -q -n 3 -m "not docker and not root and not network and not playbook" tests
      ;;
    static)
      step yamllint yamllint -s .
      step ansible-lint ansible-lint -q
      step syntax-check ansible-playbook --syntax-check site.yml
      step ruff ruff check "${PYTHON_DIRS[@]}"
      step ruff-format ruff format --check "${PYTHON_DIRS[@]}"
      step shellcheck shellcheck "${SHELL_SCRIPTS[@]}"
      step mypy mypy
      ;;
    python)
      step pytest pytest -q -n 3 --dist loadfile tests
      ;;
    *)
      if [ -n "${lane_pid[$group]:-}" ]; then
        continue
      elif [ -d "molecule/$group" ]; then
        step "molecule $group" scenario "$group"
      else
        die "unknown test group '$group' (fast, static, python, or a scenario: ${SCENARIOS[*]})"
      fi
      ;;
  esac
done

for lane in "${BESIDE[@]}"; do
  [ -n "${lane_pid[$lane]:-}" ] || continue
  wait "${lane_pid[$lane]}"
  lane_log="$SMOPS_STATE/molecule-$lane.log"
  cat "$lane_log"
  { read -r rc seconds cpu <"$lane_log.rc"; } 2>/dev/null || { rc=1; seconds=$(( $(date +%s) - suite_start )); cpu="?"; }
  printf '%-28s %4ss %5s cpu-s  %s\n' "molecule $lane (beside)" "$seconds" "$cpu" \
    "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)" | tee -a "$times" >&2
  if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("molecule $lane"); fi
done

printf '%-28s %4ss\n' "total" "$(( $(date +%s) - suite_start ))" | tee -a "$times" >&2
# The whole machine's CPU over the suite (test hosts and Docker included), from /proc/stat.
read -r _ user nice system _ _ irq softirq _ </proc/stat
printf '%-28s %4ss of %ss on %s cores\n' "machine busy" \
  "$(( (user + nice + system + irq + softirq) / clk_tck - busy_start ))" \
  "$(( $(date +%s) - suite_start ))" "$(nproc)" | tee -a "$times" >&2
[ $failed -eq 0 ] || log "failed: ${failures[*]}"
echo "checks: $passed passed, $failed failed"
[ $failed -eq 0 ]
