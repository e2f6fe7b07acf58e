"""Tiny synthetic copies of the published layouts of the local-file datasets, shared by
tools/differential/record_vision_local_datasets.py (torchvision reads them) and
tests/test_vision_local_datasets.py (rustdl reads them); ``summarize`` turns a sample
into comparable JSON on both sides.

Images are written as PNG data (whatever the file name's extension) so both sides
decode the same pixels whatever their Pillow version.
"""

import hashlib
import json
import os

import numpy as np
from PIL import Image


def _img(path, seed, size=(6, 5), mode="RGB"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=None).save(path, format="PNG")


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def build_caltech101(root):
    base = os.path.join(root, "caltech101", "101_ObjectCategories")
    for i, cat in enumerate(["BACKGROUND_Google", "Faces", "accordion", "airplanes"]):
        for j in range(1 + i % 3):
            _img(os.path.join(base, cat, f"image_{j + 1:04d}.jpg"), 10 * i + j)


def build_caltech256(root):
    base = os.path.join(root, "caltech256", "256_ObjectCategories")
    for i, cat in enumerate(["001.ak47", "002.american-flag", "003.backpack"]):
        for j in range(2 + i % 2):
            _img(os.path.join(base, cat, f"{i + 1:03d}_{j + 1:04d}.jpg"), 20 * i + j)
        _write(os.path.join(base, cat, "notes.txt"), "not an image")


def build_country211(root):
    for split in ("train", "valid", "test"):
        for i, c in enumerate(["AD", "AE", "FR"]):
            _img(os.path.join(root, "country211", split, c, f"{split}{i}.jpg"), 30 + i)


def build_dtd(root):
    base = os.path.join(root, "dtd", "dtd")
    files = ["banded/banded_0002.jpg", "zigzagged/zigzagged_0010.jpg", "banded/banded_0004.jpg"]
    for k, f in enumerate(files):
        _img(os.path.join(base, "images", f), 40 + k)
    _write(os.path.join(base, "labels", "train1.txt"), "\n".join(files) + "\n")
    _write(os.path.join(base, "labels", "test3.txt"), files[1] + "\n")


def build_food101(root):
    base = os.path.join(root, "food-101")
    meta = {"pizza": ["pizza/1", "pizza/22"], "apple_pie": ["apple_pie/3"]}
    for k, stems in enumerate(meta.values()):
        for j, s in enumerate(stems):
            _img(os.path.join(base, "images", s + ".jpg"), 50 + 3 * k + j)
    _write(os.path.join(base, "meta", "train.json"), json.dumps(meta))
    _write(os.path.join(base, "meta", "test.json"), json.dumps({"pizza": ["pizza/1"]}))


def build_gtsrb(root):
    base = os.path.join(root, "gtsrb", "GTSRB")
    for c in ("00000", "00001"):
        for j in range(2):
            _img(os.path.join(base, "Training", c, f"0000{j}_0000{j}.ppm"), 60 + j + int(c) * 5)
        _write(os.path.join(base, "Training", c, f"GT-{c}.csv"), "ignored")
    for j in range(3):
        _img(os.path.join(base, "Final_Test", "Images", f"0000{j}.ppm"), 70 + j)
    _write(os.path.join(root, "gtsrb", "GT-final_test.csv"),
           "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"
           "00000.ppm;6;5;0;0;5;4;16\n00001.ppm;6;5;0;0;5;4;1\n00002.ppm;6;5;0;0;5;4;38\n")


def build_imagenette(root):
    for split in ("train", "val"):
        for k, wnid in enumerate(["n01440764", "n03888257"]):
            _img(os.path.join(root, "imagenette2-160", split, wnid, f"{wnid}_{k}.JPEG"), 80 + k)


def build_rendered_sst2(root):
    for split in ("train", "valid", "test"):
        for k, c in enumerate(["negative", "positive"]):
            _img(os.path.join(root, "rendered-sst2", split, c, f"{k}.png"), 90 + k)


def build_sun397(root):
    base = os.path.join(root, "SUN397")
    _write(os.path.join(base, "ClassName.txt"), "/a/abbey\n/a/airplane_cabin\n/b/bar/indoor\n")
    _img(os.path.join(base, "a", "abbey", "sun_aaa.jpg"), 100)
    _img(os.path.join(base, "b", "bar", "indoor", "sun_bbb.jpg"), 101)
    _img(os.path.join(base, "a", "airplane_cabin", "sun_ccc.jpg"), 102)


