#!/usr/bin/env bash
# Builds and runs the libFuzzer target for the safetensors parser under AddressSanitizer + UBSan.
# Usage: native/fuzz/run.sh [seconds=300]   (needs clang: apt-get install clang)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-300}
out=native/fuzz/build
mkdir -p "$out" native/fuzz/corpus
clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Inative \
  native/fuzz/safetensors_fuzz.cc native/io/safetensors_header.cc -o "$out/safetensors_fuzz"
# seed corpus: small valid files
python3 - <<'PY'
import json, struct, os
def write(name, header, data=b''):
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    open(os.path.join('native/fuzz/corpus', name), 'wb').write(struct.pack('<Q', len(h)) + h + data)
write('one', {'a': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 8]}}, b'\0' * 8)
write('two', {'__metadata__': {'format': 'pt'}, 'x': {'dtype': 'I64', 'shape': [1, 1], 'data_offsets': [0, 8]},
              'y': {'dtype': 'BF16', 'shape': [2], 'data_offsets': [8, 12]}}, b'\1' * 12)
write('empty', {})
PY
"$out/safetensors_fuzz" -max_total_time="$secs" -max_len=4096 -timeout=5 -print_final_stats=1 native/fuzz/corpus
