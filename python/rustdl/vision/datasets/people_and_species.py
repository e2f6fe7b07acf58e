"""LFW (people and pairs) and iNaturalist read from their local layouts as torchvision
reads them. Nothing is downloaded."""

import os
from typing import ClassVar

from ..utils import _pil_image
from ._local import no_download, verify_str_arg
from .folder import default_loader
from .vision import VisionDataset

__all__ = ["INaturalist", "LFWPairs", "LFWPeople"]


class _LFW(VisionDataset):
    base_folder = "lfw-py"
    file_dict: ClassVar[dict] = {"original": "lfw", "funneled": "lfw_funneled", "deepfunneled": "lfw-deepfunneled"}
    annot_file: ClassVar[dict] = {"10fold": "", "train": "DevTrain", "test": "DevTest"}
    names = "lfw-names.txt"

    def __init__(self, root, split, image_set, view, transform=None, target_transform=None, download=False,
                 loader=default_loader):
        super().__init__(os.path.join(root, self.base_folder), transform=transform, target_transform=target_transform)
        self.image_set = verify_str_arg(image_set.lower(), "image_set", self.file_dict.keys())
        images_dir = self.file_dict[self.image_set]
        self.view = verify_str_arg(view.lower(), "view", ["people", "pairs"])
        self.split = verify_str_arg(split.lower(), "split", ["10fold", "train", "test"])
        self.labels_file = f"{self.view}{self.annot_file[self.split]}.txt"
        self.data = []
        if download:
            raise ValueError(
                "LFW dataset is no longer available for automatic download.Please download the dataset manually and "
                "place it in the specified directory.A commonly used mirror is available at: "
                "https://www.kaggle.com/datasets/jessicali9530/lfw-dataset"
            )
        self.images_dir = os.path.join(self.root, images_dir)
        needed = [self.images_dir, os.path.join(self.root, self.labels_file)]
        if self.view == "people":
            needed.append(os.path.join(self.root, self.names))
        for path in needed:
            if not os.path.exists(path):
                raise no_download(type(self).__name__, path, "https://www.kaggle.com/datasets/jessicali9530/lfw-dataset")
        self._loader = loader

    def _get_path(self, identity, no):
        return os.path.join(self.images_dir, identity, f"{identity}_{int(no):04d}.jpg")

    def extra_repr(self):
        return f"Alignment: {self.image_set}\nSplit: {self.split}"

    def __len__(self):
        return len(self.data)


class LFWPeople(_LFW):
    """Face identification: ``(image, identity index)``."""

    def __init__(self, root, split="10fold", image_set="funneled", transform=None, target_transform=None,
                 download=False, loader=default_loader):
        super().__init__(root, split, image_set, "people", transform, target_transform, download, loader=loader)
        self.class_to_idx = self._get_classes()
        self.data, self.targets = self._get_people()

    def _get_people(self):
        data, targets = [], []
        with open(os.path.join(self.root, self.labels_file)) as f:
            lines = f.readlines()
        n_folds, s = (int(lines[0]), 1) if self.split == "10fold" else (1, 0)
        for _ in range(n_folds):
            n_lines = int(lines[s])
            people = [line.strip().split("\t") for line in lines[s + 1 : s + n_lines + 1]]
            s += n_lines + 1
            for identity, num_imgs in people:
                for num in range(1, int(num_imgs) + 1):
                    data.append(self._get_path(identity, num))
                    targets.append(self.class_to_idx[identity])
        return data, targets

    def _get_classes(self):
        with open(os.path.join(self.root, self.names)) as f:
            names = [line.strip().split()[0] for line in f]
        return {name: i for i, name in enumerate(names)}

    def __getitem__(self, index):
        img = self._loader(self.data[index])
        target = self.targets[index]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self):
        return super().extra_repr() + f"\nClasses (identities): {len(self.class_to_idx)}"


class LFWPairs(_LFW):
    """Face verification: ``(image1, image2, 1 if the same person else 0)``."""

    def __init__(self, root, split="10fold", image_set="funneled", transform=None, target_transform=None,
                 download=False, loader=default_loader):
        super().__init__(root, split, image_set, "pairs", transform, target_transform, download, loader=loader)
        self.pair_names, self.data, self.targets = self._get_pairs(self.images_dir)

    def _get_pairs(self, images_dir):
        pair_names, data, targets = [], [], []
        with open(os.path.join(self.root, self.labels_file)) as f:
            lines = f.readlines()
        if self.split == "10fold":
            n_folds, n_pairs = (int(v) for v in lines[0].split("\t"))
        else:
            n_folds, n_pairs = 1, int(lines[0])
        s = 1
        for _ in range(n_folds):
            matched = [line.strip().split("\t") for line in lines[s : s + n_pairs]]
            unmatched = [line.strip().split("\t") for line in lines[s + n_pairs : s + 2 * n_pairs]]
            s += 2 * n_pairs
            for pair in matched:
                pair_names.append((pair[0], pair[0]))
                data.append((self._get_path(pair[0], pair[1]), self._get_path(pair[0], pair[2])))
                targets.append(1)
            for pair in unmatched:
                pair_names.append((pair[0], pair[2]))
                data.append((self._get_path(pair[0], pair[1]), self._get_path(pair[2], pair[3])))
                targets.append(0)
        return pair_names, data, targets

    def __getitem__(self, index):
        img1, img2 = (self._loader(p) for p in self.data[index])
        target = self.targets[index]
        if self.transform is not None:
            img1, img2 = self.transform(img1), self.transform(img2)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img1, img2, target