def build_oxford_pet(root):
    base = os.path.join(root, "oxford-iiit-pet")
    rows = [("Abyssinian_1", 1, 1), ("american_bulldog_10", 2, 2), ("Abyssinian_2", 1, 1)]
    for k, (image_id, _, _) in enumerate(rows):
        _img(os.path.join(base, "images", image_id + ".jpg"), 110 + k)
        _img(os.path.join(base, "annotations", "trimaps", image_id + ".png"), 120 + k, mode="L")
    _write(os.path.join(base, "annotations", "trainval.txt"),
           "".join(f"{i} {c} {b} 1\n" for i, c, b in rows))


def build_fgvc(root):
    data = os.path.join(root, "fgvc-aircraft-2013b", "data")
    _write(os.path.join(data, "variants.txt"), "707-320\n727-200\nA300B4\n")
    _write(os.path.join(data, "families.txt"), "Boeing 707\nA300\n")
    _write(os.path.join(data, "images_variant_trainval.txt"), "1025794 707-320\n1340192 A300B4\n")
    _write(os.path.join(data, "images_family_test.txt"), "1340192 A300\n")
    for k, name in enumerate(["1025794", "1340192"]):
        _img(os.path.join(data, "images", name + ".jpg"), 130 + k)


def build_omniglot(root):
    base = os.path.join(root, "omniglot-py", "images_background")
    for a, alphabet in enumerate(["Alphabet_of_the_Magi", "Greek"]):
        for c in range(2):
            for j in range(2):
                _img(os.path.join(base, alphabet, f"character{c + 1:02d}", f"{c}_{j}.png"), 140 + 4 * a + 2 * c + j)
    _write(base + ".zip", "")  # torchvision looks for the archive too


def build_places365(root):
    _write(os.path.join(root, "categories_places365.txt"), "/a/airfield 0\n/a/airplane_cabin 1\n/b/bar 2\n")
    _write(os.path.join(root, "places365_val.txt"), "Places365_val_00000001.jpg 2\nPlaces365_val_00000002.jpg 0\n")
    for k in range(2):
        _img(os.path.join(root, "val_256", f"Places365_val_{k + 1:08d}.jpg"), 150 + k)


def build_clevr(root):
    base = os.path.join(root, "clevr", "CLEVR_v1.0")
    names = ["CLEVR_train_000000.png", "CLEVR_train_000001.png"]
    for k, n in enumerate(names):
        _img(os.path.join(base, "images", "train", n), 160 + k)
    _write(os.path.join(base, "scenes", "CLEVR_train_scenes.json"), json.dumps(
        {"scenes": [{"image_filename": names[1], "objects": [{}, {}, {}]},
                    {"image_filename": names[0], "objects": [{}]}]}))
    _img(os.path.join(base, "images", "test", "CLEVR_test_000000.png"), 162)


def build_stl10(root):
    base = os.path.join(root, "stl10_binary")
    os.makedirs(base, exist_ok=True)
    rng = np.random.default_rng(170)
    for name, n in (("train", 3), ("test", 2), ("unlabeled", 2)):
        rng.integers(0, 256, n * 3 * 96 * 96, dtype=np.uint8).tofile(os.path.join(base, f"{name}_X.bin"))
        if name != "unlabeled":
            np.array([3, 1, 10][:n], np.uint8).tofile(os.path.join(base, f"{name}_y.bin"))
    _write(os.path.join(base, "class_names.txt"), "\n".join(f"c{i}" for i in range(10)) + "\n")
    _write(os.path.join(base, "fold_indices.txt"), "2 0\n1\n")


def build_sbu(root):
    base = os.path.join(root, "dataset")
    _write(os.path.join(base, "SBU_captioned_photo_dataset_urls.txt"),
           "http://x/a/1.jpg\nhttp://x/b/2.jpg\nhttp://x/c/3.jpg\n")
    _write(os.path.join(base, "SBU_captioned_photo_dataset_captions.txt"), "one cat \ntwo dogs\nthree birds\n")
    _img(os.path.join(base, "1.jpg"), 180)
    _img(os.path.join(base, "3.jpg"), 181)
    _write(os.path.join(root, "SBUCaptionedPhotoDataset.tar.gz"), "")


