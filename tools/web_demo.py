"""A web page for open-vocabulary segmentation of your own images (Gradio).

    pip install -r requirements/demo.txt
    python tools/web_demo.py                   # http://127.0.0.1:7860, embedded CLIP, offline
    python tools/web_demo.py --port 8000 --max-megapixels 8 --max-classes 500
    python tools/web_demo.py --config configs/sclip/sclip_vit-b16_voc21.py   # adds a method

Upload or pick an image, type classes (comma-separated, ``|`` between synonyms, as in
``tools/demo.py``), choose the method and the CLIP, and get the overlay with a legend of pixel
shares (boxes and scores for detection configs). The default, the embedded tiny CLIP
``dense_clip:tiny-clip-synth``, needs no download; other CLIPs download their weights on first
use. The server binds to 127.0.0.1 unless ``--host`` says otherwise, answers
``--concurrency`` requests at once (two by default), and refuses images over
``--max-megapixels`` and vocabularies over ``--max-classes`` with a message in the page.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

METHODS = ('maskclip', 'sclip', 'clearclip', 'naclip', 'cliptrase', 'vanilla')
SYNTHETIC_CONFIG = 'configs/synthetic/{method}_tiny-clip_synthetic.py'
# label in the CLIP menu -> model.clip override (None keeps the config's CLIP)
CLIPS = {
    'embedded tiny CLIP (dense_clip:tiny-clip-synth, offline)': None,
    'ViT-B-16 / openai (downloads weights)': dict(model_name='ViT-B-16', pretrained='openai'),
    'ViT-B-16 / laion2b_s34b_b88k (downloads weights)': dict(
        model_name='ViT-B-16', pretrained='laion2b_s34b_b88k'),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1', help='address to bind (default: local)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--config', action='append', default=[],
                        help='extra config offered as a method (repeatable; seg or det)')
    parser.add_argument('--max-megapixels', type=float, default=4.0)
    parser.add_argument('--max-classes', type=int, default=300)
    parser.add_argument('--concurrency', type=int, default=2, help='requests served at once')
    return parser.parse_args(argv)


def default_classes() -> str:
    """The synthetic world's classes in the demo's syntax (its bundled sample's vocabulary)."""
    from dense_clip.synthetic import world

    return ', '.join(line.replace(',', '|') for line in world.class_name_lines())


def method_configs(extra: list[str]) -> dict[str, str]:
    """Method name -> config path: the synthetic configs, then ``--config`` files by stem."""
    configs = {m: str(REPO / SYNTHETIC_CONFIG.format(method=m)) for m in METHODS}
    for path in extra:
        if not Path(path).is_file():
            raise FileNotFoundError(f'config file not found: {path}')
        configs[Path(path).stem] = str(Path(path).resolve())
    return configs


def build_app(service, concurrency: int):
    """The Gradio Blocks page around a :class:`~dense_clip.apis.demo_service.DemoService`."""
    import gradio as gr
    from PIL import Image

    from dense_clip.synthetic.samples import SAMPLE_IMAGE

    def checked_image(**kwargs) -> gr.Image:
        """An image input whose unreadable uploads reach the handler (for a page message).

        Gradio would answer them with a generic error before the handler runs. (Wrapped per
        instance: subclassing a Gradio component makes Gradio write a .pyi stub beside this
        script.)
        """
        component = gr.Image(**kwargs)
        preprocess = component.preprocess

        def checked(payload):
            try:
                return preprocess(payload)
            except (OSError, ValueError, Image.DecompressionBombError, gr.Error) as err:
                name = getattr(payload, 'orig_name', None) or 'upload'
                return RejectedUpload(f'Not an image this demo can read ({name}): {err}')

        component.preprocess = checked
        return component

    def segment(image_path, classes_text, method, clip_label, alpha):
        if isinstance(image_path, RejectedUpload):
            return None, None, f'**{image_path.message}**'
        import pandas as pd

        reply = service(image_path, classes_text, method, CLIPS.get(clip_label), alpha)
        message = reply.message if reply.picture is not None else f'**{reply.message}**'
        return reply.picture, pd.DataFrame(reply.rows, columns=reply.headers or None), message

    limits = service.limits
    with gr.Blocks(title='dense_clip: open-vocabulary segmentation') as app:
        gr.Markdown('# dense_clip: open-vocabulary segmentation\nUpload an image, type the '
                    'classes (comma-separated; `|` joins synonyms of one class), press '
                    f'**Segment**. Limits: {limits.max_pixels / 1e6:.1f} megapixels, '
                    f'{limits.max_classes} classes.')
        with gr.Row():
            with gr.Column():
                image = checked_image(type='filepath', label='image', value=str(SAMPLE_IMAGE))
                classes = gr.Textbox(label='classes', value=default_classes(), lines=3)
                with gr.Row():
                    method = gr.Dropdown(list(service.configs), value=next(iter(service.configs)),
                                         label='method')
                    clip = gr.Dropdown(list(CLIPS), value=next(iter(CLIPS)), label='CLIP')
                alpha = gr.Slider(0.0, 1.0, value=0.55, step=0.05, label='overlay opacity')
                run = gr.Button('Segment', variant='primary')
            with gr.Column():
                picture = gr.Image(label='image | overlay, legend', type='numpy',
                                   format='png', interactive=False)
                message = gr.Markdown(elem_id='message')
                legend = gr.Dataframe(label='legend', interactive=False, wrap=True)
        gr.Examples([[str(SAMPLE_IMAGE)]], inputs=[image])
        run.click(segment, [image, classes, method, clip, alpha], [picture, legend, message],
                  api_name='segment', concurrency_limit=concurrency)
    return app


class RejectedUpload:
    """An upload that is not a readable image, with the message to show."""

    def __init__(self, message: str) -> None:
        self.message = message


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # no calls home; offline
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    from dense_clip.apis.demo_service import DemoLimits, DemoService

    if args.concurrency < 1 or args.max_classes < 1 or args.max_megapixels <= 0:
        raise ValueError('--concurrency, --max-classes and --max-megapixels must be positive')
    limits = DemoLimits(max_pixels=int(args.max_megapixels * 1e6), max_classes=args.max_classes)
    service = DemoService(method_configs(args.config), limits, per_model=args.concurrency)
    app = build_app(service, args.concurrency)
    app.queue(default_concurrency_limit=args.concurrency)
    print(f'dense_clip web demo on http://{args.host}:{args.port}', flush=True)
    app.launch(server_name=args.host, server_port=args.port, show_error=True, share=False,
               max_file_size='200mb')


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    run_cli(main)
