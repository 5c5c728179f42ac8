"""tools/web_demo.py through Gradio's Python client, against a server on a free local port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from dense_clip.synthetic.samples import SAMPLE_IMAGE
from tests.conftest import REPO

TINY = 'embedded tiny CLIP (dense_clip:tiny-clip-synth, offline)'
CLASSES = 'background|sand|gravel|concrete|asphalt|wood, yellow striped, green plain|green solid'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def server(tmp_path_factory, tool_env):
    """A web demo server (2 requests at once, 4 MP, 300 classes); yields (client, log path)."""
    port = free_port()
    log = tmp_path_factory.mktemp('web_demo') / 'server.log'
    env = dict(tool_env, HF_HUB_OFFLINE='1', GRADIO_ANALYTICS_ENABLED='False')
    with open(log, 'w') as out:
        process = subprocess.Popen(
            [sys.executable, 'tools/web_demo.py', '--port', str(port), '--max-megapixels', '4',
             '--max-classes', '300', '--concurrency', '2'],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while 'Running on local URL' not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, 'server did not start in 120 s'
            time.sleep(0.5)
        yield Client(f'http://127.0.0.1:{port}/', verbose=False), log
    finally:
        process.terminate()
        process.wait(timeout=30)


def segment(client, image, classes=CLASSES, method='maskclip'):
    return client.predict(image, classes, method, TINY, 0.55, api_name='/segment')


def test_overlay_and_legend_for_the_sample(server):
    client, _ = server
    picture, legend, message = segment(client, handle_file(str(SAMPLE_IMAGE)))
    assert message.startswith('maskclip: 64x64 image, 3 classes'), message
    sheet = np.asarray(Image.open(picture).convert('RGB'))
    image = np.asarray(Image.open(SAMPLE_IMAGE).convert('RGB'))
    panel = image.repeat(4, 0).repeat(4, 1)  # 64 px shown at 256
    assert np.array_equal(sheet[18:18 + 256, :256], panel)  # image | overlay | legend
    overlay = sheet[18:18 + 256, 260:260 + 256].astype(int)
    assert np.abs(overlay - panel).mean() > 10  # coloured
    assert legend['headers'] == ['class', 'pixels (%)']
    names = [row[0] for row in legend['data']]
    assert set(names) <= {'background', 'yellow striped', 'green plain'} and names
    assert abs(sum(row[1] for row in legend['data']) - 100) < 0.1


@pytest.mark.parametrize('case', ['no image', 'not an image', 'no classes', '10000 classes',
                                  '50 megapixels', 'duplicate classes'])
def test_bad_requests_get_a_message_and_the_server_keeps_serving(server, tmp_path, case):
    client, _ = server
    image, classes = handle_file(str(SAMPLE_IMAGE)), CLASSES
    if case == 'no image':
        image = None
    elif case == 'not an image':
        path = tmp_path / 'notes.png'
        path.write_text('not a picture')
        image = handle_file(str(path))
    elif case == 'no classes':
        classes = '  '
    elif case == '10000 classes':
        classes = ', '.join(f'class {i}' for i in range(10_000))
    elif case == '50 megapixels':
        path = tmp_path / 'huge.png'
        Image.new('RGB', (10_000, 5_000), (90, 120, 60)).save(path)
        image = handle_file(str(path))
    else:
        classes = 'cat, dog, Cat'
    expected = {'no image': 'No image', 'not an image': 'Not an image this demo can read',
                'no classes': 'No classes', '10000 classes': 'Too many classes: 10000',
                '50 megapixels': '10000x5000 = 50.0 megapixels', 'duplicate classes': 'duplicate'}
    picture, _, message = segment(client, image, classes)
    assert picture is None and expected[case] in message, message
    picture, _, message = segment(client, handle_file(str(SAMPLE_IMAGE)))
    assert picture is not None, message


def test_two_requests_are_served_at_once(server):
    client, log = server
    jobs = [client.submit(handle_file(str(SAMPLE_IMAGE)), CLASSES, 'sclip', TINY, 0.55,
                          api_name='/segment') for _ in range(2)]
    results = [job.result(timeout=120) for job in jobs]
    assert all(picture is not None for picture, _, _ in results)
    assert results[0][1] == results[1][1]  # same image, same answer
    # the second request arrived while the first held the model: a second instance was built
    assert 'building sclip_tiny-clip_synthetic.py (instance 2 of at most 2)' in log.read_text()
