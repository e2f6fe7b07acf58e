"""Image-classification datasets read from their published local layouts, as
torchvision reads them (same file lists, class orders, targets and PIL images).
Nothing is downloaded: a missing dataset raises ``DatasetNotFoundError`` naming the
expected path and where the files come from (``download=True`` only checks)."""

import csv
import itertools
import json
import os
import pathlib
from typing import ClassVar

import numpy as np

from ..utils import _pil_image
from ._local import list_dir, list_files, no_download, verify_str_arg
from .folder import ImageFolder, default_loader, find_classes, make_dataset
from .vision import VisionDataset

__all__ = [
    "DTD",
    "GTSRB",
    "STL10",
    "SUN397",
    "CLEVRClassification",
    "Caltech101",
    "Caltech256",
    "Country211",
    "FGVCAircraft",
    "Food101",
    "Imagenette",
    "Omniglot",
    "OxfordIIITPet",
    "Places365",
    "RenderedSST2",
]


def _open(path):
    return _pil_image().open(path)


class _LabelledFiles(VisionDataset):
    """Samples ``(loader(self._image_files[i]), self._labels[i])``."""

    def __len__(self):
        return len(self._image_files)

    def __getitem__(self, idx):
        image, label = self.loader(self._image_files[idx]), self._labels[idx]
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


class Caltech101(VisionDataset):
    """``root/caltech101/101_ObjectCategories/<category>/image_NNNN.jpg``; targets
    ``category`` (index) and/or ``annotation`` (the ``obj_contour`` of
    ``Annotations/<category>/annotation_NNNN.mat``, read with scipy as torchvision)."""

    def __init__(self, root, target_type="category", transform=None, target_transform=None, download=False):
        super().__init__(os.path.join(root, "caltech101"), transform=transform, target_transform=target_transform)
        if isinstance(target_type, str):
            target_type = [target_type]
        self.target_type = [verify_str_arg(t, "target_type", ("category", "annotation")) for t in target_type]
        folder = os.path.join(self.root, "101_ObjectCategories")
        if not os.path.exists(folder):
            raise no_download("Caltech101", folder, "https://data.caltech.edu/records/mzrjq-6wc02")
        self.categories = sorted(os.listdir(folder))
        self.categories.remove("BACKGROUND_Google")
        name_map = {"Faces": "Faces_2", "Faces_easy": "Faces_3", "Motorbikes": "Motorbikes_16",
                    "airplanes": "Airplanes_Side_2"}
        self.annotation_categories = [name_map.get(x, x) for x in self.categories]
        self.index, self.y = [], []
        for i, c in enumerate(self.categories):
            n = len(os.listdir(os.path.join(folder, c)))
            self.index.extend(range(1, n + 1))
            self.y.extend(n * [i])

    def __getitem__(self, index):
        img = _open(os.path.join(self.root, "101_ObjectCategories", self.categories[self.y[index]],
                                 f"image_{self.index[index]:04d}.jpg"))
        target = []
        for t in self.target_type:
            if t == "category":
                target.append(self.y[index])
            else:
                import scipy.io  # as torchvision: annotations are MATLAB files

                data = scipy.io.loadmat(os.path.join(self.root, "Annotations", self.annotation_categories[self.y[index]],
                                                     f"annotation_{self.index[index]:04d}.mat"))
                target.append(data["obj_contour"])
        target = tuple(target) if len(target) > 1 else target[0]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.index)

    def extra_repr(self):
        return f"Target type: {self.target_type}"


class Caltech256(VisionDataset):
    """``root/caltech256/256_ObjectCategories/<NNN.name>/<NNN>_<MMMM>.jpg``."""

    def __init__(self, root, transform=None, target_transform=None, download=False):
        super().__init__(os.path.join(root, "caltech256"), transform=transform, target_transform=target_transform)
        folder = os.path.join(self.root, "256_ObjectCategories")
        if not os.path.exists(folder):
            raise no_download("Caltech256", folder, "https://data.caltech.edu/records/nyy15-4j048")
        self.categories = sorted(os.listdir(folder))
        self.index, self.y = [], []
        for i, c in enumerate(self.categories):
            n = len([item for item in os.listdir(os.path.join(folder, c)) if item.endswith(".jpg")])
            self.index.extend(range(1, n + 1))
            self.y.extend(n * [i])

    def __getitem__(self, index):
        img = _open(os.path.join(self.root, "256_ObjectCategories", self.categories[self.y[index]],
                                 f"{self.y[index] + 1:03d}_{self.index[index]:04d}.jpg"))
        target = self.y[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.index)


