"""Stereo-matching datasets read from their local layouts as torchvision reads them:
samples ``(left, right, disparity)`` or ``(left, right, disparity, valid_mask)``, the
disparity a ``(1, H, W)`` numpy array decoded from each dataset's format (``.pfm``,
scaled 16-bit PNGs, Sintel's RGB encoding, FallingThings' depth). Nothing is
downloaded."""

import json
import os
import random
from glob import glob
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..utils import _pil_image
from ._local import no_download, verify_str_arg
from .optical_flow import _read_pfm
from .vision import VisionDataset

__all__ = [
    "CREStereo", "CarlaStereo", "ETH3DStereo", "FallingThingsStereo", "InStereo2k", "Kitti2012Stereo",
    "Kitti2015Stereo", "Middlebury2014Stereo", "SceneFlowStereo", "SintelStereo",
]


def _read_pfm_file(file_path):
    return _read_pfm(file_path, slice_channels=1)


def _open(path):
    return _pil_image().open(path)


class StereoMatchingDataset(VisionDataset):
    _has_built_in_disparity_mask = False

    def __init__(self, root, transforms=None):
        super().__init__(root=root)
        self.transforms = transforms
        self._images = []
        self._disparities = []

    def _read_img(self, file_path):
        img = _open(file_path)
        return img.convert("RGB") if img.mode != "RGB" else img

    def _scan_pairs(self, paths_left_pattern, paths_right_pattern=None):
        left_paths = sorted(glob(paths_left_pattern))
        right_paths = sorted(glob(paths_right_pattern)) if paths_right_pattern else [None for _ in left_paths]
        if not left_paths:
            raise FileNotFoundError(f"Could not find any files matching the patterns: {paths_left_pattern}")
        if not right_paths:
            raise FileNotFoundError(f"Could not find any files matching the patterns: {paths_right_pattern}")
        if len(left_paths) != len(right_paths):
            raise ValueError(
                f"Found {len(left_paths)} left files but {len(right_paths)} right files using:\n "
                f"left pattern: {paths_left_pattern}\nright pattern: {paths_right_pattern}\n"
            )
        return list(zip(left_paths, right_paths))

    def _read_disparity(self, file_path):
        raise NotImplementedError

    def __getitem__(self, index):
        img_left = self._read_img(self._images[index][0])
        img_right = self._read_img(self._images[index][1])
        dsp_left, valid_left = self._read_disparity(self._disparities[index][0])
        dsp_right, valid_right = self._read_disparity(self._disparities[index][1])
        imgs, dsp_maps, valid_masks = (img_left, img_right), (dsp_left, dsp_right), (valid_left, valid_right)
        if self.transforms is not None:
            imgs, dsp_maps, valid_masks = self.transforms(imgs, dsp_maps, valid_masks)
        if self._has_built_in_disparity_mask or valid_masks[0] is not None:
            return imgs[0], imgs[1], dsp_maps[0], valid_masks[0]
        return imgs[0], imgs[1], dsp_maps[0]

    def __len__(self):
        return len(self._images)


class CarlaStereo(StereoMatchingDataset):
    """``root/carla-highres/trainingF/<scene>/{im0,im1}.png`` and ``disp{0,1}GT.pfm``."""

    def __init__(self, root, transforms=None):
        super().__init__(root, transforms)
        root = Path(root) / "carla-highres"
        self._images = self._scan_pairs(str(root / "trainingF" / "*" / "im0.png"),
                                        str(root / "trainingF" / "*" / "im1.png"))
        self._disparities = self._scan_pairs(str(root / "trainingF" / "*" / "disp0GT.pfm"),
                                             str(root / "trainingF" / "*" / "disp1GT.pfm"))

    def _read_disparity(self, file_path):
        return np.abs(_read_pfm_file(file_path)), None


class _KittiStereo(StereoMatchingDataset):
    _has_built_in_disparity_mask = True

    def _read_disparity(self, file_path):
        if file_path is None:
            return None, None
        return (np.asarray(_open(file_path)) / 256.0)[None, :, :], None


