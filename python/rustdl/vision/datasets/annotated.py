"""Datasets with structured targets read from their published local layouts, as
torchvision reads them: captions (SBU, Flickr8k, Flickr30k, COCO captions), detection
annotations (COCO, Pascal VOC, KITTI, WIDER FACE), segmentation (VOC) and CelebA's
attribute tables. Integer tables become rustdl int64 tensors where torchvision gives
tensors. Nothing is downloaded."""

import collections
import csv
import glob
import json
import os
from html.parser import HTMLParser
from xml.etree.ElementTree import parse as ET_parse

import numpy as np

import rustdl

from ..utils import _pil_image
from ._local import no_download, verify_str_arg
from .folder import default_loader
from .vision import VisionDataset

__all__ = ["SBU", "CelebA", "CocoCaptions", "CocoDetection", "Flickr8k", "Flickr30k", "Kitti", "VOCDetection",
           "VOCSegmentation", "WIDERFace"]


def _open(path):
    return _pil_image().open(path)


class SBU(VisionDataset):
    """``root/dataset/SBU_captioned_photo_dataset_{urls,captions}.txt`` and the photos
    (named after their URL) in ``root/dataset``; only photos present are listed."""

    def __init__(self, root, transform=None, target_transform=None, download=True, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.loader = loader
        file1 = os.path.join(self.root, "dataset", "SBU_captioned_photo_dataset_urls.txt")
        file2 = os.path.join(self.root, "dataset", "SBU_captioned_photo_dataset_captions.txt")
        if not (os.path.isfile(file1) and os.path.isfile(file2)):
            raise no_download("SBU", os.path.join(self.root, "dataset"),
                              "https://www.cs.rice.edu/~vo9/sbucaptions/ (the photos themselves from their URLs)")
        self.photos, self.captions = [], []
        with open(file1) as f1, open(file2) as f2:
            for line1, line2 in zip(f1, f2):
                photo = os.path.basename(line1.rstrip())
                if os.path.exists(os.path.join(self.root, "dataset", photo)):
                    self.photos.append(photo)
                    self.captions.append(line2.rstrip())

    def __getitem__(self, index):
        img = self.loader(os.path.join(self.root, "dataset", self.photos[index]))
        if self.transform is not None:
            img = self.transform(img)
        target = self.captions[index]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.photos)


class Flickr8kParser(HTMLParser):
    """Reads Flickr8k's HTML annotation page: an image link then its caption list items."""

    def __init__(self, root):
        super().__init__()
        self.root = root
        self.annotations = {}
        self.in_table = False
        self.current_tag = None
        self.current_img = None

    def handle_starttag(self, tag, attrs):
        self.current_tag = tag
        if tag == "table":
            self.in_table = True

    def handle_endtag(self, tag):
        self.current_tag = None
        if tag == "table":
            self.in_table = False

    def handle_data(self, data):
        if not self.in_table:
            return
        if data == "Image Not Found":
            self.current_img = None
        elif self.current_tag == "a":
            img_id = data.split("/")[-2]
            img_id = glob.glob(os.path.join(self.root, img_id + "_*.jpg"))[0]
            self.current_img = img_id
            self.annotations[img_id] = []
        elif self.current_tag == "li" and self.current_img:
            self.annotations[self.current_img].append(data.strip())


class _Captions(VisionDataset):
    def __getitem__(self, index):
        img_id = self.ids[index]
        img = self.loader(self._path(img_id))
        if self.transform is not None:
            img = self.transform(img)
        target = self.annotations[img_id]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.ids)