class Country211(ImageFolder):
    """``root/country211/{train,valid,test}/<country>/*.jpg`` (an ImageFolder)."""

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        self._split = verify_str_arg(split, "split", ("train", "valid", "test"))
        root = pathlib.Path(root).expanduser()
        self._base_folder = root / "country211"
        if not self._base_folder.is_dir():
            raise no_download("Country211", self._base_folder, "https://openaipublic.azureedge.net/clip/data/country211.tgz")
        super().__init__(str(self._base_folder / self._split), transform=transform, target_transform=target_transform,
                         loader=loader)
        self.root = str(root)


class DTD(_LabelledFiles):
    """Describable Textures: ``root/dtd/dtd/labels/{split}{partition}.txt`` lists ``class/file``."""

    def __init__(self, root, split="train", partition=1, transform=None, target_transform=None, download=False,
                 loader=default_loader):
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        if not isinstance(partition, int) and not (1 <= partition <= 10):
            raise ValueError(
                f"Parameter 'partition' should be an integer with `1 <= partition <= 10`, but got {partition} instead"
            )
        self._partition = partition
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._base_folder = pathlib.Path(self.root) / "dtd"
        self._data_folder = self._base_folder / "dtd"
        self._meta_folder = self._data_folder / "labels"
        self._images_folder = self._data_folder / "images"
        if not self._data_folder.is_dir():
            raise no_download("DTD", self._data_folder, "https://www.robots.ox.ac.uk/~vgg/data/dtd/")
        self._image_files, classes = [], []
        with open(self._meta_folder / f"{self._split}{self._partition}.txt") as file:
            for line in file:
                cls, name = line.strip().split("/")
                self._image_files.append(self._images_folder.joinpath(cls, name))
                classes.append(cls)
        self.classes = sorted(set(classes))
        self.class_to_idx = dict(zip(self.classes, range(len(self.classes))))
        self._labels = [self.class_to_idx[cls] for cls in classes]
        self.loader = loader

    def extra_repr(self):
        return f"split={self._split}, partition={self._partition}"


class Food101(_LabelledFiles):
    """``root/food-101/meta/{split}.json`` maps a class to ``class/id`` image stems."""

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "test"))
        self._base_folder = pathlib.Path(self.root) / "food-101"
        self._meta_folder = self._base_folder / "meta"
        self._images_folder = self._base_folder / "images"
        if not (self._meta_folder.is_dir() and self._images_folder.is_dir()):
            raise no_download("Food101", self._base_folder, "http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz")
        with open(self._meta_folder / f"{split}.json") as f:
            metadata = json.loads(f.read())
        self.classes = sorted(metadata.keys())
        self.class_to_idx = dict(zip(self.classes, range(len(self.classes))))
        self._labels, self._image_files = [], []
        for class_label, im_rel_paths in metadata.items():
            self._labels += [self.class_to_idx[class_label]] * len(im_rel_paths)
            self._image_files += [self._images_folder.joinpath(*f"{p}.jpg".split("/")) for p in im_rel_paths]
        self.loader = loader

    def extra_repr(self):
        return f"split={self._split}"


class GTSRB(VisionDataset):
    """German traffic signs: ``root/gtsrb/GTSRB/Training/<class>/*.ppm`` for train,
    ``Final_Test/Images`` with ``gtsrb/GT-final_test.csv`` for test; RGB PIL images."""

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "test"))
        self._base_folder = pathlib.Path(root) / "gtsrb"
        self._target_folder = self._base_folder / "GTSRB" / ("Training" if self._split == "train" else "Final_Test/Images")
        if not self._target_folder.is_dir():
            raise no_download("GTSRB", self._target_folder, "https://benchmark.ini.rub.de/gtsrb_dataset.html")
        if self._split == "train":
            samples = make_dataset(str(self._target_folder), extensions=(".ppm",))
        else:
            with open(self._base_folder / "GT-final_test.csv") as csv_file:
                samples = [(str(self._target_folder / row["Filename"]), int(row["ClassId"]))
                           for row in csv.DictReader(csv_file, delimiter=";", skipinitialspace=True)]
        self._samples = samples

    def __len__(self):
        return len(self._samples)

    def __getitem__(self, index):
        path, target = self._samples[index]
        sample = _open(path).convert("RGB")
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target


