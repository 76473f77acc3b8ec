"""Cross-checks cnngen checkpoints against PyTorch (run by torch_test.go).

usage: torch_roundtrip.py GO_FILE INPUT_JSON TORCH_FILE OUTPUT_JSON

Loads GO_FILE (a cnngen checkpoint of the tiny test network) into the same
network built from torch.nn with load_state_dict(strict=True), computes the
logits of the samples in INPUT_JSON (each 4x4x1, HWC), then writes a freshly
initialised PyTorch network's state_dict to TORCH_FILE and its logits for
the same samples. OUTPUT_JSON gets {"go_logits": …, "torch_logits": …}.
safetensors files are read and written here by hand (the format is an
8-byte little-endian header length, a JSON header, then the data) since the
safetensors Python package may be absent.
"""
import collections
import json
import struct
import sys

import numpy as np
import torch


def network():
    return torch.nn.Sequential(collections.OrderedDict([
        ("conv1", torch.nn.Conv2d(1, 2, 3, padding=1)),
        ("relu1", torch.nn.ReLU()),
        ("pool1", torch.nn.MaxPool2d(2)),
        ("flatten", torch.nn.Flatten()),
        ("fc1", torch.nn.Linear(8, 3)),
        ("relu2", torch.nn.ReLU()),
        ("fc2", torch.nn.Linear(3, 2)),
    ]))


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, header.get("__metadata__", {})


def write_safetensors(path, state):
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(state):
        raw = state[name].detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(state[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def logits(model, samples):
    # HWC samples of one channel are already CHW.
    x = torch.tensor(samples, dtype=torch.float32).reshape(-1, 1, 4, 4)
    with torch.no_grad():
        return model(x).tolist()


def main():
    go_file, input_json, torch_file, output_json = sys.argv[1:]
    with open(input_json) as f:
        samples = json.load(f)
    model = network()
    state, meta = read_safetensors(go_file)
    optim = [k for k in state if k.startswith("optim.")]
    for k in optim:
        del state[k]
    model.load_state_dict(state, strict=True)
    go_logits = logits(model, samples)

    torch.manual_seed(1)
    fresh = network()
    write_safetensors(torch_file, fresh.state_dict())
    with open(output_json, "w") as f:
        json.dump({"go_logits": go_logits, "torch_logits": logits(fresh, samples),
                   "network": meta.get("network")}, f)


if __name__ == "__main__":
    main()
