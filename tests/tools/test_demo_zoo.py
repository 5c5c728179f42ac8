"""tools/demo.py with a CLIP named through the model zoo (fetched from a local server)."""

from __future__ import annotations

import subprocess
import sys

from dense_clip.testing import save_torchscript, tiny_clip_vit
from tests.conftest import REPO
from tests.zoo.fakes import sha256, weight_entry, write_index


def test_demo_downloads_converts_and_uses_a_zoo_clip(zoo_env, server, tool_env):
    archive = save_torchscript(tiny_clip_vit(seed=5), zoo_env / 'tiny.pt').read_bytes()
    url = server.add('/clip/tiny.pt', archive)
    write_index(zoo_env / 'index', [weight_entry('tiny_clip', url, SHA256=sha256(archive),
                                                 Convert='openai_clip')])
    env = dict(tool_env, DENSE_CLIP_CACHE=str(zoo_env / 'cache'), DENSE_CLIP_ZOO_RETRIES='0',
               DENSE_CLIP_MODEL_INDEX=str(zoo_env / 'index' / 'model-index.yml'))
    out = zoo_env / 'overlay.png'
    command = [sys.executable, 'tools/demo.py', '--classes', 'red plain,blue dotted',
               '--pretrained', 'zoo://tiny_clip', '--out', str(out)]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.is_file() and 'pixel share per class' in result.stdout
    converted = zoo_env / 'cache' / 'zoo' / 'tiny_clip' / 'tiny_clip.safetensors'
    assert converted.is_file() and server.gets('/clip/tiny.pt') == [None]
