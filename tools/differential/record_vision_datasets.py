"""Record torchvision dataset samples for tests/test_vision_dataset_parity.py.

    /work/torchenv/bin/python tools/differential/record_vision_datasets.py

- ``FakeData``: the PIL image (as an array) and target of a few indices for several
  image sizes (>= 16 values: PyTorch's vectorised normal fill, incl. sizes that are
  not a multiple of 16; < 16: its scalar float64 path) and a ``random_offset``; for
  the 3x64x64 DCGAN size only a SHA-256 of the pixels (the arrays would be large).
- MNIST on the Fashion-MNIST test files (``apt-get install dataset-fashion-mnist``)
  laid out as torchvision's ``MNIST/raw``: the image type/mode and the results of
  ``ToTensor`` and ``Resize(40)`` + ``Normalize`` of the first images.
Writes tests/golden/vision_datasets.npz (``__meta__`` holds the JSON facts).
"""

import gzip
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
import torchvision.transforms as T
from PIL import Image
from torchvision import datasets

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "vision_datasets.npz")
FMNIST = "/usr/share/datasets/fashion-mnist"
FAKE_CASES = [
    ("rgb8", {"size": 6, "image_size": (3, 8, 8)}),
    ("gray5x7", {"size": 3, "image_size": (1, 5, 7)}),
    ("rgb5x3", {"size": 3, "image_size": (3, 5, 3)}),
    ("tiny", {"size": 4, "image_size": (1, 3, 4)}),
    ("offset", {"size": 3, "image_size": (3, 6, 6), "random_offset": 1234, "num_classes": 7}),
]


def main():
    out, meta = {}, {}
    for name, kw in FAKE_CASES:
        ds = datasets.FakeData(**kw)
        for i in range(len(ds)):
            img, target = ds[i]
            out[f"fake/{name}/{i}"] = np.array(img)
            meta[f"fake/{name}/{i}"] = {"mode": img.mode, "target": target}
    big = datasets.FakeData(size=3, image_size=(3, 64, 64))
    for i in range(3):
        img, target = big[i]
        meta[f"fake/dcgan/{i}"] = {"mode": img.mode, "target": target,
                                   "sha256": hashlib.sha256(np.array(img).tobytes()).hexdigest()}
    with tempfile.TemporaryDirectory() as root:
        raw = os.path.join(root, "MNIST", "raw")
        os.makedirs(raw)
        for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                  "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            with gzip.open(os.path.join(FMNIST, f + ".gz")) as src, open(os.path.join(raw, f), "wb") as dst:
                shutil.copyfileobj(src, dst)
        ds = datasets.MNIST(root, train=False)
        img, target = ds[0]
        meta["mnist/0"] = {"type": type(img).__name__, "is_pil": isinstance(img, Image.Image),
                           "mode": img.mode, "size": list(img.size), "target": target}
        to_tensor = datasets.MNIST(root, train=False, transform=T.ToTensor())
        resize = datasets.MNIST(root, train=False, transform=T.Compose(
            [T.Resize(40), T.ToTensor(), T.Normalize((0.5,), (0.5,))]))
        for i in range(3):
            out[f"mnist/to_tensor/{i}"] = to_tensor[i][0].numpy()
            out[f"mnist/resize40/{i}"] = resize[i][0].numpy()
    out["__meta__"] = np.array(json.dumps(meta))
    np.savez_compressed(OUT, **out)
    print("wrote", OUT, os.path.getsize(OUT), "bytes;", len(meta), "facts")


if __name__ == "__main__":
    main()
