"""Bad images and demo options: EXIF orientation, decompression bombs, --out, --alpha, --classes.

Each test feeds the input the way a user would (a file on disk, the demo's command line) and
checks the result or the one ``error:`` line.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dense_clip.seg.transforms import LoadImageChecked
from dense_clip.utils.overlay import render_overlay
from tests.conftest import load_tool
from tests.reliability.conftest import cli_error

SIDEWAYS = 6  # EXIF orientation: the camera was turned 90 degrees clockwise


def upright_pattern() -> np.ndarray:
    """(40, 60, 3) uint8 RGB: a green top band, red left half, blue right half below it."""
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :30] = (220, 30, 30)
    image[:, 30:] = (30, 30, 220)
    image[:10] = (30, 200, 30)
    return image


def write_sideways_jpeg(path: Path) -> np.ndarray:
    """Stores the upright pattern as a camera does: pixels rotated, EXIF orientation 6.

    Returns the upright (40, 60, 3) RGB pattern a correct loader must give back.
    """
    upright = upright_pattern()
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # 60 x 40 stored
    exif = stored.getexif()
    exif[0x0112] = SIDEWAYS
    stored.save(path, 'JPEG', quality=95, exif=exif.tobytes())
    return upright


def test_exif_orientation_is_applied_like_mmcv(tmp_path):
    from mmcv.transforms import LoadImageFromFile

    path = tmp_path / 'sideways.jpg'
    upright = write_sideways_jpeg(path)
    checked = LoadImageChecked().transform(dict(img_path=str(path)))['img'][..., ::-1]  # -> RGB
    assert checked.shape == upright.shape  # upright: 40 rows, 60 columns
    assert np.abs(checked.astype(int) - upright.astype(int)).mean() < 4  # JPEG noise only
    mmcv_bgr = LoadImageFromFile().transform(dict(img_path=str(path)))['img']  # training loader
    assert mmcv_bgr.shape == checked.shape
    assert np.abs(mmcv_bgr[..., ::-1].astype(int) - checked.astype(int)).mean() < 2


def test_exif_orientation_reaches_the_api_result(tmp_path, monkeypatch):
    from dense_clip.apis import SegmentationInferencer
    from tests.conftest import REPO

    monkeypatch.setenv('DENSE_CLIP_CACHE', str(tmp_path / 'cache'))
    path = tmp_path / 'sideways.jpg'
    upright = write_sideways_jpeg(path)
    inferencer = SegmentationInferencer(REPO / 'configs/synthetic/maskclip_tiny-clip_synthetic.py')
    result = inferencer(path, ['red plain', 'blue plain', 'green plain'])
    assert result.image_rgb.shape == upright.shape
    assert result.labels.shape == upright.shape[:2]


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit black PNG of ``width`` x ``height`` (a few kB for 400 megapixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF))

    compressor = zlib.compressobj(9)
    row = b'\0' * (1 + (width + 7) // 8)  # filter byte + packed bits
    data = b''.join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack('>IIBBBBB', width, height, 1, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', data)
            + chunk(b'IEND', b''))


@pytest.fixture(scope='module')
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('bomb') / 'bomb.png'
    path.write_bytes(bomb_png(20000, 20000))
    with Image.open(io.BytesIO(bomb_png(64, 48))) as small:  # the writer makes real PNGs
        assert small.size == (64, 48) and np.asarray(small).shape == (48, 64)
    return path


def test_decompression_bomb_names_file_and_limit(bomb):
    with pytest.raises(ValueError) as err:
        LoadImageChecked().transform(dict(img_path=str(bomb)))
    message = str(err.value)
    assert 'bomb.png' in message and '400,000,000 pixels' in message
    assert '178,956,970' in message  # Pillow's limit: twice Image.MAX_IMAGE_PIXELS


def test_decompression_bomb_in_the_demo_is_one_error_line(bomb, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_CACHE', str(tmp_path / 'cache'))
    demo = load_tool('demo.py')
    line = cli_error(demo.main, [str(bomb), '--out', str(tmp_path / 'o.png')], capsys,
                     monkeypatch)
    assert str(bomb) in line and '178,956,970' in line


@pytest.mark.parametrize('out', ['overlay', 'overlay.nosuchformat'])
def test_demo_out_without_an_image_extension_fails_before_any_work(out, tmp_path, capsys,
                                                                   monkeypatch):
    demo = load_tool('demo.py')
    monkeypatch.setattr(demo, 'REPO', tmp_path)  # no default config there: nothing could run
    line = cli_error(demo.main, ['--out', str(tmp_path / out)], capsys, monkeypatch)
    assert str(tmp_path / out) in line and '.png' in line
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize('alpha', ['nan', '-0.1', '1.5', 'inf'])
def test_demo_alpha_outside_0_1_is_refused(alpha, tmp_path, capsys, monkeypatch):
    demo = load_tool('demo.py')
    monkeypatch.setattr(demo, 'REPO', tmp_path)
    line = cli_error(demo.main, ['--alpha', alpha, '--out', str(tmp_path / 'o.png')], capsys,
                     monkeypatch)
    assert '--alpha' in line and alpha in line and 'from 0' in line


def test_overlay_api_refuses_nan_alpha():
    image = np.zeros((4, 4, 3), np.uint8)
    labels = np.zeros((4, 4), np.int64)
    with pytest.raises(ValueError, match='opacity'):
        render_overlay(image, labels, ['a'], alpha=float('nan'))
    assert render_overlay(image, labels, ['a'], alpha=1.0).dtype == np.uint8


def test_web_demo_service_answers_a_bad_alpha_with_a_message(tmp_path):
    from dense_clip.apis.demo_service import DemoService

    image = tmp_path / 'i.png'
    Image.fromarray(upright_pattern()).save(image)
    service = DemoService({'m': 'unused.py'}, factory=lambda config, clip: None)
    reply = service(str(image), 'cat', 'm', alpha=float('nan'))
    assert reply.picture is None and 'opacity' in reply.message


def test_demo_empty_class_list_is_an_error(tmp_path, capsys, monkeypatch):
    demo = load_tool('demo.py')
    monkeypatch.setattr(demo, 'REPO', tmp_path)
    for text in ('', ' ', ','):
        line = cli_error(demo.main, ['--classes', text, '--out', str(tmp_path / 'o.png')],
                         capsys, monkeypatch)
        assert 'class list' in line and 'empty' in line


def test_demo_class_renamed_by_colon_is_documented_and_warned(tmp_path, capsys, monkeypatch):
    demo = load_tool('demo.py')
    monkeypatch.setattr('sys.argv', ['demo.py', '--help'])
    with pytest.raises(SystemExit):
        demo.parse_args()
    help_text = ' '.join(capsys.readouterr().out.split())
    assert '"name: syn1|syn2" names a class' in help_text
    classes = demo.checked_classes('person: man|woman, dog|puppy')
    warned = capsys.readouterr().err
    assert classes == ['person: man, woman', 'dog: dog, puppy']
    assert warned.count('warning:') == 1 and "'person: man|woman'" in warned
    assert "shown as 'person'" in warned and 'man | woman' in warned