def build_flickr8k(root):
    _img(os.path.join(root, "images", "1000268201_693b08cb0e.jpg"), 190)
    _img(os.path.join(root, "images", "1001773457_577c3a7d70.jpg"), 191)
    _write(os.path.join(root, "ann.html"),
           "<html><body><table>"
           "<tr><td><a href='http://x/1000268201/'>http://x/1000268201/</a></td>"
           "<td><ul><li>A child in pink </li><li>A girl going into a house</li></ul></td></tr>"
           "<tr><td><a href='http://x/1001773457/'>http://x/1001773457/</a></td>"
           "<td><ul><li>Two dogs</li></ul></td></tr>"
           "</table></body></html>")


def build_flickr30k(root):
    _img(os.path.join(root, "images", "1000092795.jpg"), 200)
    _img(os.path.join(root, "images", "10002456.jpg"), 201)
    _write(os.path.join(root, "ann.token"),
           "1000092795.jpg#0\tTwo young guys\n10002456.jpg#0\tSeveral men\n1000092795.jpg#1\tTwo friends\n")


COCO = {
    "images": [{"id": 42, "file_name": "b.jpg"}, {"id": 7, "file_name": "a.jpg"}],
    "annotations": [
        {"id": 1, "image_id": 7, "bbox": [1, 2, 3, 4], "category_id": 3, "caption": "a cat"},
        {"id": 5, "image_id": 42, "bbox": [0, 0, 2, 2], "category_id": 1, "caption": "a dog"},
        {"id": 2, "image_id": 7, "bbox": [2, 2, 1, 1], "category_id": 1, "caption": "a small cat"},
    ],
    "categories": [{"id": 1, "name": "dog"}, {"id": 3, "name": "cat"}],
}


def build_coco(root):
    _img(os.path.join(root, "images", "a.jpg"), 210)
    _img(os.path.join(root, "images", "b.jpg"), 211, mode="L")
    _write(os.path.join(root, "ann.json"), json.dumps(COCO))


def build_voc(root):
    base = os.path.join(root, "VOCdevkit", "VOC2012")
    for k, n in enumerate(["2007_000032", "2007_000033"]):
        _img(os.path.join(base, "JPEGImages", n + ".jpg"), 220 + k)
        _img(os.path.join(base, "SegmentationClass", n + ".png"), 230 + k, mode="L")
        objects = "".join(f"<object><name>{c}</name><bndbox><xmin>{1 + i}</xmin><ymin>2</ymin><xmax>5</xmax>"
                          f"<ymax>4</ymax></bndbox></object>" for i, c in enumerate(["dog", "person"][: k + 1]))
        _write(os.path.join(base, "Annotations", n + ".xml"),
               f"<annotation><folder>VOC2012</folder><filename>{n}.jpg</filename>"
               f"<size><width>6</width><height>5</height></size>{objects}</annotation>")
    _write(os.path.join(base, "ImageSets", "Segmentation", "train.txt"), "2007_000032\n2007_000033\n")
    _write(os.path.join(base, "ImageSets", "Main", "val.txt"), "2007_000033\n2007_000032\n")


def build_kitti(root):
    base = os.path.join(root, "Kitti", "raw", "training")
    _img(os.path.join(base, "image_2", "000000.png"), 240)
    _write(os.path.join(base, "label_2", "000000.txt"),
           "Pedestrian 0.00 0 -0.20 712.40 143.00 810.73 307.92 1.89 0.48 1.20 1.84 1.47 8.41 0.01\n"
           "Car 0.50 2 1.5 1 2 3 4 1.5 1.6 3.2 -1 2 30 -1.57\n")


def build_widerface(root):
    base = os.path.join(root, "widerface")
    for d in ("WIDER_train", "WIDER_val", "WIDER_test"):
        os.makedirs(os.path.join(base, d, "images"), exist_ok=True)
    _img(os.path.join(base, "WIDER_train", "images", "0--Parade", "0_a.jpg"), 250)
    _img(os.path.join(base, "WIDER_train", "images", "1--Handshaking", "1_b.jpg"), 251)
    _img(os.path.join(base, "WIDER_test", "images", "0--Parade", "0_t.jpg"), 252)
    _write(os.path.join(base, "wider_face_split", "wider_face_train_bbx_gt.txt"),
           "0--Parade/0_a.jpg\n2\n449 330 122 149 0 0 0 0 0 0 \n10 20 30 40 2 1 0 1 0 0 \n"
           "1--Handshaking/1_b.jpg\n1\n1 2 3 4 1 0 1 0 1 1 \n")
    _write(os.path.join(base, "wider_face_split", "wider_face_test_filelist.txt"), "0--Parade/0_t.jpg\n")


