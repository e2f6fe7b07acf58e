"""Optical-flow datasets (``FlyingChairs``, ``FlyingThings3D``, ``Sintel``, ``KittiFlow``,
``HD1K``) read from their local layouts as torchvision reads them: samples are
``(img1, img2, flow)`` or, where the format carries a validity mask,
``(img1, img2, flow, valid_flow_mask)``, with the flow a ``(2, H, W)`` float32 numpy
array. The flow formats are read here: Middlebury ``.flo``, ``.pfm`` and KITTI's 16-bit
PNG (decoded by a small PNG reader, since Pillow keeps only 8 bits of 16-bit RGB)."""

import itertools
import os
import re
import struct
import zlib
from glob import glob
from pathlib import Path

import numpy as np

from ._local import verify_str_arg
from .folder import default_loader
from .vision import VisionDataset

__all__ = ["HD1K", "FlyingChairs", "FlyingThings3D", "KittiFlow", "Sintel"]


def _read_flo(file_name):
    """Middlebury ``.flo``: ``PIEH``, width, height (int32), then (u, v) float32 per pixel."""
    with open(file_name, "rb") as f:
        magic = f.read(4)
        if magic != b"PIEH":
            raise ValueError("Magic number incorrect. Invalid .flo file")
        w = np.fromfile(f, "<i4", count=1).item()
        h = np.fromfile(f, "<i4", count=1).item()
        data = np.fromfile(f, "<f4", count=2 * w * h)
    return data.reshape(h, w, 2).transpose(2, 0, 1)


def _read_pfm(file_name, slice_channels=2):
    """``.pfm``: ``PF`` (3 channels) or ``Pf`` (1), size, scale (negative: little-endian);
    rows stored bottom-up."""
    with open(file_name, "rb") as f:
        header = f.readline().rstrip()
        if header not in (b"PF", b"Pf"):
            raise ValueError("Invalid PFM file")
        dim_match = re.match(rb"^(\d+)\s(\d+)\s$", f.readline())
        if not dim_match:
            raise ValueError("Malformed PFM header.")
        w, h = (int(d) for d in dim_match.groups())
        scale = float(f.readline().rstrip())
        endian = "<" if scale < 0 else ">"
        data = np.fromfile(f, dtype=endian + "f")
    channels = 3 if header == b"PF" else 1
    data = np.flip(data.reshape(h, w, channels).transpose(2, 0, 1), axis=1)
    return data[:slice_channels].astype(np.float32)


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _read_png16(file_name):
    """A non-interlaced 16-bit grey/RGB/RGBA PNG as a ``(C, H, W)`` uint16 array."""
    with open(file_name, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{file_name} is not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 16 or channels is None or interlace != 0:
        raise ValueError(f"{file_name}: expected a non-interlaced 16-bit PNG, got depth {depth}, colour type {color}")
    bpp = 2 * channels
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.int64)
    prev = np.zeros(stride, np.int64)
    for y in range(height):
        ftype, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if ftype == 0:
            cur = line
        elif ftype == 2:
            cur = (line + prev) & 0xFF
        elif ftype in (1, 3, 4):
            cur = np.zeros(stride, np.int64)
            for x in range(0, stride, bpp):
                left = cur[x - bpp : x] if x else np.zeros(bpp, np.int64)
                up = prev[x : x + bpp]
                if ftype == 1:
                    pred = left
                elif ftype == 3:
                    pred = (left + up) >> 1
                else:
                    pred = _paeth(left, up, prev[x - bpp : x] if x else np.zeros(bpp, np.int64))
                cur[x : x + bpp] = (line[x : x + bpp] + pred) & 0xFF
        else:
            raise ValueError(f"{file_name}: bad PNG filter type {ftype}")
        out[y] = cur
        prev = cur
    values = out.astype(np.uint8).reshape(height, width, channels, 2)
    return (values[..., 0].astype(np.uint16) << 8 | values[..., 1]).transpose(2, 0, 1)


