#!/usr/bin/env bash
# `make bench`: every figure in BENCHMARKS.md, and the chart. Builds release binaries, runs the
# engine micro-benchmarks, starts the rig, runs the end-to-end comparisons (each pair in the same
# run), the single-send comparison with curl, swaks and msmtp, and regenerates the report.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH:/usr/sbin:/usr/local/sbin:/sbin"
scripts/install-deps.sh libssl-dev libuv1-dev pkg-config postfix sasl2-bin libsasl2-modules swaks hyperfine msmtp curl time valgrind
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install --quiet matplotlib 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages matplotlib

out=.rig/bench
mkdir -p "$out"
# The Swift runtime linked statically, as a shipped Swift command-line tool is: it starts in
# about 4 ms instead of 6.5 (no dynamic symbol binding of the Swift libraries).
swift build -c release --static-swift-stdlib --product smtp-send
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)/smtp-send"
swift build -c release --static-swift-stdlib --product PoolLoad
pool_load="$(swift build -c release --static-swift-stdlib --show-bin-path)/PoolLoad"

echo "bench: engine micro-benchmarks"
(cd Benchmarks && swift package benchmark --no-progress) | tee "$out/micro.txt"
echo "bench: the machine's speeds under the reply parser (phase probe)"
scripts/bench/phase-probe.sh "$out/phase.json"

scripts/rig/rig.sh start
trap 'scripts/rig/rig.sh stop >/dev/null 2>&1 || true' EXIT
set -a
. .rig/rig.env
set +a

echo "bench: one STARTTLS send (hyperfine)"
msg="$out/send.eml"
printf 'From: a@example.org\r\nTo: b@example.net\r\nSubject: timing\r\n\r\nHello.\r\n' > "$msg"
port=$RIG_POSTFIX_STARTTLS_PORT
msmtprc="$out/msmtprc"
cat > "$msmtprc" <<RC
account default
host 127.0.0.1
port $port
from a@example.org
tls on
tls_starttls on
tls_trust_file $RIG_CA_FILE
RC
chmod 600 "$msmtprc"
# Each command is one string in shell quoting (hyperfine -N splits it the same way, and the
# memory loop below evals it): a checkout's path may hold spaces.
q() { printf '%q' "$1"; }
declare -A commands=(
    [smtp-send]="$(q "$bin") --ca-file $(q "$RIG_CA_FILE") --data $(q "$msg") 127.0.0.1:$port a@example.org b@example.net"
    [curl]="curl --url smtp://127.0.0.1:$port --ssl-reqd --cacert $(q "$RIG_CA_FILE") --mail-from a@example.org --mail-rcpt b@example.net --upload-file $(q "$msg") -s -o /dev/null"
    [swaks]="swaks --server 127.0.0.1:$port --tls --tls-verify --tls-ca-path $(q "$RIG_CA_FILE") --from a@example.org --to b@example.net --data $(q "@$msg") --silent 2"
    [msmtp]="sh -c $(q "exec msmtp -C $(q "$msmtprc") b@example.net < $(q "$msg")")"
)
hyperfine -N --warmup 5 --runs 40 --export-json "$out/hyperfine.json" \
    -n smtp-send "${commands[smtp-send]}" -n curl "${commands[curl]}" -n swaks "${commands[swaks]}" \
    -n msmtp "${commands[msmtp]}"
echo "{" > "$out/memory.json"
first=1
for name in smtp-send curl swaks msmtp; do
    if [ "$name" = msmtp ]; then
        rss=$(/usr/bin/time -f %M msmtp -C "$msmtprc" b@example.net < "$msg" 2>&1 >/dev/null | tail -1)
    else
        rss=$(eval "/usr/bin/time -f %M ${commands[$name]}" 2>&1 >/dev/null | tail -1)
    fi
    [ $first -eq 1 ] || echo "," >> "$out/memory.json"
    first=0
    printf '"%s": %s' "$name" "$rss" >> "$out/memory.json"
done
echo "}" >> "$out/memory.json"

echo "bench: end-to-end comparisons"
SMTP_SEND="$bin" python3 scripts/bench/e2e.py --out "$out/e2e.json" ${BENCH_QUICK:+--quick}

echo "bench: TLS at scale (STARTTLS into Postfix, full and resumed handshakes)"
SMTP_SEND="$bin" python3 scripts/bench/tls.py --out "$out/tls.json" ${BENCH_QUICK:+--quick} > /dev/null

echo "bench: the async client's pool (10,000 sends from 1,000 tasks into Postfix, accounted for in its log)"
POOL_LOAD="$pool_load" python3 scripts/bench/pool.py --out "$out/pool.json" ${BENCH_QUICK:+--messages 1000 --tasks 100}
POOL_LOAD_RELEASE="$pool_load" scripts/ci/client-mallocs.sh --print | tee "$out/client-mallocs.txt"

python3 scripts/bench/report.py --e2e "$out/e2e.json" --micro "$out/micro.txt" --hyperfine "$out/hyperfine.json" \
    --memory "$out/memory.json" --tls "$out/tls.json" --pool "$out/pool.json" --client-mallocs "$out/client-mallocs.txt" --phase "$out/phase.json" --out BENCHMARKS.md --chart Benchmarks/throughput.png
echo "bench: wrote BENCHMARKS.md and Benchmarks/throughput.png"