CATEGORIES_2021 = ["kingdom", "phylum", "class", "order", "family", "genus"]
_VERSIONS = ("2017", "2018", "2019", "2021_train", "2021_train_mini", "2021_valid")


class INaturalist(VisionDataset):
    """``root/<version>/<category dirs>/<images>``: 2021 directories are named
    ``NNNNN_kingdom_phylum_class_order_family_genus_species``; earlier versions are
    ``<super category>/<category>``. Targets ``full`` and the taxonomy levels."""

    def __init__(self, root, version="2021_train", target_type="full", transform=None, target_transform=None,
                 download=False, loader=None):
        self.version = verify_str_arg(version, "version", _VERSIONS)
        super().__init__(os.path.join(root, version), transform=transform, target_transform=target_transform)
        if not (os.path.exists(self.root) and len(os.listdir(self.root)) > 0):
            raise no_download("INaturalist", self.root, "https://github.com/visipedia/inat_comp")
        self.all_categories, self.categories_index, self.categories_map = [], {}, []
        if not isinstance(target_type, list):
            target_type = [target_type]
        if self.version[:4] == "2021":
            self.target_type = [verify_str_arg(t, "target_type", ("full", *CATEGORIES_2021)) for t in target_type]
            self._init_2021()
        else:
            self.target_type = [verify_str_arg(t, "target_type", ("full", "super")) for t in target_type]
            self._init_pre2021()
        self.index = []
        for dir_index, dir_name in enumerate(self.all_categories):
            for fname in os.listdir(os.path.join(self.root, dir_name)):
                self.index.append((dir_index, fname))
        self.loader = loader

    def _init_2021(self):
        self.all_categories = sorted(os.listdir(self.root))
        self.categories_index = {k: {} for k in CATEGORIES_2021}
        for dir_index, dir_name in enumerate(self.all_categories):
            pieces = dir_name.split("_")
            if len(pieces) != 8:
                raise RuntimeError(f"Unexpected category name {dir_name}, wrong number of pieces")
            if pieces[0] != f"{dir_index:05d}":
                raise RuntimeError(f"Unexpected category id {pieces[0]}, expecting {dir_index:05d}")
            cat_map = {}
            for cat, name in zip(CATEGORIES_2021, pieces[1:7]):
                if name not in self.categories_index[cat]:
                    self.categories_index[cat][name] = len(self.categories_index[cat])
                cat_map[cat] = self.categories_index[cat][name]
            self.categories_map.append(cat_map)

    def _init_pre2021(self):
        self.categories_index = {"super": {}}
        cat_index = 0
        for sindex, scat in enumerate(sorted(os.listdir(self.root))):
            self.categories_index["super"][scat] = sindex
            for subcat in sorted(os.listdir(os.path.join(self.root, scat))):
                if self.version == "2017":
                    subcat_i = cat_index
                    cat_index += 1
                else:
                    try:
                        subcat_i = int(subcat)
                    except ValueError:
                        raise RuntimeError(f"Unexpected non-numeric dir name: {subcat}") from None
                if subcat_i >= len(self.categories_map):
                    extra = subcat_i - len(self.categories_map) + 1
                    self.categories_map.extend([{}] * extra)
                    self.all_categories.extend([""] * extra)
                if self.categories_map[subcat_i]:
                    raise RuntimeError(f"Duplicate category {subcat}")
                self.categories_map[subcat_i] = {"super": sindex}
                self.all_categories[subcat_i] = os.path.join(scat, subcat)
        for cindex, c in enumerate(self.categories_map):
            if not c:
                raise RuntimeError(f"Missing category {cindex}")

    def __getitem__(self, index):
        cat_id, fname = self.index[index]
        image_path = os.path.join(self.root, self.all_categories[cat_id], fname)
        img = self.loader(image_path) if self.loader is not None else _pil_image().open(image_path)
        target = [cat_id if t == "full" else self.categories_map[cat_id][t] for t in self.target_type]
        target = tuple(target) if len(target) > 1 else target[0]
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.index)

    def category_name(self, category_type, category_id):
        if category_type == "full":
            return self.all_categories[category_id]
        if category_type not in self.categories_index:
            raise ValueError(f"Invalid category type '{category_type}'")
        for name, id in self.categories_index[category_type].items():
            if id == category_id:
                return name
        raise ValueError(f"Invalid category id {category_id} for {category_type}")