class Imagenette(VisionDataset):
    """``root/imagenette2[-320|-160]/{train,val}/<wnid>/*.JPEG``; classes are the wnids' names."""

    _ARCHIVES: ClassVar[dict] = {"full": "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2.tgz",
                 "320px": "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz",
                 "160px": "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz"}
    _WNID_TO_CLASS: ClassVar[dict] = {
        "n01440764": ("tench", "Tinca tinca"),
        "n02102040": ("English springer", "English springer spaniel"),
        "n02979186": ("cassette player",),
        "n03000684": ("chain saw", "chainsaw"),
        "n03028079": ("church", "church building"),
        "n03394916": ("French horn", "horn"),
        "n03417042": ("garbage truck", "dustcart"),
        "n03425413": ("gas pump", "gasoline pump", "petrol pump", "island dispenser"),
        "n03445777": ("golf ball",),
        "n03888257": ("parachute", "chute"),
    }

    def __init__(self, root, split="train", size="full", download=False, transform=None, target_transform=None,
                 loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ["train", "val"])
        self._size = verify_str_arg(size, "size", ["full", "320px", "160px"])
        self._url = self._ARCHIVES[self._size]
        self._size_root = pathlib.Path(self.root) / pathlib.Path(self._url).stem
        self._image_root = str(self._size_root / self._split)
        if not self._size_root.exists():
            raise no_download("Imagenette", self._size_root, self._url)
        self.wnids, self.wnid_to_idx = find_classes(self._image_root)
        self.classes = [self._WNID_TO_CLASS[wnid] for wnid in self.wnids]
        self.class_to_idx = {name: idx for wnid, idx in self.wnid_to_idx.items() for name in self._WNID_TO_CLASS[wnid]}
        self._samples = make_dataset(self._image_root, self.wnid_to_idx, extensions=".jpeg")
        self.loader = loader

    def __getitem__(self, idx):
        path, label = self._samples[idx]
        image = self.loader(path)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __len__(self):
        return len(self._samples)


class RenderedSST2(VisionDataset):
    """``root/rendered-sst2/{train,valid,test}/{negative,positive}/*.png``."""

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        self._split_to_folder = {"train": "train", "val": "valid", "test": "test"}
        self._base_folder = pathlib.Path(self.root) / "rendered-sst2"
        self.classes = ["negative", "positive"]
        self.class_to_idx = {"negative": 0, "positive": 1}
        folder = self._base_folder / self._split_to_folder[self._split]
        if not all((folder / c).is_dir() for c in self.classes):
            raise no_download("RenderedSST2", folder, "https://openaipublic.azureedge.net/clip/data/rendered-sst2.tgz")
        self._samples = make_dataset(str(folder), extensions=("png",))
        self.loader = loader

    def __len__(self):
        return len(self._samples)

    def __getitem__(self, idx):
        image_file, label = self._samples[idx]
        image = self.loader(image_file)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label

    def extra_repr(self):
        return f"split={self._split}"