def build_celeba(root):
    base = os.path.join(root, "celeba")
    names = ["000001.jpg", "000002.jpg", "000003.jpg"]
    for k, n in enumerate(names):
        _img(os.path.join(base, "img_align_celeba", n), 260 + k)
    _write(os.path.join(base, "list_eval_partition.txt"), "000001.jpg 0\n000002.jpg 2\n000003.jpg 0\n")
    _write(os.path.join(base, "identity_CelebA.txt"), "000001.jpg 2880\n000002.jpg 2937\n000003.jpg 8692\n")
    _write(os.path.join(base, "list_bbox_celeba.txt"),
           "3\nimage_id x_1 y_1 width height\n000001.jpg    95  71 226 313\n000002.jpg    72  94 221 306\n"
           "000003.jpg   216  59  91 126\n")
    _write(os.path.join(base, "list_landmarks_align_celeba.txt"),
           "3\nlefteye_x lefteye_y righteye_x righteye_y\n000001.jpg 69  109  106  113\n"
           "000002.jpg 69  110  107  112\n000003.jpg 76  112  104  106\n")
    _write(os.path.join(base, "list_attr_celeba.txt"),
           "3\n5_o_Clock_Shadow Arched_Eyebrows Young \n000001.jpg -1  1  1\n000002.jpg -1 -1  1\n"
           "000003.jpg  1 -1 -1\n")


def build_lfw(root):
    base = os.path.join(root, "lfw-py")
    people = {"Aaron_Eckhart": 1, "Abdullah_Gul": 3, "Zico": 2}
    for k, (name, n) in enumerate(people.items()):
        for j in range(n):
            _img(os.path.join(base, "lfw_funneled", name, f"{name}_{j + 1:04d}.jpg"), 270 + 3 * k + j)
    _write(os.path.join(base, "lfw-names.txt"), "".join(f"{n}\t{c}\n" for n, c in people.items()))
    _write(os.path.join(base, "peopleDevTrain.txt"), "2\nAbdullah_Gul\t3\nZico\t2\n")
    _write(os.path.join(base, "people.txt"), "2\n1\nAaron_Eckhart\t1\n1\nZico\t2\n")
    _write(os.path.join(base, "pairsDevTest.txt"), "1\nAbdullah_Gul\t1\t3\nAaron_Eckhart\t1\tZico\t2\n")
    _write(os.path.join(base, "lfw-funneled.tgz"), "")


def build_inaturalist(root):
    base = os.path.join(root, "2021_valid")
    dirs = ["00000_Animalia_Annelida_Clitellata_Haplotaxida_Lumbricidae_Lumbricus_terrestris",
            "00001_Animalia_Arthropoda_Insecta_Odonata_Aeshnidae_Anax_junius",
            "00002_Plantae_Tracheophyta_Magnoliopsida_Rosales_Rosaceae_Rosa_canina"]
    for k, d in enumerate(dirs):
        _img(os.path.join(base, d, f"img{k}.jpg"), 280 + k)
    base = os.path.join(root, "2019")
    for k, (sup, sub) in enumerate([("Birds", "3"), ("Birds", "0"), ("Plants", "1"), ("Plants", "2")]):
        _img(os.path.join(base, sup, sub, f"p{k}.jpg"), 290 + k)