class Kitti2012Stereo(_KittiStereo):
    """``root/Kitti2012/{training,testing}/colored_{0,1}/*_10.png``, ``disp_noc/*.png`` (/256)."""

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        root = Path(root) / "Kitti2012" / (split + "ing")
        self._images = self._scan_pairs(str(root / "colored_0" / "*_10.png"), str(root / "colored_1" / "*_10.png"))
        if split == "train":
            self._disparities = self._scan_pairs(str(root / "disp_noc" / "*.png"), None)
        else:
            self._disparities = [(None, None) for _ in self._images]


class Kitti2015Stereo(_KittiStereo):
    """``root/Kitti2015/{training,testing}/image_{2,3}/*.png``, ``disp_occ_{0,1}/*.png`` (/256)."""

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        root = Path(root) / "Kitti2015" / (split + "ing")
        self._images = self._scan_pairs(str(root / "image_2" / "*.png"), str(root / "image_3" / "*.png"))
        if split == "train":
            self._disparities = self._scan_pairs(str(root / "disp_occ_0" / "*.png"), str(root / "disp_occ_1" / "*.png"))
        else:
            self._disparities = [(None, None) for _ in self._images]


class Middlebury2014Stereo(StereoMatchingDataset):
    """``root/Middlebury2014/<split>/<scene>[-perfect|-imperfect]/{im0,im1}.png``,
    ``disp{0,1}.pfm``; with ``use_ambient_views`` the right view is drawn (``random``)
    among ``im1E``/``im1L``/``im1``."""

    splits: ClassVar[dict] = {
        "train": ["Adirondack", "Jadeplant", "Motorcycle", "Piano", "Pipes", "Playroom", "Playtable", "Recycle",
                  "Shelves", "Vintage"],
        "additional": ["Backpack", "Bicycle1", "Cable", "Classroom1", "Couch", "Flowers", "Mask", "Shopvac",
                       "Sticks", "Storage", "Sword1", "Sword2", "Umbrella"],
        "test": ["Plants", "Classroom2E", "Classroom2", "Australia", "DjembeL", "CrusadeP", "Crusade", "Hoops",
                 "Bicycle2", "Staircase", "Newkuba", "AustraliaP", "Djembe", "Livingroom", "Computer"],
    }
    _has_built_in_disparity_mask = True

    def __init__(self, root, split="train", calibration="perfect", use_ambient_views=False, transforms=None,
                 download=False):
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test", "additional"))
        self.split = split
        if calibration:
            verify_str_arg(calibration, "calibration", valid_values=("perfect", "imperfect", "both", None))
            if split == "test":
                raise ValueError("Split 'test' has only no calibration settings, please set `calibration=None`.")
        elif split != "test":
            raise ValueError(
                f"Split '{split}' has calibration settings, however None was provided as an argument.\n"
                f"Setting calibration to 'perfect' for split '{split}'. Available calibration settings are: "
                "'perfect', 'imperfect', 'both'."
            )
        root = Path(root) / "Middlebury2014"
        if not os.path.exists(root / split):
            if download:
                raise no_download("Middlebury2014Stereo", root / split,
                                  "https://vision.middlebury.edu/stereo/data/scenes2014/")
            raise FileNotFoundError(f"The {split} directory was not found in the provided root directory")
        if not any(scene.startswith(s) for scene in os.listdir(root / split) for s in self.splits[split]):
            raise FileNotFoundError(f"Provided root folder does not contain any scenes from the {split} split.")
        suffixes = {None: [""], "perfect": ["-perfect"], "imperfect": ["-imperfect"],
                    "both": ["-perfect", "-imperfect"]}[calibration]
        for suffix in suffixes:
            pattern = "*" + suffix
            self._images += self._scan_pairs(str(root / split / pattern / "im0.png"),
                                             str(root / split / pattern / "im1.png"))
            if split == "test":
                self._disparities = [(None, None) for _ in self._images]
            else:
                self._disparities += self._scan_pairs(str(root / split / pattern / "disp0.pfm"),
                                                      str(root / split / pattern / "disp1.pfm"))
        self.use_ambient_views = use_ambient_views

    def _read_img(self, file_path):
        file_path = Path(file_path)
        if file_path.name == "im1.png" and self.use_ambient_views:
            candidates = [p for p in (file_path.parent / n for n in ("im1E.png", "im1L.png")) if os.path.exists(p)]
            candidates.append(file_path)
            file_path = random.choice(candidates)
        return super()._read_img(file_path)

    def _read_disparity(self, file_path):
        if file_path is None:
            return None, None
        disparity_map = np.abs(_read_pfm_file(file_path))
        disparity_map[disparity_map == np.inf] = 0
        return disparity_map, (disparity_map > 0).squeeze(0)