class SUN397(_LabelledFiles):
    """``root/SUN397/ClassName.txt`` and ``SUN397/<a>/<class path>/sun_*.jpg``."""

    def __init__(self, root, transform=None, target_transform=None, download=False, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._data_dir = pathlib.Path(self.root) / "SUN397"
        if not self._data_dir.is_dir():
            raise no_download("SUN397", self._data_dir, "http://vision.princeton.edu/projects/2010/SUN/")
        with open(self._data_dir / "ClassName.txt") as f:
            self.classes = [c[3:].strip() for c in f]
        self.class_to_idx = dict(zip(self.classes, range(len(self.classes))))
        self._image_files = list(self._data_dir.rglob("sun_*.jpg"))
        self._labels = [self.class_to_idx["/".join(path.relative_to(self._data_dir).parts[1:-1])]
                        for path in self._image_files]
        self.loader = loader


class OxfordIIITPet(VisionDataset):
    """``root/oxford-iiit-pet/{images,annotations}``; targets ``category``,
    ``binary-category`` (cat/dog) and/or ``segmentation`` (the trimap PNG)."""

    _VALID_TARGET_TYPES = ("category", "binary-category", "segmentation")

    def __init__(self, root, split="trainval", target_types="category", transforms=None, transform=None,
                 target_transform=None, download=False):
        self._split = verify_str_arg(split, "split", ("trainval", "test"))
        if isinstance(target_types, str):
            target_types = [target_types]
        self._target_types = [verify_str_arg(t, "target_types", self._VALID_TARGET_TYPES) for t in target_types]
        super().__init__(root, transforms=transforms, transform=transform, target_transform=target_transform)
        self._base_folder = pathlib.Path(self.root) / "oxford-iiit-pet"
        self._images_folder = self._base_folder / "images"
        self._anns_folder = self._base_folder / "annotations"
        self._segs_folder = self._anns_folder / "trimaps"
        if not (self._images_folder.is_dir() and self._anns_folder.is_dir()):
            raise no_download("OxfordIIITPet", self._base_folder, "https://www.robots.ox.ac.uk/~vgg/data/pets/")
        image_ids, self._labels, self._bin_labels = [], [], []
        with open(self._anns_folder / f"{self._split}.txt") as file:
            for line in file:
                image_id, label, bin_label, _ = line.strip().split()
                image_ids.append(image_id)
                self._labels.append(int(label) - 1)
                self._bin_labels.append(int(bin_label) - 1)
        self.bin_classes = ["Cat", "Dog"]
        self.classes = [
            " ".join(part.title() for part in raw_cls.split("_"))
            for raw_cls, _ in sorted({(i.rsplit("_", 1)[0], lab) for i, lab in zip(image_ids, self._labels)},
                                     key=lambda x: x[1])
        ]
        self.bin_class_to_idx = dict(zip(self.bin_classes, range(len(self.bin_classes))))
        self.class_to_idx = dict(zip(self.classes, range(len(self.classes))))
        self._images = [self._images_folder / f"{i}.jpg" for i in image_ids]
        self._segs = [self._segs_folder / f"{i}.png" for i in image_ids]

    def __len__(self):
        return len(self._images)

    def __getitem__(self, idx):
        image = _open(self._images[idx]).convert("RGB")
        target = []
        for target_type in self._target_types:
            if target_type == "category":
                target.append(self._labels[idx])
            elif target_type == "binary-category":
                target.append(self._bin_labels[idx])
            else:
                target.append(_open(self._segs[idx]))
        target = None if not target else target[0] if len(target) == 1 else tuple(target)
        if self.transforms:
            image, target = self.transforms(image, target)
        return image, target


class FGVCAircraft(_LabelledFiles):
    """``root/fgvc-aircraft-2013b/data``: ``images_<level>_<split>.txt`` and the class list."""

    def __init__(self, root, split="trainval", annotation_level="variant", transform=None, target_transform=None,
                 download=False, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self._split = verify_str_arg(split, "split", ("train", "val", "trainval", "test"))
        self._annotation_level = verify_str_arg(annotation_level, "annotation_level",
                                                ("variant", "family", "manufacturer"))
        self._data_path = os.path.join(self.root, "fgvc-aircraft-2013b")
        if not os.path.isdir(self._data_path):
            raise no_download("FGVCAircraft", self._data_path, "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/")
        annotation_file = os.path.join(self._data_path, "data", {"variant": "variants.txt", "family": "families.txt",
                                                                  "manufacturer": "manufacturers.txt"}[annotation_level])
        with open(annotation_file) as f:
            self.classes = [line.strip() for line in f]
        self.class_to_idx = dict(zip(self.classes, range(len(self.classes))))
        image_data_folder = os.path.join(self._data_path, "data", "images")
        labels_file = os.path.join(self._data_path, "data", f"images_{self._annotation_level}_{self._split}.txt")
        self._image_files, self._labels = [], []
        with open(labels_file) as f:
            for line in f:
                image_name, label_name = line.strip().split(" ", 1)
                self._image_files.append(os.path.join(image_data_folder, f"{image_name}.jpg"))
                self._labels.append(self.class_to_idx[label_name])
        self.loader = loader


class Omniglot(VisionDataset):
    """``root/omniglot-py/images_{background,evaluation}/<alphabet>/<character>/*.png``;
    grayscale ``'L'`` images, one class per character (the extracted folder is read;
    torchvision also checks the zip's md5, which is not needed here)."""

    folder = "omniglot-py"

    def __init__(self, root, background=True, transform=None, target_transform=None, download=False, loader=None):
        super().__init__(os.path.join(root, self.folder), transform=transform, target_transform=target_transform)
        self.background = background
        self.target_folder = os.path.join(self.root, self._get_target_folder())
        if not os.path.isdir(self.target_folder):
            raise no_download("Omniglot", self.target_folder, "https://github.com/brendenlake/omniglot")
        self._alphabets = list_dir(self.target_folder)
        self._characters = list(itertools.chain.from_iterable(
            [os.path.join(a, c) for c in list_dir(os.path.join(self.target_folder, a))] for a in self._alphabets))
        self._character_images = [[(image, idx) for image in list_files(os.path.join(self.target_folder, ch), ".png")]
                                  for idx, ch in enumerate(self._characters)]
        self._flat_character_images = list(itertools.chain.from_iterable(self._character_images))
        self.loader = loader

    def __len__(self):
        return len(self._flat_character_images)

    def __getitem__(self, index):
        image_name, character_class = self._flat_character_images[index]
        image_path = os.path.join(self.target_folder, self._characters[character_class], image_name)
        image = _open(image_path).convert("L") if self.loader is None else self.loader(image_path)
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            character_class = self.target_transform(character_class)
        return image, character_class

    def _get_target_folder(self):
        return "images_background" if self.background else "images_evaluation"


class Places365(VisionDataset):
    """``root/categories_places365.txt``, ``places365_<split>.txt`` file lists and the image
    folders (``data_large_standard``, ``val_256``, ...)."""

    _SPLITS = ("train-standard", "train-challenge", "val", "test")
    _FILE_LIST: ClassVar[dict] = {"train-standard": "places365_train_standard.txt", "train-challenge": "places365_train_challenge.txt",
                  "val": "places365_val.txt", "test": "places365_test.txt"}

    def __init__(self, root, split="train-standard", small=False, download=False, transform=None,
                 target_transform=None, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", self._SPLITS)
        self.small = small
        self.loader = loader
        self.classes, self.class_to_idx = self.load_categories(download)
        self.imgs, self.targets = self.load_file_list(download)

    def __getitem__(self, index):
        file, target = self.imgs[index]
        image = self.loader(file)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __len__(self):
        return len(self.imgs)

    @property
    def variant(self):
        return "challenge" if "challenge" in self.split else "standard"

    @property
    def images_dir(self):
        size = "256" if self.small else "large"
        folder = f"data_{size}_{self.variant}" if self.split.startswith("train") else f"{self.split}_{size}"
        return os.path.join(self.root, folder)

    def _require(self, file):
        if not os.path.isfile(file):
            raise no_download("Places365", file, "http://data.csail.mit.edu/places/places365/")

    def load_categories(self, download=True):
        file = os.path.join(self.root, "categories_places365.txt")
        self._require(file)
        with open(file) as fh:
            class_to_idx = {cls: int(idx) for cls, idx in (line.split() for line in fh)}
        return sorted(class_to_idx.keys()), class_to_idx

    def load_file_list(self, download=True):
        def process(line, sep="/"):
            image, idx = ([*line.split(), None])[:2]
            return os.path.join(self.images_dir, image.lstrip(sep).replace(sep, os.sep)), \
                (int(idx) if idx is not None else None)

        file = os.path.join(self.root, self._FILE_LIST[self.split])
        self._require(file)
        with open(file) as fh:
            images = [process(line) for line in fh]
        return images, [t for _, t in images]

    def extra_repr(self):
        return f"Split: {self.split}\nSmall: {self.small}"


class CLEVRClassification(_LabelledFiles):
    """``root/clevr/CLEVR_v1.0/images/<split>/*`` with the number of objects of each
    scene (``scenes/CLEVR_<split>_scenes.json``) as the label (None for test)."""

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False,
                 loader=default_loader):
        self._split = verify_str_arg(split, "split", ("train", "val", "test"))
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.loader = loader
        self._base_folder = pathlib.Path(self.root) / "clevr"
        self._data_folder = self._base_folder / "CLEVR_v1.0"
        if not self._data_folder.is_dir():
            raise no_download("CLEVRClassification", self._data_folder, "https://cs.stanford.edu/people/jcjohns/clevr/")
        self._image_files = sorted(self._data_folder.joinpath("images", self._split).glob("*"))
        if self._split != "test":
            with open(self._data_folder / "scenes" / f"CLEVR_{self._split}_scenes.json") as file:
                content = json.load(file)
            num_objects = {scene["image_filename"]: len(scene["objects"]) for scene in content["scenes"]}
            self._labels = [num_objects[f.name] for f in self._image_files]
        else:
            self._labels = [None] * len(self._image_files)

    def extra_repr(self):
        return f"split={self._split}"


class STL10(VisionDataset):
    """``root/stl10_binary/{train,test,unlabeled}_X.bin`` (3x96x96 column-major uint8)
    and ``*_y.bin`` labels 1..10 (-> 0..9; -1 for unlabeled); RGB PIL images."""

    base_folder = "stl10_binary"
    class_names_file = "class_names.txt"
    folds_list_file = "fold_indices.txt"
    train_list: ClassVar[list] = [["train_X.bin"], ["train_y.bin"], ["unlabeled_X.bin"]]
    test_list: ClassVar[list] = [["test_X.bin"], ["test_y.bin"]]
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root, split="train", folds=None, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", self.splits)
        self.folds = self._verify_folds(folds)
        needed = {"train": [0, 1], "train+unlabeled": [0, 1, 2], "unlabeled": [2]}.get(self.split)
        files = [self.train_list[i][0] for i in needed] if needed else [f for f, in self.test_list]
        for f in files:
            path = os.path.join(self.root, self.base_folder, f)
            if not os.path.isfile(path):
                raise no_download("STL10", path, "http://ai.stanford.edu/~acoates/stl10/")
        if self.split == "train":
            self.data, self.labels = self._loadfile("train_X.bin", "train_y.bin")
            self._load_folds(folds)
        elif self.split == "train+unlabeled":
            self.data, self.labels = self._loadfile("train_X.bin", "train_y.bin")
            self._load_folds(folds)
            unlabeled, _ = self._loadfile("unlabeled_X.bin")
            self.data = np.concatenate((self.data, unlabeled))
            self.labels = np.concatenate((self.labels, np.asarray([-1] * unlabeled.shape[0])))
        elif self.split == "unlabeled":
            self.data, _ = self._loadfile("unlabeled_X.bin")
            self.labels = np.asarray([-1] * self.data.shape[0])
        else:
            self.data, self.labels = self._loadfile("test_X.bin", "test_y.bin")
        class_file = os.path.join(self.root, self.base_folder, self.class_names_file)
        if os.path.isfile(class_file):
            with open(class_file) as f:
                self.classes = f.read().splitlines()

    def _verify_folds(self, folds):
        if folds is None:
            return folds
        if isinstance(folds, int):
            if folds in range(10):
                return folds
            raise ValueError(f"Value for argument folds should be in the range [0, 10), but got {folds}.")
        raise ValueError(f"Expected type None or int for argument folds, but got type {type(folds)}.")

    def __getitem__(self, index):
        if self.labels is not None:
            img, target = self.data[index], int(self.labels[index])
        else:
            img, target = self.data[index], None
        img = _pil_image().fromarray(np.ascontiguousarray(np.transpose(img, (1, 2, 0))))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.data.shape[0]

    def _loadfile(self, data_file, labels_file=None):
        labels = None
        if labels_file:
            labels = np.fromfile(os.path.join(self.root, self.base_folder, labels_file), dtype=np.uint8) - 1
        everything = np.fromfile(os.path.join(self.root, self.base_folder, data_file), dtype=np.uint8)
        images = np.transpose(np.reshape(everything, (-1, 3, 96, 96)), (0, 1, 3, 2))
        return images, labels

    def _load_folds(self, folds):
        if folds is None:
            return
        with open(os.path.join(self.root, self.base_folder, self.folds_list_file)) as f:
            list_idx = np.array(f.read().splitlines()[folds].split(), dtype=np.int64)
        self.data = self.data[list_idx]
        if self.labels is not None:
            self.labels = self.labels[list_idx]

    def extra_repr(self):
        return f"Split: {self.split}"