def _read_16bits_png_with_flow_and_valid_mask(file_name):
    flow_and_valid = _read_png16(file_name).astype(np.float32)
    flow = (flow_and_valid[:2] - 2**15) / 64
    return flow, flow_and_valid[2].astype(bool)


class FlowDataset(VisionDataset):
    _has_builtin_flow_mask = False

    def __init__(self, root, transforms=None, loader=default_loader):
        super().__init__(root=root)
        self.transforms = transforms
        self._flow_list = []
        self._image_list = []
        self._loader = loader

    def _read_img(self, file_name):
        return self._loader(file_name)

    def _read_flow(self, file_name):
        raise NotImplementedError

    def __getitem__(self, index):
        img1 = self._read_img(self._image_list[index][0])
        img2 = self._read_img(self._image_list[index][1])
        if self._flow_list:
            flow = self._read_flow(self._flow_list[index])
            if self._has_builtin_flow_mask:
                flow, valid_flow_mask = flow
            else:
                valid_flow_mask = None
        else:
            flow = valid_flow_mask = None
        if self.transforms is not None:
            img1, img2, flow, valid_flow_mask = self.transforms(img1, img2, flow, valid_flow_mask)
        if self._has_builtin_flow_mask or valid_flow_mask is not None:
            return img1, img2, flow, valid_flow_mask
        return img1, img2, flow

    def __len__(self):
        return len(self._image_list)


class Sintel(FlowDataset):
    """``root/Sintel/{training,test}/{clean,final}/<scene>/*.png``, flows in ``training/flow``."""

    def __init__(self, root, split="train", pass_name="clean", transforms=None, loader=default_loader):
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = ["clean", "final"] if pass_name == "both" else [pass_name]
        root = Path(root) / "Sintel"
        flow_root = root / "training" / "flow"
        for p in passes:
            image_root = root / ("training" if split == "train" else split) / p
            if not image_root.is_dir():
                raise FileNotFoundError(f"Could not find the Sintel images at {image_root} (rustdl does no downloads; "
                                        "see http://sintel.is.tue.mpg.de/)")
            for scene in os.listdir(image_root):
                image_list = sorted(glob(str(image_root / scene / "*.png")))
                for i in range(len(image_list) - 1):
                    self._image_list += [[image_list[i], image_list[i + 1]]]
                if split == "train":
                    self._flow_list += sorted(glob(str(flow_root / scene / "*.flo")))

    def _read_flow(self, file_name):
        return _read_flo(file_name)


class KittiFlow(FlowDataset):
    """``root/KittiFlow/{training,testing}/image_2/*_1{0,1}.png``, flows ``flow_occ/*_10.png``."""

    _has_builtin_flow_mask = True

    def __init__(self, root, split="train", transforms=None, loader=default_loader):
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        root = Path(root) / "KittiFlow" / (split + "ing")
        images1 = sorted(glob(str(root / "image_2" / "*_10.png")))
        images2 = sorted(glob(str(root / "image_2" / "*_11.png")))
        if not images1 or not images2:
            raise FileNotFoundError(
                "Could not find the Kitti flow images. Please make sure the directory structure is correct."
            )
        self._image_list = [[a, b] for a, b in zip(images1, images2)]
        if split == "train":
            self._flow_list = sorted(glob(str(root / "flow_occ" / "*_10.png")))

    def _read_flow(self, file_name):
        return _read_16bits_png_with_flow_and_valid_mask(file_name)


class FlyingChairs(FlowDataset):
    """``root/FlyingChairs/data/*.ppm`` and ``*.flo`` with ``FlyingChairs_train_val.txt``."""

    def __init__(self, root, split="train", transforms=None):
        super().__init__(root=root, transforms=transforms)
        verify_str_arg(split, "split", valid_values=("train", "val"))
        root = Path(root) / "FlyingChairs"
        images = sorted(glob(str(root / "data" / "*.ppm")))
        flows = sorted(glob(str(root / "data" / "*.flo")))
        split_file_name = "FlyingChairs_train_val.txt"
        if not os.path.exists(root / split_file_name):
            raise FileNotFoundError(
                "The FlyingChairs_train_val.txt file was not found - please download it from the dataset page "
                "(see docstring)."
            )
        split_list = np.loadtxt(str(root / split_file_name), dtype=np.int32).reshape(-1)
        for i in range(len(flows)):
            split_id = split_list[i]
            if (split == "train" and split_id == 1) or (split == "val" and split_id == 2):
                self._flow_list += [flows[i]]
                self._image_list += [[images[2 * i], images[2 * i + 1]]]

    def _read_flow(self, file_name):
        return _read_flo(file_name)


