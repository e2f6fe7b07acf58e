"""Record what torchvision's local-file datasets give for the tiny layouts of
tests/vision_local_dataset_cases.py, for tests/test_vision_local_datasets.py.

    /work/torchenv/bin/python tools/differential/record_vision_local_datasets.py

torchvision verifies the md5 of some archives (which the tiny copies cannot match):
``check_integrity`` is replaced by an existence check here. pycocotools is not
installed in the comparison venv: a stand-in with its documented indexing (images by
id, annotations per image in file order) is registered for CocoDetection.
"""

import json
import os
import sys
import tempfile
import types

import torch
import torchvision.datasets as tvd

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
import vision_local_dataset_cases as C

OUT = os.path.join(ROOT, "tests", "golden", "vision_local_datasets.json")


class _StandInCOCO:
    def __init__(self, annotation_file):
        with open(annotation_file) as f:
            self.dataset = json.load(f)
        self.imgs = {img["id"]: img for img in self.dataset["images"]}
        self.anns = {ann["id"]: ann for ann in self.dataset["annotations"]}
        self.img_to_anns = {}
        for ann in self.dataset["annotations"]:
            self.img_to_anns.setdefault(ann["image_id"], []).append(ann)

    def getAnnIds(self, imgIds):
        ids = imgIds if isinstance(imgIds, list) else [imgIds]
        return [a["id"] for i in ids for a in self.img_to_anns.get(i, [])]

    def loadAnns(self, ids):
        return [self.anns[i] for i in ids]

    def loadImgs(self, ids):
        return [self.imgs[i] for i in (ids if isinstance(ids, list) else [ids])]


def _patch():
    coco = types.ModuleType("pycocotools.coco")
    coco.COCO = _StandInCOCO
    sys.modules["pycocotools"] = types.ModuleType("pycocotools")
    sys.modules["pycocotools.coco"] = coco
    # Caltech101 imports scipy.io on every item (used only for the 'annotation' target)
    sys.modules.setdefault("scipy", types.ModuleType("scipy"))
    sys.modules.setdefault("scipy.io", types.ModuleType("scipy.io"))
    for mod in ("omniglot", "stl10", "places365", "sbu", "lfw", "celeba"):
        getattr(tvd, mod).check_integrity = lambda fpath, md5=None: os.path.isfile(fpath)


def describe(ds):
    out = {"len": len(ds), "samples": []}
    for i in range(len(ds)):
        out["samples"].append(C.summarize(ds[i], lambda x: isinstance(x, torch.Tensor), lambda t: t.tolist()))
    for attr in ("classes", "class_to_idx", "categories", "attr_names", "pair_names", "targets"):
        if hasattr(ds, attr) and not callable(getattr(ds, attr)):
            out[attr] = C.summarize(getattr(ds, attr), lambda x: isinstance(x, torch.Tensor), lambda t: t.tolist())
    return out


def main():
    _patch()
    record = []
    for i in range(len(C.CASES)):
        with tempfile.TemporaryDirectory() as tmp:
            name, kwargs = C.build(i, tmp)
            record.append(describe(getattr(tvd, name)(**kwargs)))
    with open(OUT, "w") as f:
        json.dump(record, f, indent=0, sort_keys=True)
    print(len(record), "cases ->", OUT)


if __name__ == "__main__":
    main()