class Flickr8k(_Captions):
    def __init__(self, root, ann_file, transform=None, target_transform=None, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.ann_file = os.path.expanduser(ann_file)
        parser = Flickr8kParser(self.root)
        with open(self.ann_file) as fh:
            parser.feed(fh.read())
        self.annotations = parser.annotations
        self.ids = sorted(self.annotations.keys())
        self.loader = loader

    def _path(self, img_id):
        return img_id


class Flickr30k(_Captions):
    """``ann_file`` lines ``<image>#<n>\\t<caption>``."""

    def __init__(self, root, ann_file, transform=None, target_transform=None, loader=default_loader):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.ann_file = os.path.expanduser(ann_file)
        self.annotations = collections.defaultdict(list)
        with open(self.ann_file) as fh:
            for line in fh:
                img_id, caption = line.strip().split("\t")
                self.annotations[img_id[:-2]].append(caption)
        self.ids = sorted(self.annotations.keys())
        self.loader = loader

    def _path(self, img_id):
        return os.path.join(self.root, img_id)


class _COCO:
    """The part of pycocotools' ``COCO`` index the datasets use: images, annotations by
    image (in file order), ``getAnnIds`` / ``loadAnns`` / ``loadImgs``."""

    def __init__(self, annotation_file):
        with open(annotation_file) as f:
            self.dataset = json.load(f)
        if not isinstance(self.dataset, dict):
            raise TypeError(f"annotation file format {type(self.dataset)} not supported")
        self.anns, self.imgs, self.cats = {}, {}, {}
        self.imgToAnns = collections.defaultdict(list)
        for ann in self.dataset.get("annotations", []):
            self.imgToAnns[ann["image_id"]].append(ann)
            self.anns[ann["id"]] = ann
        for img in self.dataset.get("images", []):
            self.imgs[img["id"]] = img
        for cat in self.dataset.get("categories", []):
            self.cats[cat["id"]] = cat

    def getAnnIds(self, imgIds=()):
        ids = imgIds if isinstance(imgIds, (list, tuple)) else [imgIds]
        return [ann["id"] for i in ids if i in self.imgToAnns for ann in self.imgToAnns[i]]

    def loadAnns(self, ids=()):
        return [self.anns[i] for i in (ids if isinstance(ids, (list, tuple)) else [ids])]

    def loadImgs(self, ids=()):
        return [self.imgs[i] for i in (ids if isinstance(ids, (list, tuple)) else [ids])]


class CocoDetection(VisionDataset):
    """MS COCO detection: images under ``root``, annotations from the ``annFile`` JSON
    (indexed as pycocotools does; pycocotools itself is not needed). The target is the
    list of the image's annotation dicts."""

    def __init__(self, root, annFile, transform=None, target_transform=None, transforms=None):
        super().__init__(root, transforms, transform, target_transform)
        self.coco = _COCO(annFile)
        self.ids = sorted(self.coco.imgs.keys())

    def _load_image(self, id):
        path = self.coco.loadImgs(id)[0]["file_name"]
        return _open(os.path.join(self.root, path)).convert("RGB")

    def _load_target(self, id):
        return self.coco.loadAnns(self.coco.getAnnIds(id))

    def __getitem__(self, index):
        if not isinstance(index, int):
            raise ValueError(f"Index must be of type integer, got {type(index)} instead.")  # noqa: TRY004 (torchvision raises ValueError)
        id = self.ids[index]
        image, target = self._load_image(id), self._load_target(id)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def __len__(self):
        return len(self.ids)


class CocoCaptions(CocoDetection):
    """MS COCO captions: the target is the image's list of caption strings."""

    def _load_target(self, id):
        return [ann["caption"] for ann in super()._load_target(id)]


_VOC_BASE_DIRS = {"2011": os.path.join("TrainVal", "VOCdevkit", "VOC2011")}


class _VOCBase(VisionDataset):
    _SPLITS_DIR = _TARGET_DIR = _TARGET_FILE_EXT = None

    def __init__(self, root, year="2012", image_set="train", download=False, transform=None, target_transform=None,
                 transforms=None):
        super().__init__(root, transforms, transform, target_transform)
        self.year = verify_str_arg(year, "year", valid_values=[str(yr) for yr in range(2007, 2013)])
        valid_image_sets = ["train", "trainval", "val"]
        if year == "2007":
            valid_image_sets.append("test")
        self.image_set = verify_str_arg(image_set, "image_set", valid_image_sets)
        voc_root = os.path.join(self.root, _VOC_BASE_DIRS.get(year, os.path.join("VOCdevkit", f"VOC{year}")))
        if not os.path.isdir(voc_root):
            raise no_download(type(self).__name__, voc_root, "http://host.robots.ox.ac.uk/pascal/VOC/")
        split_f = os.path.join(voc_root, "ImageSets", self._SPLITS_DIR, image_set.rstrip("\n") + ".txt")
        with open(split_f) as f:
            file_names = [x.strip() for x in f]
        self.images = [os.path.join(voc_root, "JPEGImages", x + ".jpg") for x in file_names]
        self.targets = [os.path.join(voc_root, self._TARGET_DIR, x + self._TARGET_FILE_EXT) for x in file_names]

    def __len__(self):
        return len(self.images)


class VOCSegmentation(_VOCBase):
    """Pascal VOC segmentation: ``(RGB image, palette PNG mask)``."""

    _SPLITS_DIR = "Segmentation"
    _TARGET_DIR = "SegmentationClass"
    _TARGET_FILE_EXT = ".png"

    @property
    def masks(self):
        return self.targets

    def __getitem__(self, index):
        img = _open(self.images[index]).convert("RGB")
        target = _open(self.masks[index])
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target


class VOCDetection(_VOCBase):
    """Pascal VOC detection: ``(RGB image, the annotation XML as nested dicts)``."""

    _SPLITS_DIR = "Main"
    _TARGET_DIR = "Annotations"
    _TARGET_FILE_EXT = ".xml"

    @property
    def annotations(self):
        return self.targets

    def __getitem__(self, index):
        img = _open(self.images[index]).convert("RGB")
        target = self.parse_voc_xml(ET_parse(self.annotations[index]).getroot())
        if self.transforms is not None:
            img, target = self.transforms(img, target)
        return img, target

    @staticmethod
    def parse_voc_xml(node):
        voc_dict = {}
        children = list(node)
        if children:
            def_dic = collections.defaultdict(list)
            for dc in map(VOCDetection.parse_voc_xml, children):
                for ind, v in dc.items():
                    def_dic[ind].append(v)
            if node.tag == "annotation":
                def_dic["object"] = [def_dic["object"]]
            voc_dict = {node.tag: {ind: v[0] if len(v) == 1 else v for ind, v in def_dic.items()}}
        if node.text:
            text = node.text.strip()
            if not children:
                voc_dict[node.tag] = text
        return voc_dict


class Kitti(VisionDataset):
    """KITTI 2D objects: ``root/Kitti/raw/{training,testing}/image_2`` and ``label_2``."""

    image_dir_name = "image_2"
    labels_dir_name = "label_2"

    def __init__(self, root, train=True, transform=None, target_transform=None, transforms=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform, transforms=transforms)
        self.images, self.targets = [], []
        self.train = train
        self._location = "training" if self.train else "testing"
        folders = [self.image_dir_name] + ([self.labels_dir_name] if self.train else [])
        if not all(os.path.isdir(os.path.join(self._raw_folder, self._location, f)) for f in folders):
            raise no_download("Kitti", os.path.join(self._raw_folder, self._location),
                              "https://www.cvlibs.net/datasets/kitti/eval_object.php")
        image_dir = os.path.join(self._raw_folder, self._location, self.image_dir_name)
        labels_dir = os.path.join(self._raw_folder, self._location, self.labels_dir_name)
        for img_file in os.listdir(image_dir):
            self.images.append(os.path.join(image_dir, img_file))
            if self.train:
                self.targets.append(os.path.join(labels_dir, f"{img_file.split('.')[0]}.txt"))

    def __getitem__(self, index):
        image = _open(self.images[index])
        target = self._parse_target(index) if self.train else None
        if self.transforms:
            image, target = self.transforms(image, target)
        return image, target

    def _parse_target(self, index):
        target = []
        with open(self.targets[index]) as inp:
            for line in csv.reader(inp, delimiter=" "):
                target.append({
                    "type": line[0], "truncated": float(line[1]), "occluded": int(line[2]), "alpha": float(line[3]),
                    "bbox": [float(x) for x in line[4:8]], "dimensions": [float(x) for x in line[8:11]],
                    "location": [float(x) for x in line[11:14]], "rotation_y": float(line[14]),
                })
        return target

    def __len__(self):
        return len(self.images)

    @property
    def _raw_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "raw")


