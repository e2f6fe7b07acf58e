"""rustdl.vision's local-file datasets read the tiny layouts of
tests/vision_local_dataset_cases.py exactly as torchvision does (lengths, images,
targets, class lists; recorded by tools/differential/record_vision_local_datasets.py),
and refuse to download."""

import json
import os

import pytest
import rustdl
import vision_local_dataset_cases as C
from rustdl.vision import datasets

with open(os.path.join(os.path.dirname(__file__), "golden", "vision_local_datasets.json")) as _f:
    RECORD = json.load(_f)


def describe(ds):
    out = {"len": len(ds), "samples": []}
    for i in range(len(ds)):
        out["samples"].append(C.summarize(ds[i], lambda x: isinstance(x, rustdl.Tensor), lambda t: t.tolist()))
    for attr in ("classes", "class_to_idx", "categories", "attr_names", "pair_names", "targets"):
        if hasattr(ds, attr) and not callable(getattr(ds, attr)):
            out[attr] = C.summarize(getattr(ds, attr), lambda x: isinstance(x, rustdl.Tensor), lambda t: t.tolist())
    return out


def _normalise(x):
    return json.loads(json.dumps(x, sort_keys=True))


@pytest.mark.parametrize("i", range(len(C.CASES)), ids=[f"{i}-{c[0]}" for i, c in enumerate(C.CASES)])
def test_dataset_reads_like_torchvision(tmp_path, i):
    name, kwargs = C.build(i, str(tmp_path))
    got = _normalise(describe(getattr(datasets, name)(**kwargs)))
    expected = RECORD[i]
    assert got["len"] == expected["len"]
    if name in ("Omniglot", "Kitti", "INaturalist", "Cityscapes"):  # torchvision lists these folders in os.listdir's order
        got["samples"] = sorted(got["samples"], key=json.dumps)
        expected = dict(expected, samples=sorted(expected["samples"], key=json.dumps))
    for j, (g, e) in enumerate(zip(got["samples"], expected["samples"])):
        assert g == e, (name, j)
    for attr in ("classes", "class_to_idx", "categories", "attr_names", "pair_names", "targets"):
        assert got.get(attr) == expected.get(attr), attr


# no download argument in torchvision: a missing layout is a FileNotFoundError
_FLOW = {"FlyingChairs", "FlyingThings3D", "HD1K", "KittiFlow", "Sintel", "CarlaStereo", "Kitti2012Stereo",
         "Kitti2015Stereo", "CREStereo", "FallingThingsStereo", "SceneFlowStereo", "SintelStereo", "InStereo2k",
         "ETH3DStereo"}


@pytest.mark.parametrize("name", sorted({c[0] for c in C.CASES} - {"Flickr8k", "Flickr30k", "CocoDetection",
                                                                   "CocoCaptions", "Cityscapes", "PhotoTour", "ImageNet"} - _FLOW))
def test_missing_files_say_no_download(tmp_path, name):
    with pytest.raises((RuntimeError, ValueError), match="download"):
        getattr(datasets, name)(str(tmp_path), download=True)


@pytest.mark.parametrize("name", sorted(_FLOW))
def test_missing_flow_dataset_raises_file_not_found(tmp_path, name):
    with pytest.raises(FileNotFoundError):
        getattr(datasets, name)(str(tmp_path))


def test_cityscapes_and_phototour_missing(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.Cityscapes(str(tmp_path))
    with pytest.raises(RuntimeError, match="download"):
        datasets.PhotoTour(str(tmp_path), "liberty", download=True)


def test_phototour_cache_is_reused(tmp_path):
    C.build_phototour(str(tmp_path))
    first = datasets.PhotoTour(str(tmp_path), "notredame")
    assert os.path.isfile(tmp_path / "notredame.pt")
    second = datasets.PhotoTour(str(tmp_path), "notredame")
    assert first.data.tolist() == second.data.tolist() and len(second) == 8


def test_imagenet_val_folders_from_the_local_archive(tmp_path):
    import shutil
    import tarfile

    shutil.copy(os.path.join(os.path.dirname(__file__), "golden", "imagenet_meta.bin"), tmp_path / "meta.bin")
    src = tmp_path / "src"
    for k in range(3):
        C._img(str(src / f"ILSVRC2012_val_{k + 1:08d}.JPEG"), 760 + k)
    with tarfile.open(tmp_path / "ILSVRC2012_img_val.tar", "w") as tar:
        for k in range(3):
            tar.add(src / f"ILSVRC2012_val_{k + 1:08d}.JPEG", arcname=f"ILSVRC2012_val_{k + 1:08d}.JPEG")
    ds = datasets.ImageNet(str(tmp_path), split="val")
    # val_wnids in meta.bin: goldfish, tench, goldfish
    assert [os.path.basename(p) for p, _ in ds.samples] == [
        "ILSVRC2012_val_00000002.JPEG", "ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000003.JPEG"]
    assert ds.targets == [0, 1, 1] and ds.classes[0] == ("tench", "Tinca tinca")
    with pytest.raises(RuntimeError, match="ILSVRC2012_img_train.tar is not present"):
        datasets.ImageNet(str(tmp_path), split="train")


def test_transforms_are_applied(tmp_path):
    C.build_dtd(str(tmp_path))
    ds = datasets.DTD(str(tmp_path), transform=lambda im: im.size, target_transform=lambda t: t + 100)
    assert ds[0] == ((6, 5), 100)
    with pytest.raises(ValueError, match="Unknown value 'bad' for argument split"):
        datasets.DTD(str(tmp_path), split="bad")