class CREStereo(StereoMatchingDataset):
    """``root/CREStereo/{shapenet,reflective,tree,hole}/*_{left,right}.jpg`` and ``.disp.png`` (/32)."""

    _has_built_in_disparity_mask = True

    def __init__(self, root, transforms=None):
        super().__init__(root, transforms)
        root = Path(root) / "CREStereo"
        for s in ("shapenet", "reflective", "tree", "hole"):
            self._images += self._scan_pairs(str(root / s / "*_left.jpg"), str(root / s / "*_right.jpg"))
            self._disparities += self._scan_pairs(str(root / s / "*_left.disp.png"), str(root / s / "*_right.disp.png"))

    def _read_disparity(self, file_path):
        return np.asarray(_open(file_path), dtype=np.float32)[None, :, :] / 32.0, None


class FallingThingsStereo(StereoMatchingDataset):
    """``root/FallingThings/{single/*/*,mixed/*}/*.{left,right}.jpg`` with depth PNGs and
    ``_camera_settings.json`` (disparity = 6 * fx * 100 / depth)."""

    def __init__(self, root, variant="single", transforms=None):
        super().__init__(root, transforms)
        root = Path(root) / "FallingThings"
        verify_str_arg(variant, "variant", valid_values=("single", "mixed", "both"))
        variants = {"single": ["single"], "mixed": ["mixed"], "both": ["single", "mixed"]}[variant]
        split_prefix = {"single": Path("*") / "*", "mixed": Path("*")}
        for s in variants:
            folder = root / s / split_prefix[s]
            self._images += self._scan_pairs(str(folder / "*.left.jpg"), str(folder / "*.right.jpg"))
            self._disparities += self._scan_pairs(str(folder / "*.left.depth.png"), str(folder / "*.right.depth.png"))

    def _read_disparity(self, file_path):
        depth = np.asarray(_open(file_path))
        with open(Path(file_path).parent / "_camera_settings.json") as f:
            focal = json.load(f)["camera_settings"][0]["intrinsic_settings"]["fx"]
        baseline, pixel_constant = 6, 100
        return (baseline * focal * pixel_constant / depth.astype(np.float32))[None, :, :], None


class SceneFlowStereo(StereoMatchingDataset):
    """``root/SceneFlow/<variant>/frames_{clean,final}pass/.../{left,right}/*.png`` and
    ``disparity/.../{left,right}/*.pfm``."""

    def __init__(self, root, variant="FlyingThings3D", pass_name="clean", transforms=None):
        super().__init__(root, transforms)
        root = Path(root) / "SceneFlow"
        verify_str_arg(variant, "variant", valid_values=("FlyingThings3D", "Driving", "Monkaa"))
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = {"clean": ["frames_cleanpass"], "final": ["frames_finalpass"],
                  "both": ["frames_cleanpass", "frames_finalpass"]}[pass_name]
        root = root / variant
        prefix = {"Monkaa": Path("*"), "FlyingThings3D": Path("*") / "*" / "*", "Driving": Path("*") / "*" / "*"}
        for p in passes:
            self._images += self._scan_pairs(str(root / p / prefix[variant] / "left" / "*.png"),
                                             str(root / p / prefix[variant] / "right" / "*.png"))
            self._disparities += self._scan_pairs(str(root / "disparity" / prefix[variant] / "left" / "*.pfm"),
                                                  str(root / "disparity" / prefix[variant] / "right" / "*.pfm"))

    def _read_disparity(self, file_path):
        return np.abs(_read_pfm_file(file_path)), None


