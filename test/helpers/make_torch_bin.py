"""Write a pytorch_model.bin exactly as torch.save(model.state_dict()) lays it out, without torch.

Reads a float32 model.safetensors and writes the zip that torch >= 1.6 produces: archive/data.pkl
(protocol 2: an OrderedDict with the state dict's _metadata attribute, tensors rebuilt by
torch._utils._rebuild_tensor_v2 from persistent storage ids), archive/data/<key> raw storages,
archive/version and archive/byteorder. Stand-in `torch` modules make pickle emit the same GLOBALs.

usage: make_torch_bin.py model.safetensors pytorch_model.bin [--shared | --evil]
  --shared  all tensors are views into one storage (offsets, as tied or sliced weights are)
  --evil    data.pkl calls os.system instead (a loader must refuse it)
"""
import collections
import json
import pickle
import struct
import sys
import types
import zipfile

torch = types.ModuleType("torch")
torch_utils = types.ModuleType("torch._utils")


class FloatStorage:
    pass


def _rebuild_tensor_v2(*args):
    raise RuntimeError("only for pickling")


FloatStorage.__module__ = "torch"
_rebuild_tensor_v2.__module__ = "torch._utils"
torch.FloatStorage = FloatStorage
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2
torch._utils = torch_utils
sys.modules["torch"] = torch
sys.modules["torch._utils"] = torch_utils


class Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class Tensor:
    def __init__(self, storage, shape, offset=0):
        self.storage, self.shape, self.offset = storage, tuple(shape), offset

    def __reduce__(self):
        stride, acc = [], 1
        for d in reversed(self.shape):
            stride.insert(0, acc)
            acc *= d
        return (_rebuild_tensor_v2, (self.storage, self.offset, self.shape, tuple(stride), False, collections.OrderedDict()))


class Evil:
    def __reduce__(self):
        import os
        return (os.system, ("echo pwned",))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", FloatStorage, obj.key, "cpu", obj.numel)
        return None


def main(src, dst, mode):
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    state = collections.OrderedDict()
    blobs = {}
    shared = Storage("0", len(data) // 4)
    for i, (name, info) in enumerate(sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])):
        assert info["dtype"] == "F32", "float32 checkpoints only"
        a, b = info["data_offsets"]
        if mode == "--shared":
            blobs["0"] = data
            state[name] = Tensor(shared, info["shape"], a // 4)
        else:
            key = str(i)
            blobs[key] = data[a:b]
            state[name] = Tensor(Storage(key, (b - a) // 4), info["shape"])
    if mode == "--evil":
        state["decoder.lm_head.weight"] = Evil()
    # What nn.Module.state_dict() attaches (per-module versions); torch.save pickles it with the dict.
    state._metadata = collections.OrderedDict([("", {"version": 1})])
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
        import io
        buf = io.BytesIO()
        Pickler(buf, protocol=2).dump(state)
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", "little")
        for key, blob in blobs.items():
            z.writestr(f"archive/data/{key}", blob)
        z.writestr("archive/version", "3\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