class FlyingThings3D(FlowDataset):
    """``root/FlyingThings3D/frames_{clean,final}pass/<SPLIT>/*/*/<camera>/*.png`` and
    ``optical_flow/<SPLIT>/*/*/into_{future,past}/<camera>/*.pfm``."""

    def __init__(self, root, split="train", pass_name="clean", camera="left", transforms=None,
                 loader=default_loader):
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        split = split.upper()
        verify_str_arg(pass_name, "pass_name", valid_values=("clean", "final", "both"))
        passes = {"clean": ["frames_cleanpass"], "final": ["frames_finalpass"],
                  "both": ["frames_cleanpass", "frames_finalpass"]}[pass_name]
        verify_str_arg(camera, "camera", valid_values=("left", "right", "both"))
        cameras = ["left", "right"] if camera == "both" else [camera]
        root = Path(root) / "FlyingThings3D"
        for p, cam, direction in itertools.product(passes, cameras, ("into_future", "into_past")):
            image_dirs = sorted(Path(d) / cam for d in sorted(glob(str(root / p / split / "*/*"))))
            flow_dirs = sorted(Path(d) / direction / cam for d in sorted(glob(str(root / "optical_flow" / split / "*/*"))))
            if not image_dirs or not flow_dirs:
                raise FileNotFoundError(
                    "Could not find the FlyingThings3D flow images. Please make sure the directory structure is correct."
                )
            for image_dir, flow_dir in zip(image_dirs, flow_dirs):
                images = sorted(glob(str(image_dir / "*.png")))
                flows = sorted(glob(str(flow_dir / "*.pfm")))
                for i in range(len(flows) - 1):
                    if direction == "into_future":
                        self._image_list += [[images[i], images[i + 1]]]
                        self._flow_list += [flows[i]]
                    else:
                        self._image_list += [[images[i + 1], images[i]]]
                        self._flow_list += [flows[i + 1]]

    def _read_flow(self, file_name):
        return _read_pfm(file_name)


class HD1K(FlowDataset):
    """``root/hd1k/hd1k_flow_gt/flow_occ/NNNNNN_*.png`` with ``hd1k_input/image_2``;
    test pairs from ``hd1k_challenge/image_2``."""

    _has_builtin_flow_mask = True

    def __init__(self, root, split="train", transforms=None, loader=default_loader):
        super().__init__(root=root, transforms=transforms, loader=loader)
        verify_str_arg(split, "split", valid_values=("train", "test"))
        root = Path(root) / "hd1k"
        if split == "train":
            for seq_idx in range(36):
                flows = sorted(glob(str(root / "hd1k_flow_gt" / "flow_occ" / f"{seq_idx:06d}_*.png")))
                images = sorted(glob(str(root / "hd1k_input" / "image_2" / f"{seq_idx:06d}_*.png")))
                for i in range(len(flows) - 1):
                    self._flow_list += [flows[i]]
                    self._image_list += [[images[i], images[i + 1]]]
        else:
            images1 = sorted(glob(str(root / "hd1k_challenge" / "image_2" / "*10.png")))
            images2 = sorted(glob(str(root / "hd1k_challenge" / "image_2" / "*11.png")))
            self._image_list = [[a, b] for a, b in zip(images1, images2)]
        if not self._image_list:
            raise FileNotFoundError(
                "Could not find the HD1K images. Please make sure the directory structure is correct."
            )

    def _read_flow(self, file_name):
        return _read_16bits_png_with_flow_and_valid_mask(file_name)
