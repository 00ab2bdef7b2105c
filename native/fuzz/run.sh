#!/usr/bin/env bash
# Builds and runs the libFuzzer targets for the binary parsers under AddressSanitizer + UBSan:
# the safetensors header and the restricted unpickler of pytorch_model.bin.
# Usage: native/fuzz/run.sh [seconds per target=300] [target: safetensors|torch_pickle|all]   (needs clang)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-300}
which=${2:-all}
out=native/fuzz/build
mkdir -p "$out" native/fuzz/corpus/safetensors native/fuzz/corpus/torch_pickle
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Inative)
# Seed corpora: small valid inputs.
python3 - <<'PY'
import json, struct, os, pickle, collections, sys, types
def write(name, header, data=b''):
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    open(os.path.join('native/fuzz/corpus/safetensors', name), 'wb').write(struct.pack('<Q', len(h)) + h + data)
write('one', {'a': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 8]}}, b'\0' * 8)
write('two', {'__metadata__': {'format': 'pt'}, 'x': {'dtype': 'I64', 'shape': [1, 1], 'data_offsets': [0, 8]},
              'y': {'dtype': 'BF16', 'shape': [2], 'data_offsets': [8, 12]}}, b'\1' * 12)
write('empty', {})
# data.pkl as torch.save writes it (see test/helpers/make_torch_bin.py), for three tiny tensors.
sys.path.insert(0, 'test/helpers')
import make_torch_bin as m
state = collections.OrderedDict()
for i, shape in enumerate([[2], [2, 3], []]):
    n = 1
    for d in shape: n *= d
    state[f't{i}'] = m.Tensor(m.Storage(str(i), n), shape)
state._metadata = collections.OrderedDict([('', {'version': 1})])
import io
buf = io.BytesIO()
m.Pickler(buf, protocol=2).dump(state)
open('native/fuzz/corpus/torch_pickle/state_dict', 'wb').write(buf.getvalue())
PY
run() {
  local name=$1 sources=$2
  # shellcheck disable=SC2086
  clang++ "${flags[@]}" native/fuzz/${name}_fuzz.cc $sources -o "$out/${name}_fuzz"
  "$out/${name}_fuzz" -max_total_time="$secs" -max_len=4096 -timeout=5 -print_final_stats=1 "native/fuzz/corpus/$name"
}
if [[ $which == all || $which == safetensors ]]; then run safetensors native/io/safetensors_header.cc; fi
if [[ $which == all || $which == torch_pickle ]]; then run torch_pickle native/io/torch_pickle.cc; fi
