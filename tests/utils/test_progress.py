"""dense_clip.utils.progress: quiet two-line mode off a terminal, the bar on one."""

from __future__ import annotations

import io
import re
import time

import pytest

from dense_clip.utils.progress import Progress, track


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_writes_only_a_start_and_an_end_line(monkeypatch):
    monkeypatch.delenv('DENSE_CLIP_PROGRESS', raising=False)
    stream = io.StringIO()
    items = list(track(range(500), 'conversion', unit='image', stream=stream))
    assert items == list(range(500))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == '[conversion] start: 500 images'
    assert re.fullmatch(r'\[conversion\] done: 500 images in \d+\.\d s( \(.+\))?', lines[1])


def test_end_line_gives_the_rate(monkeypatch):
    monkeypatch.delenv('DENSE_CLIP_PROGRESS', raising=False)
    stream = io.StringIO()
    with Progress(4, 'text encoding', unit='prompt', stream=stream) as progress:
        for _ in range(4):
            time.sleep(0.05)
            progress.update()
    end = stream.getvalue().splitlines()[-1]
    rate = float(re.search(r'\(([\d.]+) prompts/s\)', end).group(1))
    assert 5 < rate < 21, end  # 4 prompts in ~0.2 s


def test_delay_keeps_short_work_silent_and_announces_long_work(monkeypatch):
    monkeypatch.delenv('DENSE_CLIP_PROGRESS', raising=False)
    quiet = io.StringIO()
    with Progress(10, 'fast', stream=quiet, delay=5.0) as progress:
        progress.update(10)
    assert quiet.getvalue() == ''

    slow = io.StringIO()
    with Progress(3, 'slow', stream=slow, delay=0.1) as progress:
        progress.update()
        time.sleep(0.15)
        progress.update(2)
    lines = slow.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith('[slow] start: 3 items (running for')
    assert lines[1].startswith('[slow] done: 3 items')


def test_an_interrupted_job_says_where_it_stopped(monkeypatch):
    monkeypatch.delenv('DENSE_CLIP_PROGRESS', raising=False)
    stream = io.StringIO()
    with pytest.raises(KeyboardInterrupt), Progress(10, 'job', unit='file', stream=stream) as p:
        p.update(3)
        raise KeyboardInterrupt
    assert stream.getvalue().splitlines()[-1].startswith(
        '[job] stopped after 3 files of 10 in ')
    assert stream.getvalue().rstrip().endswith('(KeyboardInterrupt)')


def test_terminal_gets_a_bar_with_rate_and_time_left(monkeypatch):
    monkeypatch.delenv('DENSE_CLIP_PROGRESS', raising=False)
    stream = FakeTerminal()
    with Progress(3, 'text encoding', unit='prompt', stream=stream) as progress:
        for _ in range(3):
            time.sleep(0.02)
            progress.update()
    text = stream.getvalue()
    assert '\r' in text and '3/3' in text and 'prompt/s' in text
    assert re.search(r'\d\d:\d\d<\d\d:\d\d', text)  # elapsed<left


def test_environment_overrides_the_choice(monkeypatch):
    stream = FakeTerminal()
    monkeypatch.setenv('DENSE_CLIP_PROGRESS', 'lines')
    list(track([1, 2], 'forced', stream=stream))
    assert stream.getvalue().splitlines()[0] == '[forced] start: 2 items'
    monkeypatch.setenv('DENSE_CLIP_PROGRESS', 'off')
    silent = io.StringIO()
    list(track([1, 2], 'off', stream=silent))
    assert silent.getvalue() == ''
    monkeypatch.setenv('DENSE_CLIP_PROGRESS', 'loud')
    with pytest.raises(ValueError, match='bar, lines, off'):
        Progress(1, 'x', stream=silent)


def test_text_encoding_reports_prompts_per_second(monkeypatch, capsys):
    import open_clip

    from dense_clip.models.text import build_text_classifier, classifier
    from dense_clip.testing import tiny_clip_vit

    monkeypatch.delenv('DENSE_CLIP_PROGRESS', raising=False)
    monkeypatch.setattr(classifier, '_PROGRESS_DELAY_S', 0.0)
    model, tokenizer = tiny_clip_vit().eval(), open_clip.get_tokenizer('ViT-B-16')
    embeddings = build_text_classifier(model, tokenizer, ['cat', 'dog', 'sky'],
                                       ['a photo of {}.', 'a {}.'], batch_size=4)
    assert embeddings.shape == (3, 32)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == '[text encoding] start: 6 prompts'
    assert re.fullmatch(r'\[text encoding\] done: 6 prompts in \d+\.\d s \([\d.]+ prompts/s\)',
                        lines[1]), lines


def test_short_text_encoding_stays_silent(capsys, monkeypatch):
    import open_clip

    from dense_clip.models.text import build_text_classifier
    from dense_clip.testing import tiny_clip_vit

    monkeypatch.delenv('DENSE_CLIP_PROGRESS', raising=False)
    build_text_classifier(tiny_clip_vit().eval(), open_clip.get_tokenizer('ViT-B-16'),
                          ['cat'], ['{}'])
    assert '[text encoding]' not in capsys.readouterr().err
