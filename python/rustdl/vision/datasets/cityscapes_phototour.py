"""Cityscapes (segmentation targets and polygons) and PhotoTour (patch matching) read
from their local layouts as torchvision reads them. Nothing is downloaded."""

import json
import os
from collections import namedtuple
from typing import ClassVar

import numpy as np

import rustdl

from ..utils import _pil_image
from ._local import no_download, verify_str_arg
from .vision import VisionDataset

__all__ = ["Cityscapes", "PhotoTour"]

CityscapesClass = namedtuple(
    "CityscapesClass", ["name", "id", "train_id", "category", "category_id", "has_instances", "ignore_in_eval", "color"]
)


class Cityscapes(VisionDataset):
    """``root/leftImg8bit/<split>/<city>/*_leftImg8bit.png`` with ``gtFine``/``gtCoarse``
    targets: ``instance``, ``semantic``, ``color`` (PIL images) or ``polygon`` (the JSON)."""

    CityscapesClass = CityscapesClass
    classes: ClassVar[list] = [
        CityscapesClass('unlabeled', 0, 255, 'void', 0, False, True, (0, 0, 0)),
        CityscapesClass('ego vehicle', 1, 255, 'void', 0, False, True, (0, 0, 0)),
        CityscapesClass('rectification border', 2, 255, 'void', 0, False, True, (0, 0, 0)),
        CityscapesClass('out of roi', 3, 255, 'void', 0, False, True, (0, 0, 0)),
        CityscapesClass('static', 4, 255, 'void', 0, False, True, (0, 0, 0)),
        CityscapesClass('dynamic', 5, 255, 'void', 0, False, True, (111, 74, 0)),
        CityscapesClass('ground', 6, 255, 'void', 0, False, True, (81, 0, 81)),
        CityscapesClass('road', 7, 0, 'flat', 1, False, False, (128, 64, 128)),
        CityscapesClass('sidewalk', 8, 1, 'flat', 1, False, False, (244, 35, 232)),
        CityscapesClass('parking', 9, 255, 'flat', 1, False, True, (250, 170, 160)),
        CityscapesClass('rail track', 10, 255, 'flat', 1, False, True, (230, 150, 140)),
        CityscapesClass('building', 11, 2, 'construction', 2, False, False, (70, 70, 70)),
        CityscapesClass('wall', 12, 3, 'construction', 2, False, False, (102, 102, 156)),
        CityscapesClass('fence', 13, 4, 'construction', 2, False, False, (190, 153, 153)),
        CityscapesClass('guard rail', 14, 255, 'construction', 2, False, True, (180, 165, 180)),
        CityscapesClass('bridge', 15, 255, 'construction', 2, False, True, (150, 100, 100)),
        CityscapesClass('tunnel', 16, 255, 'construction', 2, False, True, (150, 120, 90)),
        CityscapesClass('pole', 17, 5, 'object', 3, False, False, (153, 153, 153)),
        CityscapesClass('polegroup', 18, 255, 'object', 3, False, True, (153, 153, 153)),
        CityscapesClass('traffic light', 19, 6, 'object', 3, False, False, (250, 170, 30)),
        CityscapesClass('traffic sign', 20, 7, 'object', 3, False, False, (220, 220, 0)),
        CityscapesClass('vegetation', 21, 8, 'nature', 4, False, False, (107, 142, 35)),
        CityscapesClass('terrain', 22, 9, 'nature', 4, False, False, (152, 251, 152)),
        CityscapesClass('sky', 23, 10, 'sky', 5, False, False, (70, 130, 180)),
        CityscapesClass('person', 24, 11, 'human', 6, True, False, (220, 20, 60)),
        CityscapesClass('rider', 25, 12, 'human', 6, True, False, (255, 0, 0)),
        CityscapesClass('car', 26, 13, 'vehicle', 7, True, False, (0, 0, 142)),
        CityscapesClass('truck', 27, 14, 'vehicle', 7, True, False, (0, 0, 70)),
        CityscapesClass('bus', 28, 15, 'vehicle', 7, True, False, (0, 60, 100)),
        CityscapesClass('caravan', 29, 255, 'vehicle', 7, True, True, (0, 0, 90)),
        CityscapesClass('trailer', 30, 255, 'vehicle', 7, True, True, (0, 0, 110)),
        CityscapesClass('train', 31, 16, 'vehicle', 7, True, False, (0, 80, 100)),
        CityscapesClass('motorcycle', 32, 17, 'vehicle', 7, True, False, (0, 0, 230)),
        CityscapesClass('bicycle', 33, 18, 'vehicle', 7, True, False, (119, 11, 32)),
        CityscapesClass('license plate', -1, -1, 'vehicle', 7, False, True, (0, 0, 142)),
    ]

    def __init__(self, root, split="train", mode="fine", target_type="instance", transform=None,
                 target_transform=None, transforms=None):
        super().__init__(root, transforms, transform, target_transform)
        self.mode = "gtFine" if mode == "fine" else "gtCoarse"
        self.images_dir = os.path.join(self.root, "leftImg8bit", split)
        self.targets_dir = os.path.join(self.root, self.mode, split)
        self.target_type = target_type
        self.split = split
        self.images, self.targets = [], []
        verify_str_arg(mode, "mode", ("fine", "coarse"))
        valid_modes = ("train", "test", "val") if mode == "fine" else ("train", "train_extra", "val")
        msg = (f"Unknown value '{split}' for argument split if mode is '{mode}'. "
               f"Valid values are {{{', '.join(repr(v) for v in valid_modes)}}}.")
        verify_str_arg(split, "split", valid_modes, msg)
        if not isinstance(target_type, list):
            self.target_type = [target_type]
        for value in self.target_type:
            verify_str_arg(value, "target_type", ("instance", "semantic", "polygon", "color"))
        if not os.path.isdir(self.images_dir) or not os.path.isdir(self.targets_dir):
            raise RuntimeError(
                "Dataset not found or incomplete. Please make sure all required folders for the specified "
                '"split" and "mode" are inside the "root" directory (rustdl does not extract or download archives; '
                "see https://www.cityscapes-dataset.com/)"
            )
        for city in os.listdir(self.images_dir):
            img_dir = os.path.join(self.images_dir, city)
            target_dir = os.path.join(self.targets_dir, city)
            for file_name in os.listdir(img_dir):
                stem = file_name.split("_leftImg8bit")[0]
                self.targets.append([os.path.join(target_dir, f"{stem}_{self._get_target_suffix(self.mode, t)}")
                                     for t in self.target_type])
                self.images.append(os.path.join(img_dir, file_name))

    def __getitem__(self, index):
        Image = _pil_image()
        image = Image.open(self.images[index]).convert("RGB")
        targets = []
        for i, t in enumerate(self.target_type):
            if t == "polygon":
                with open(self.targets[index][i]) as file:
                    targets.append(json.load(file))
            else:
                targets.append(Image.open(self.targets[index][i]))
        target = tuple(targets) if len(targets) > 1 else targets[0]
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __len__(self):
        return len(self.images)

    def extra_repr(self):
        return f"Split: {self.split}\nMode: {self.mode}\nType: {self.target_type}"

    @staticmethod
    def _get_target_suffix(mode, target_type):
        return {"instance": f"{mode}_instanceIds.png", "semantic": f"{mode}_labelIds.png",
                "color": f"{mode}_color.png"}.get(target_type, f"{mode}_polygons.json")