class WIDERFace(VisionDataset):
    """``root/widerface/{WIDER_train,WIDER_val,WIDER_test,wider_face_split}``; targets are
    dicts of int64 tensors (``bbox`` x, y, w, h; ``blur``, ``expression``, ...)."""

    BASE_FOLDER = "widerface"

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False):
        super().__init__(root=os.path.join(root, self.BASE_FOLDER), transform=transform,
                         target_transform=target_transform)
        self.split = verify_str_arg(split, "split", ("train", "val", "test"))
        for folder in ("WIDER_train", "WIDER_val", "WIDER_test", "wider_face_split"):
            if not os.path.exists(os.path.join(self.root, folder)):
                raise no_download("WIDERFace", os.path.join(self.root, folder), "http://shuoyang1213.me/WIDERFACE/")
        self.img_info = []
        if self.split in ("train", "val"):
            self.parse_train_val_annotations_file()
        else:
            self.parse_test_annotations_file()

    def __getitem__(self, index):
        img = _open(self.img_info[index]["img_path"])
        if self.transform is not None:
            img = self.transform(img)
        target = None if self.split == "test" else self.img_info[index]["annotations"]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.img_info)

    def extra_repr(self):
        return f"Split: {self.split}"

    def parse_train_val_annotations_file(self):
        filename = "wider_face_train_bbx_gt.txt" if self.split == "train" else "wider_face_val_bbx_gt.txt"
        filepath = os.path.join(self.root, "wider_face_split", filename)
        with open(filepath) as f:
            lines = f.readlines()
        file_name_line, num_boxes_line, box_annotation_line = True, False, False
        num_boxes = box_counter = 0
        labels = []
        for line in lines:
            line = line.rstrip()
            if file_name_line:
                img_path = os.path.abspath(os.path.expanduser(
                    os.path.join(self.root, "WIDER_" + self.split, "images", line)))
                file_name_line, num_boxes_line = False, True
            elif num_boxes_line:
                num_boxes = int(line)
                num_boxes_line, box_annotation_line = False, True
            elif box_annotation_line:
                box_counter += 1
                labels.append([int(x) for x in line.split(" ")])
                if box_counter >= num_boxes:
                    box_annotation_line, file_name_line = False, True
                    t = np.array(labels, dtype=np.int64).reshape(-1, 10)
                    self.img_info.append({"img_path": img_path, "annotations": {
                        "bbox": rustdl.from_numpy(np.ascontiguousarray(t[:, 0:4])),
                        **{name: rustdl.from_numpy(np.ascontiguousarray(t[:, i])) for i, name in enumerate(
                            ("blur", "expression", "illumination", "occlusion", "pose", "invalid"), start=4)},
                    }})
                    box_counter = 0
                    labels.clear()
            else:
                raise RuntimeError(f"Error parsing annotation file {filepath}")

    def parse_test_annotations_file(self):
        filepath = os.path.abspath(os.path.join(self.root, "wider_face_split", "wider_face_test_filelist.txt"))
        with open(filepath) as f:
            for line in f:
                img_path = os.path.join(self.root, "WIDER_test", "images", line.rstrip())
                self.img_info.append({"img_path": os.path.abspath(os.path.expanduser(img_path))})