def _write_png16(path, values):
    """A 16-bit RGB PNG of ``values`` (H, W, 3) uint16, rows filtered with types 0..4 in turn."""
    import struct
    import zlib

    os.makedirs(os.path.dirname(path), exist_ok=True)
    h, w, _ = values.shape
    rows = values.astype(">u2").view(np.uint8).reshape(h, w * 6).astype(np.int64)
    bpp, out, prev = 6, b"", np.zeros(w * 6, np.int64)
    for y in range(h):
        cur, ftype = rows[y], y % 5
        left = np.concatenate([np.zeros(bpp, np.int64), cur[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        if ftype == 0:
            filt = cur
        elif ftype == 1:
            filt = cur - left
        elif ftype == 2:
            filt = cur - prev
        elif ftype == 3:
            filt = cur - (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
            filt = cur - np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        out += bytes([ftype]) + (filt & 0xFF).astype(np.uint8).tobytes()
        prev = cur

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(out)) + chunk(b"IEND", b""))


def _flow_png(path, seed, size=(7, 6)):
    rng = np.random.default_rng(seed)
    v = np.empty((size[1], size[0], 3), np.uint16)
    v[..., :2] = rng.integers(2**15 - 3000, 2**15 + 3000, (size[1], size[0], 2))
    v[..., 2] = rng.integers(0, 2, (size[1], size[0]))
    _write_png16(path, v)


def _flo(path, seed, size=(6, 5)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(b"PIEH" + np.array([size[0], size[1]], "<i4").tobytes()
                + rng.standard_normal((size[1], size[0], 2)).astype("<f4").tobytes())


def _pfm(path, seed, size=(6, 5)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(b"PF\n" + f"{size[0]} {size[1]}\n".encode() + b"-1.0\n"
                + rng.standard_normal((size[1], size[0], 3)).astype("<f4").tobytes())


def build_qmnist(root):
    raw = os.path.join(root, "QMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    rng = np.random.default_rng(300)
    images = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([[7, 2, 3, 4, 5, 6, 7, 8], [1, 9, 9, 9, 9, 9, 9, 9], [0, 1, 2, 3, 4, 5, 6, 70000]], ">i4")
    with open(os.path.join(raw, "qmnist-train-images-idx3-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + np.array([3, 28, 28], ">u4").tobytes() + images.tobytes())
    with open(os.path.join(raw, "qmnist-train-labels-idx2-int"), "wb") as f:
        f.write(bytes([0, 0, 12, 2]) + np.array([3, 8], ">u4").tobytes() + labels.tobytes())


def build_flying_chairs(root):
    base = os.path.join(root, "FlyingChairs")
    for i in range(3):
        for j in (1, 2):
            _img(os.path.join(base, "data", f"{i + 1:05d}_img{j}.ppm"), 310 + 2 * i + j)
        _flo(os.path.join(base, "data", f"{i + 1:05d}_flow.flo"), 320 + i)
    _write(os.path.join(base, "FlyingChairs_train_val.txt"), "1\n2\n1\n")


def build_sintel(root):
    base = os.path.join(root, "Sintel")
    for scene in ("alley_1", "bamboo_2"):
        for k in range(3):
            _img(os.path.join(base, "training", "clean", scene, f"frame_{k + 1:04d}.png"), 330 + k)
            _img(os.path.join(base, "training", "final", scene, f"frame_{k + 1:04d}.png"), 340 + k)
        for k in range(2):
            _flo(os.path.join(base, "training", "flow", scene, f"frame_{k + 1:04d}.flo"), 350 + k)


def build_kitti_flow(root):
    base = os.path.join(root, "KittiFlow", "training")
    for k in range(2):
        _img(os.path.join(base, "image_2", f"00000{k}_10.png"), 360 + k, size=(7, 6))
        _img(os.path.join(base, "image_2", f"00000{k}_11.png"), 370 + k, size=(7, 6))
        _flow_png(os.path.join(base, "flow_occ", f"00000{k}_10.png"), 380 + k)


def build_hd1k(root):
    base = os.path.join(root, "hd1k")
    for k in range(3):
        _img(os.path.join(base, "hd1k_input", "image_2", f"000000_{k:04d}.png"), 390 + k, size=(7, 6))
        _flow_png(os.path.join(base, "hd1k_flow_gt", "flow_occ", f"000000_{k:04d}.png"), 395 + k)


def build_flying_things(root):
    base = os.path.join(root, "FlyingThings3D")
    for seq in ("A/0000", "B/0001"):
        for k in range(3):
            for cam in ("left", "right"):
                _img(os.path.join(base, "frames_cleanpass", "TRAIN", seq, cam, f"{6 + k:04d}.png"), 400 + k)
                for direction in ("into_future", "into_past"):
                    _pfm(os.path.join(base, "optical_flow", "TRAIN", seq, direction, cam,
                                      f"OpticalFlowInto{6 + k:04d}.pfm"), 410 + k)


def _gray16(path, seed, size=(6, 5), low=1, high=60000):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(low, high, (size[1], size[0])).astype(np.uint16)).save(path, format="PNG")


def _pfm1(path, seed, size=(6, 5)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((size[1], size[0])).astype("<f4")
    d[0, 0] = np.inf
    with open(path, "wb") as f:
        f.write(b"Pf\n" + f"{size[0]} {size[1]}\n".encode() + b"-1.0\n" + d.tobytes())


def build_carla(root):
    for k, scene in enumerate(["a", "b"]):
        base = os.path.join(root, "carla-highres", "trainingF", scene)
        _img(os.path.join(base, "im0.png"), 500 + k)
        _img(os.path.join(base, "im1.png"), 510 + k, mode="L")
        _pfm1(os.path.join(base, "disp0GT.pfm"), 520 + k)
        _pfm1(os.path.join(base, "disp1GT.pfm"), 530 + k)


def build_kitti2012(root):
    base = os.path.join(root, "Kitti2012", "training")
    for k in range(2):
        _img(os.path.join(base, "colored_0", f"00000{k}_10.png"), 540 + k)
        _img(os.path.join(base, "colored_1", f"00000{k}_10.png"), 545 + k)
        _gray16(os.path.join(base, "disp_noc", f"00000{k}_10.png"), 550 + k)


def build_kitti2015(root):
    base = os.path.join(root, "Kitti2015", "training")
    for k in range(2):
        _img(os.path.join(base, "image_2", f"00000{k}_10.png"), 560 + k)
        _img(os.path.join(base, "image_3", f"00000{k}_10.png"), 565 + k)
        _gray16(os.path.join(base, "disp_occ_0", f"00000{k}_10.png"), 570 + k)
        _gray16(os.path.join(base, "disp_occ_1", f"00000{k}_10.png"), 575 + k)


def build_middlebury(root):
    for k, scene in enumerate(["Adirondack-perfect", "Piano-perfect", "Piano-imperfect"]):
        base = os.path.join(root, "Middlebury2014", "train", scene)
        _img(os.path.join(base, "im0.png"), 580 + k)
        _img(os.path.join(base, "im1.png"), 585 + k)
        _pfm1(os.path.join(base, "disp0.pfm"), 590 + k)
        _pfm1(os.path.join(base, "disp1.pfm"), 595 + k)


def build_crestereo(root):
    for k, s in enumerate(["shapenet", "reflective", "tree", "hole"]):
        base = os.path.join(root, "CREStereo", s)
        _img(os.path.join(base, f"{k}_left.jpg"), 600 + k)
        _img(os.path.join(base, f"{k}_right.jpg"), 605 + k)
        _gray16(os.path.join(base, f"{k}_left.disp.png"), 610 + k)
        _gray16(os.path.join(base, f"{k}_right.disp.png"), 615 + k)


def build_falling_things(root):
    for k, folder in enumerate([os.path.join("single", "obj", "kitchen"), os.path.join("mixed", "kitchen_0")]):
        base = os.path.join(root, "FallingThings", folder)
        _img(os.path.join(base, "000000.left.jpg"), 620 + k)
        _img(os.path.join(base, "000000.right.jpg"), 625 + k)
        _gray16(os.path.join(base, "000000.left.depth.png"), 630 + k, low=100, high=5000)
        _gray16(os.path.join(base, "000000.right.depth.png"), 635 + k, low=100, high=5000)
        _write(os.path.join(base, "_camera_settings.json"),
               json.dumps({"camera_settings": [{"intrinsic_settings": {"fx": 768.16 + k}}]}))


def build_sceneflow(root):
    base = os.path.join(root, "SceneFlow", "Monkaa")
    for k in range(2):
        for side in ("left", "right"):
            _img(os.path.join(base, "frames_cleanpass", "a_rain", side, f"{k:04d}.png"), 640 + k)
            _img(os.path.join(base, "frames_finalpass", "a_rain", side, f"{k:04d}.png"), 645 + k)
            _pfm1(os.path.join(base, "disparity", "a_rain", side, f"{k:04d}.pfm"), 650 + k)


def build_sintel_stereo(root):
    base = os.path.join(root, "Sintel", "training")
    for k in range(2):
        for d in ("final_left", "final_right", "clean_left", "clean_right"):
            _img(os.path.join(base, d, "alley_1", f"frame_{k:04d}.png"), 660 + k)
        _img(os.path.join(base, "disparities", "alley_1", f"frame_{k:04d}.png"), 665 + k)
        _img(os.path.join(base, "occlusions", "alley_1", f"frame_{k:04d}.png"), 670 + k, mode="L")
        _img(os.path.join(base, "outofframe", "alley_1", f"frame_{k:04d}.png"), 675 + k, mode="L")


def build_instereo2k(root):
    for k in range(2):
        base = os.path.join(root, "InStereo2k", "train", f"scene{k}")
        _img(os.path.join(base, "left.png"), 680 + k)
        _img(os.path.join(base, "right.png"), 685 + k)
        _gray16(os.path.join(base, "left_disp.png"), 690 + k)
        _gray16(os.path.join(base, "right_disp.png"), 695 + k)


def build_eth3d(root):
    for k in range(2):
        base = os.path.join(root, "ETH3D", "two_view_training", f"delivery_area_{k}")
        _img(os.path.join(base, "im0.png"), 700 + k)
        _img(os.path.join(base, "im1.png"), 705 + k)
        gt = os.path.join(root, "ETH3D", "two_view_training_gt", f"delivery_area_{k}")
        _pfm1(os.path.join(gt, "disp0GT.pfm"), 710 + k)
        _img(os.path.join(gt, "mask0nocc.png"), 715 + k, mode="L")


def build_cityscapes(root):
    for k, (city, stem) in enumerate([("aachen", "aachen_000000_000019"), ("bremen", "bremen_000001_000019")]):
        _img(os.path.join(root, "leftImg8bit", "train", city, f"{stem}_leftImg8bit.png"), 720 + k)
        base = os.path.join(root, "gtFine", "train", city)
        _img(os.path.join(base, f"{stem}_gtFine_labelIds.png"), 725 + k, mode="L")
        _img(os.path.join(base, f"{stem}_gtFine_color.png"), 730 + k)
        _write(os.path.join(base, f"{stem}_gtFine_polygons.json"),
               json.dumps({"imgHeight": 5, "imgWidth": 6, "objects": [{"label": "road", "polygon": [[0, 0], [k, 4]]}]}))


def build_phototour(root):
    base = os.path.join(root, "notredame")
    rng = np.random.default_rng(740)
    os.makedirs(base, exist_ok=True)
    for k in range(2):
        Image.fromarray(rng.integers(0, 256, (128, 128), dtype=np.uint8)).save(
            os.path.join(base, f"patches{k:04d}.bmp"))
    _write(os.path.join(base, "info.txt"), "".join(f"{i // 2} 0\n" for i in range(8)))
    _write(os.path.join(base, "m50_100000_100000_0.txt"),
           "0 0 0 1 0 0 0\n2 1 0 7 3 0 0\n5 2 0 4 2 0 0\n")


def build_imagenet(root):
    """``meta.bin`` as PyTorch wrote it (tests/golden/imagenet_meta.bin) and the split folders."""
    import shutil

    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "imagenet_meta.bin"),
                os.path.join(root, "meta.bin"))
    for split in ("train", "val"):
        for k, wnid in enumerate(["n01440764", "n01443537"]):
            for j in range(2):
                _img(os.path.join(root, split, wnid, f"{wnid}_{j}.JPEG"), 750 + 2 * k + j)


# (class name, builder, kwargs with ``{root}`` standing for the built root)
CASES = [
    ("Caltech101", build_caltech101, {}),
    ("Caltech256", build_caltech256, {}),
    ("Country211", build_country211, {"split": "valid"}),
    ("DTD", build_dtd, {}),
    ("DTD", build_dtd, {"split": "test", "partition": 3}),
    ("Food101", build_food101, {}),
    ("GTSRB", build_gtsrb, {}),
    ("GTSRB", build_gtsrb, {"split": "test"}),
    ("Imagenette", build_imagenette, {"size": "160px", "split": "val"}),
    ("RenderedSST2", build_rendered_sst2, {"split": "val"}),
    ("SUN397", build_sun397, {}),
    ("OxfordIIITPet", build_oxford_pet, {"target_types": ["category", "binary-category", "segmentation"]}),
    ("FGVCAircraft", build_fgvc, {}),
    ("FGVCAircraft", build_fgvc, {"split": "test", "annotation_level": "family"}),
    ("Omniglot", build_omniglot, {}),
    ("Places365", build_places365, {"split": "val", "small": True}),
    ("CLEVRClassification", build_clevr, {}),
    ("CLEVRClassification", build_clevr, {"split": "test"}),
    ("STL10", build_stl10, {}),
    ("STL10", build_stl10, {"split": "train+unlabeled", "folds": 0}),
    ("STL10", build_stl10, {"split": "test"}),
    ("SBU", build_sbu, {"download": False}),
    ("Flickr8k", build_flickr8k, {"root": "{root}/images", "ann_file": "{root}/ann.html"}),
    ("Flickr30k", build_flickr30k, {"root": "{root}/images", "ann_file": "{root}/ann.token"}),
    ("CocoDetection", build_coco, {"root": "{root}/images", "annFile": "{root}/ann.json"}),
    ("CocoCaptions", build_coco, {"root": "{root}/images", "annFile": "{root}/ann.json"}),
    ("VOCSegmentation", build_voc, {}),
    ("VOCDetection", build_voc, {"image_set": "val"}),
    ("Kitti", build_kitti, {}),
    ("WIDERFace", build_widerface, {}),
    ("WIDERFace", build_widerface, {"split": "test"}),
    ("CelebA", build_celeba, {"target_type": ["attr", "identity", "bbox", "landmarks"]}),
    ("CelebA", build_celeba, {"split": "all", "target_type": "attr"}),
    ("LFWPeople", build_lfw, {"split": "train"}),
    ("LFWPeople", build_lfw, {}),
    ("LFWPairs", build_lfw, {"split": "test"}),
    ("INaturalist", build_inaturalist, {"version": "2021_valid", "target_type": ["full", "kingdom", "genus"]}),
    ("INaturalist", build_inaturalist, {"version": "2019", "target_type": ["full", "super"]}),
    ("QMNIST", build_qmnist, {}),
    ("QMNIST", build_qmnist, {"compat": False}),
    ("FlyingChairs", build_flying_chairs, {}),
    ("FlyingChairs", build_flying_chairs, {"split": "val"}),
    ("Sintel", build_sintel, {"pass_name": "both"}),
    ("KittiFlow", build_kitti_flow, {}),
    ("HD1K", build_hd1k, {}),
    ("FlyingThings3D", build_flying_things, {"camera": "both"}),
    ("CarlaStereo", build_carla, {}),
    ("Kitti2012Stereo", build_kitti2012, {}),
    ("Kitti2015Stereo", build_kitti2015, {}),
    ("Middlebury2014Stereo", build_middlebury, {"calibration": "both"}),
    ("CREStereo", build_crestereo, {}),
    ("FallingThingsStereo", build_falling_things, {"variant": "both"}),
    ("SceneFlowStereo", build_sceneflow, {"variant": "Monkaa", "pass_name": "both"}),
    ("SintelStereo", build_sintel_stereo, {"pass_name": "both"}),
    ("InStereo2k", build_instereo2k, {}),
    ("ETH3DStereo", build_eth3d, {}),
    ("Cityscapes", build_cityscapes, {"target_type": ["semantic", "color", "polygon"]}),
    ("PhotoTour", build_phototour, {"name": "notredame"}),
    ("PhotoTour", build_phototour, {"name": "notredame", "train": False}),
    ("ImageNet", build_imagenet, {"split": "val"}),
]


def build(case_index, root):
    name, builder, kwargs = CASES[case_index]
    builder(root)
    kw = {k: (v.replace("{root}", root) if isinstance(v, str) else v) for k, v in kwargs.items()}
    kw.setdefault("root", root)
    return name, kw


def summarize(obj, is_tensor, to_list):
    """JSON-able description of a sample: PIL images by mode, size and pixel hash;
    tensors (``is_tensor``) by their values; containers recursively."""
    if isinstance(obj, Image.Image):
        return {"pil": obj.mode, "size": list(obj.size), "md5": hashlib.md5(np.asarray(obj).tobytes()).hexdigest()}
    if is_tensor(obj):
        return {"tensor": to_list(obj)}
    if isinstance(obj, np.ndarray):
        return {"array": obj.tolist()}
    if isinstance(obj, dict):
        return {"dict": {str(k): summarize(v, is_tensor, to_list) for k, v in obj.items()}}
    if isinstance(obj, (list, tuple)):
        return {"seq": [summarize(v, is_tensor, to_list) for v in obj]}
    if isinstance(obj, str) and os.sep in obj:
        return os.path.basename(obj)
    return obj