class SintelStereo(StereoMatchingDataset):
    """``root/Sintel/training/{final,clean}_{left,right}/<scene>/*.png``; disparities in
    ``disparities`` (RGB-encoded), validity from ``occlusions`` and ``outofframe``."""

    _has_built_in_disparity_mask = True

    def __init__(self, root, pass_name="final", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(pass_name, "pass_name", valid_values=("final", "clean", "both"))
        root = Path(root) / "Sintel"
        for p in {"final": ["final"], "clean": ["clean"], "both": ["final", "clean"]}[pass_name]:
            self._images += self._scan_pairs(str(root / "training" / f"{p}_left" / "*" / "*.png"),
                                             str(root / "training" / f"{p}_right" / "*" / "*.png"))
            self._disparities += self._scan_pairs(str(root / "training" / "disparities" / "*" / "*.png"), None)

    def _get_occlussion_mask_paths(self, file_path):
        fpath = Path(file_path)
        sampledir = fpath.parent.parent.parent
        occlusion_path = str(sampledir / "occlusions" / fpath.parent.name / fpath.name)
        outofframe_path = str(sampledir / "outofframe" / fpath.parent.name / fpath.name)
        if not os.path.exists(occlusion_path):
            raise FileNotFoundError(f"Occlusion mask {occlusion_path} does not exist")
        if not os.path.exists(outofframe_path):
            raise FileNotFoundError(f"Out of frame mask {outofframe_path} does not exist")
        return occlusion_path, outofframe_path

    def _read_disparity(self, file_path):
        if file_path is None:
            return None, None
        rgb = np.asarray(_open(file_path), dtype=np.float32)
        r, g, b = np.split(rgb, 3, axis=-1)
        disparity_map = np.transpose(r * 4 + g / 2**6 + b / 2**14, (2, 0, 1))
        occluded_path, out_of_frame_path = self._get_occlussion_mask_paths(file_path)
        valid_mask = np.asarray(_open(occluded_path)) == 0
        off_mask = np.asarray(_open(out_of_frame_path)) == 0
        return disparity_map, np.logical_and(off_mask, valid_mask)


class InStereo2k(StereoMatchingDataset):
    """``root/InStereo2k/<split>/<scene>/{left,right}.png`` and ``*_disp.png`` (/1024)."""

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root, transforms)
        root = Path(root) / "InStereo2k" / split
        verify_str_arg(split, "split", valid_values=("train", "test"))
        self._images = self._scan_pairs(str(root / "*" / "left.png"), str(root / "*" / "right.png"))
        self._disparities = self._scan_pairs(str(root / "*" / "left_disp.png"), str(root / "*" / "right_disp.png"))

    def _read_disparity(self, file_path):
        return np.asarray(_open(file_path), dtype=np.float32)[None, :, :] / 1024.0, None


class ETH3DStereo(StereoMatchingDataset):
    """``root/ETH3D/two_view_{training,test}/<scene>/{im0,im1}.png`` with
    ``two_view_training_gt/<scene>/disp0GT.pfm`` and ``mask0nocc.png``."""

    _has_built_in_disparity_mask = True

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root, transforms)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        root = Path(root) / "ETH3D"
        img_dir = "two_view_training" if split == "train" else "two_view_test"
        self._images = self._scan_pairs(str(root / img_dir / "*" / "im0.png"), str(root / img_dir / "*" / "im1.png"))
        if split == "test":
            self._disparities = [(None, None) for _ in self._images]
        else:
            self._disparities = self._scan_pairs(str(root / "two_view_training_gt" / "*" / "disp0GT.pfm"), None)

    def _read_disparity(self, file_path):
        if file_path is None:
            return None, None
        disparity_map = np.abs(_read_pfm_file(file_path))
        valid_mask = np.asarray(_open(Path(file_path).parent / "mask0nocc.png")).astype(bool)
        return disparity_map, valid_mask