_CelebACSV = collections.namedtuple("CSV", ["header", "index", "data"])


class CelebA(VisionDataset):
    """``root/celeba/``: ``img_align_celeba/`` and the attribute, identity, bbox,
    landmark and partition tables; targets ``attr`` (0/1), ``identity``, ``bbox``,
    ``landmarks`` as int64 tensors."""

    base_folder = "celeba"
    _files = ("list_attr_celeba.txt", "identity_CelebA.txt", "list_bbox_celeba.txt",
              "list_landmarks_align_celeba.txt", "list_eval_partition.txt")

    def __init__(self, root, split="train", target_type="attr", transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = split
        self.target_type = target_type if isinstance(target_type, list) else [target_type]
        if not self.target_type and self.target_transform is not None:
            raise RuntimeError("target_transform is specified but target_type is empty")
        base = os.path.join(self.root, self.base_folder)
        for f in (*self._files, "img_align_celeba"):
            if not os.path.exists(os.path.join(base, f)):
                raise no_download("CelebA", os.path.join(base, f), "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html")
        split_map = {"train": 0, "valid": 1, "test": 2, "all": None}
        split_ = split_map[verify_str_arg(split.lower() if isinstance(split, str) else split, "split",
                                          ("train", "valid", "test", "all"))]
        splits = self._load_csv("list_eval_partition.txt")
        identity = self._load_csv("identity_CelebA.txt")
        bbox = self._load_csv("list_bbox_celeba.txt", header=1)
        landmarks_align = self._load_csv("list_landmarks_align_celeba.txt", header=1)
        attr = self._load_csv("list_attr_celeba.txt", header=1)
        mask = slice(None) if split_ is None else (splits.data == split_).reshape(-1)
        self.filename = splits.index if split_ is None else [splits.index[i] for i in np.nonzero(mask)[0]]
        self.identity = rustdl.from_numpy(np.ascontiguousarray(identity.data[mask]))
        self.bbox = rustdl.from_numpy(np.ascontiguousarray(bbox.data[mask]))
        self.landmarks_align = rustdl.from_numpy(np.ascontiguousarray(landmarks_align.data[mask]))
        self.attr = rustdl.from_numpy(np.ascontiguousarray((attr.data[mask] + 1) // 2))
        self.attr_names = attr.header

    def _load_csv(self, filename, header=None):
        with open(os.path.join(self.root, self.base_folder, filename)) as csv_file:
            data = list(csv.reader(csv_file, delimiter=" ", skipinitialspace=True))
        headers = []
        if header is not None:
            headers = data[header]
            data = data[header + 1:]
        indices = [row[0] for row in data]
        values = np.array([list(map(int, row[1:])) for row in data], dtype=np.int64)
        return _CelebACSV(headers, indices, values.reshape(len(data), -1))

    def __getitem__(self, index):
        X = _open(os.path.join(self.root, self.base_folder, "img_align_celeba", self.filename[index]))
        target = []
        for t in self.target_type:
            if t == "attr":
                target.append(self.attr[index, :])
            elif t == "identity":
                target.append(self.identity[index, 0])
            elif t == "bbox":
                target.append(self.bbox[index, :])
            elif t == "landmarks":
                target.append(self.landmarks_align[index, :])
            else:
                raise ValueError(f'Target type "{t}" is not recognized.')
        if self.transform is not None:
            X = self.transform(X)
        if target:
            target = tuple(target) if len(target) > 1 else target[0]
            if self.target_transform is not None:
                target = self.target_transform(target)
        else:
            target = None
        return X, target

    def __len__(self):
        return len(self.attr)

    def extra_repr(self):
        return f"Target type: {self.target_type}\nSplit: {self.split}"
