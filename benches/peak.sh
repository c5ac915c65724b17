# Sourced by the benchmark scripts. `with_peak CMD...`: runs a process that prints one JSON
# line (a load-only run) and prints that line with its peak RSS in bytes added, measured by
# /usr/bin/time -v.
with_peak() {
  local out time
  out="$(mktemp)"; time="$(mktemp)"
  if /usr/bin/time -v "$@" >"$out" 2>"$time"; then
    local rss; rss="$(awk '/Maximum resident/ {printf "%.0f", $6 * 1024}' "$time")"
    sed "s/}\$/, \"peak_rss_bytes\": $rss}/" "$out"
  else
    echo "{\"failed\": \"$*\"}"; tail -n 5 "$time" >&2
  fi
  rm -f "$out" "$time"
}