class PhotoTour(VisionDataset):
    """Multi-view stereo patches: ``root/<name>/`` holds ``*.bmp`` sheets of 64x64 patches,
    ``info.txt`` (3D point ids) and ``m50_100000_100000_0.txt`` (pairs); they are cached
    into ``root/<name>.pt`` (PyTorch's format, so torchvision's own cache loads too).
    Train items are ``uint8 64x64`` tensors; test items ``(patch1, patch2, is_match)``."""

    means: ClassVar[dict] = {"notredame": 0.4854, "yosemite": 0.4844, "liberty": 0.4437,
                             "notredame_harris": 0.4854, "yosemite_harris": 0.4844, "liberty_harris": 0.4437}
    stds: ClassVar[dict] = {"notredame": 0.1864, "yosemite": 0.1818, "liberty": 0.2019,
                            "notredame_harris": 0.1864, "yosemite_harris": 0.1818, "liberty_harris": 0.2019}
    lens: ClassVar[dict] = {"notredame": 468159, "yosemite": 633587, "liberty": 450092, "liberty_harris": 379587,
                            "yosemite_harris": 450912, "notredame_harris": 325295}
    image_ext = "bmp"
    info_file = "info.txt"
    matches_files = "m50_100000_100000_0.txt"

    def __init__(self, root, name, train=True, transform=None, download=False):
        super().__init__(root, transform=transform)
        self.name = name
        self.data_dir = os.path.join(self.root, name)
        self.data_file = os.path.join(self.root, f"{name}.pt")
        self.train = train
        self.mean = self.means[name]
        self.std = self.stds[name]
        if not os.path.exists(self.data_file):
            if not os.path.exists(self.data_dir):
                raise no_download("PhotoTour", self.data_dir, "http://matthewalunbrown.com/patchdata/patchdata.html")
            self.cache()
        self.data, self.labels, self.matches = rustdl.load(self.data_file, weights_only=True)

    def __getitem__(self, index):
        if self.train:
            data = self.data[index]
            return self.transform(data) if self.transform is not None else data
        m = self.matches[index]
        data1, data2 = self.data[m[0]], self.data[m[1]]
        if self.transform is not None:
            data1, data2 = self.transform(data1), self.transform(data2)
        return data1, data2, m[2]

    def __len__(self):
        return len(self.data if self.train else self.matches)

    def cache(self):
        dataset = (read_image_file(self.data_dir, self.image_ext, self.lens[self.name]),
                   read_info_file(self.data_dir, self.info_file),
                   read_matches_files(self.data_dir, self.matches_files))
        rustdl.save(dataset, self.data_file)

    def extra_repr(self):
        return f"Split: {'Train' if self.train is True else 'Test'}"


def read_image_file(data_dir, image_ext, n):
    """The 64x64 patches of the sorted ``*.<image_ext>`` sheets, row by row (first ``n``)."""
    files = sorted(os.path.join(data_dir, f) for f in os.listdir(data_dir) if f.endswith(image_ext))
    patches = []
    for fpath in files:
        img = _pil_image().open(fpath)
        for y in range(0, img.height, 64):
            for x in range(0, img.width, 64):
                patch = img.crop((x, y, x + 64, y + 64))
                patches.append(np.asarray(patch, dtype=np.uint8).reshape(64, 64))
    return rustdl.from_numpy(np.array(patches[:n], dtype=np.uint8).reshape(-1, 64, 64))


def read_info_file(data_dir, info_file):
    with open(os.path.join(data_dir, info_file)) as f:
        return rustdl.tensor([int(line.split()[0]) for line in f], dtype=rustdl.int64)


def read_matches_files(data_dir, matches_file):
    matches = []
    with open(os.path.join(data_dir, matches_file)) as f:
        for line in f:
            s = line.split()
            matches.append([int(s[0]), int(s[3]), int(s[1] == s[4])])
    return rustdl.tensor(matches, dtype=rustdl.int64)
