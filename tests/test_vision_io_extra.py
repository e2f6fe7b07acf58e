"""torchvision.io's decode_gif / decode_webp (Pillow codecs): shapes and pixels as
torchvision (an animated GIF is (N, 3, H, W), one frame (3, H, W))."""

import io

import numpy as np
import rustdl
from PIL import Image
from rustdl.vision import io as vio


def _encoded(frames, **kw):
    buf = io.BytesIO()
    frames[0].save(buf, **kw, append_images=frames[1:]) if len(frames) > 1 else frames[0].save(buf, **kw)
    return rustdl.from_numpy(np.frombuffer(buf.getvalue(), np.uint8).copy())


def test_decode_gif_frames():
    frames = [Image.fromarray(np.full((4, 5, 3), c, np.uint8)) for c in (10, 200, 90)]
    anim = vio.decode_gif(_encoded(frames, format="GIF", save_all=True))
    assert anim.shape == (3, 3, 4, 5) and anim.dtype == rustdl.uint8
    assert anim[:, 0, 0, 0].tolist() == [10, 200, 90]  # recorded with torchvision: [10, 200, 90]
    single = vio.decode_gif(_encoded(frames[:1], format="GIF"))
    assert single.shape == (3, 4, 5)


def test_decode_webp_lossless():
    a = (np.arange(4 * 5 * 3) * 7 % 256).astype(np.uint8).reshape(4, 5, 3)
    out = vio.decode_webp(_encoded([Image.fromarray(a)], format="WEBP", lossless=True))
    np.testing.assert_array_equal(out.numpy().transpose(1, 2, 0), a)
