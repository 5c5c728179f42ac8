"""Speed and memory of a segmentation config: text encoding, images, peak memory, matmul peak.

    python tools/benchmark_speed.py CONFIG [--image-size 448x336] [--precision fp32 bf16]
        [--cases text image] [--classes context59] [--probs top] [--device cuda]
    python tools/benchmark_speed.py --write-readme README.md RESULT.json [RESULT.json ...]

Every (case, precision) runs in a fresh child process, so its peak memory is its own: the
process's peak resident set (CPU) or ``torch.cuda.max_memory_allocated`` (CUDA), read when the
timed runs end (before FLOP counting, any profile and the closing matrix products). Each child
also times a matrix product in the same precision before and after its case (the better of the two
is the machine's "matmul peak" for that run), and reports the case's achieved GFLOP/s and its
fraction of that peak. The config's architecture is built with random weights (speed does not
depend on their values; nothing is downloaded) unless ``--pretrained`` names weights to load.

* text: prompts/s of ``build_text_classifier`` (the config's templates, every synonym) and of
  the full-length path it replaced (every prompt at the full context, in vocabulary order; on an
  evenly spaced subset of ``--baseline-prompts`` prompts).
* image: images/s of ``model.predict`` on one image of ``--image-size`` (the bundled synthetic
  scene resized; text embeddings computed before timing), best of ``--repeats``; GFLOP per image
  counted once in float32 (matrix products and convolutions, ``torch.utils.flop_counter``); the
  same for the image tower's passes alone over the same windows (without the scores' upsampling
  and the decision).
* ``--profile`` (CPU): where one image's time goes. One ``predict`` runs under
  ``torch.profiler`` with the image encoder's calls marked; each operation's own CPU time is
  summed into matrix products, fused attention and everything else, in the tower and after it,
  with the products' and attention's GFLOP/s from their recorded shapes.

Results go to ``--out-dir`` as ``<tag>.json`` and ``<tag>.md``; ``--write-readme`` puts the
tables of one or more result files between ``<!-- speed:benchmark -->`` markers in a README.
``--code-root`` measures another checkout's ``dense_clip`` (e.g. the previous release).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ('fp32', 'bf16')
CASES = ('text', 'image')


# ----------------------------------------------------------------------------- measuring
# environment settings that change what is measured; a run records those that are set
SETTINGS_FROM_ENV = ('DENSE_CLIP_PACKED_WEIGHTS', 'DENSE_CLIP_MALLOC_TUNING')


def _sync(device: str) -> None:
    import torch

    if device.startswith('cuda'):
        torch.cuda.synchronize()


def matmul_peak(precision: str, device: str, repeats: int = 5) -> float:
    """Best GFLOP/s of square and ViT-MLP-shaped matrix products in ``precision``."""
    import torch

    dtype = torch.bfloat16 if precision == 'bf16' else torch.float32
    best = 0.0
    for m, k, n in ((2048, 2048, 2048), (3152, 768, 3072)):
        a = torch.randn(m, k, device=device, dtype=dtype)
        b = torch.randn(n, k, device=device, dtype=dtype)
        for i in range(repeats + 1):
            _sync(device)
            start = time.perf_counter()
            torch.nn.functional.linear(a, b)
            _sync(device)
            if i:  # the first is a warm-up
                best = max(best, 2 * m * k * n / (time.perf_counter() - start) / 1e9)
    return best


def count_flops(fn) -> int:
    """FLOPs of matrix products and convolutions in ``fn()`` (attention in its maths form)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # attention as countable products
    try:
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            fn()
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return int(counter.get_total_flops())


# leaf operations that are matrix products: (name, index of the first factor in the inputs)
PRODUCT_OPS = {'mkldnn::_linear_pointwise': 0, 'aten::mm': 0, 'aten::addmm': 1,
               'aten::_addmm_activation': 1, 'aten::bmm': 0, 'aten::baddbmm': 1}
PROFILE_PARTS = ('products', 'attention', 'other', 'outside')


def _product_flops(name: str, shapes: list) -> int:
    """FLOPs of one call of a matrix product from its recorded input shapes (0 if unknown)."""
    first = PRODUCT_OPS[name]
    try:
        a, b = shapes[first], shapes[first + 1]
        if name == 'mkldnn::_linear_pointwise':  # x (..., K), weight (N, K): packed or not
            rows = 1
            for size in a[:-1]:
                rows *= size
            return 2 * rows * a[-1] * b[0]
        batch = a[0] if len(a) == 3 else 1  # bmm, baddbmm: (B, M, K) @ (B, K, N)
        return 2 * batch * a[-2] * a[-1] * b[-1]
    except (IndexError, TypeError):
        return 0


def _attention_flops(shapes: list) -> int:
    """FLOPs of a fused attention kernel: q (B, H, N, d), k (B, H, S, d), v (B, H, S, e)."""
    try:
        q, k, v = shapes[:3]
        heads = q[0] * q[1]
        return 2 * heads * q[2] * k[2] * (q[3] + v[3])
    except (IndexError, TypeError):
        return 0


TOWER_MARK = 'benchmark_speed: image tower'


def _part_of(name: str) -> str:
    if name in PRODUCT_OPS:
        return 'products'
    if name.startswith('aten::_scaled_dot_product') and ('flash' in name or 'efficient' in name):
        return 'attention'
    return 'other'


def profile_parts(fn, tower=None) -> dict:
    """Where the time of one ``fn()`` goes, from ``torch.profiler`` (CPU).

    Each operation's own CPU time is summed into matrix products, fused attention and other
    operations, and the FLOPs of the products and attention are counted from their recorded
    input shapes. With ``tower`` (the image encoder module), calls of it are marked, and the
    operations they run are summed apart from the rest.

    Returns:
        ``{'tower': part, 'rest': part}`` (or ``{'rest': part}`` without ``tower``); a part is
        ``{'seconds': {products, attention, other, outside}, 'flops': {products, attention}}``,
        'outside' being the time not in any operation (Python, the profiler): the marked calls'
        own time for the tower, the rest of the wall time for 'rest'.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    with profile(activities=[ProfilerActivity.CPU]):  # the profiler's own start-up, untimed
        torch.ones(1).add_(1)
    marks, handles = [], []
    if tower is not None:
        def enter(module, args):
            marks.append(record_function(TOWER_MARK))
            marks[-1].__enter__()

        def leave(module, args, output):
            marks.pop().__exit__(None, None, None)

        handles = [tower.register_forward_pre_hook(enter), tower.register_forward_hook(leave)]
    try:
        start = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            fn()
        wall = time.perf_counter() - start
    finally:
        for handle in handles:
            handle.remove()
    events = prof.events()
    spans = [(e.time_range.start, e.time_range.end) for e in events if e.name == TOWER_MARK]
    result = {part: dict(seconds=dict.fromkeys(PROFILE_PARTS, 0.0),
                         flops=dict(products=0, attention=0))
              for part in (('tower', 'rest') if tower is not None else ('rest',))}
    for event in events:
        seconds = event.self_cpu_time_total / 1e6
        if event.name == TOWER_MARK:
            result['tower']['seconds']['outside'] += seconds
            continue
        inside = any(s <= event.time_range.start < e for s, e in spans)
        part = result['tower' if inside else 'rest']
        kind = _part_of(event.name)
        part['seconds'][kind] += seconds
        if kind == 'products':
            part['flops'][kind] += _product_flops(event.name, event.input_shapes)
        elif kind == 'attention':
            part['flops'][kind] += _attention_flops(event.input_shapes)
    counted = sum(sum(part['seconds'].values()) for part in result.values())
    result['rest']['seconds']['outside'] += max(wall - counted, 0.0)
    return result


def peak_memory_mb(device: str) -> float:
    import torch

    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def build_model(spec: dict):
    """The config's segmentor in ``spec['precision']`` with its vocabulary, in eval mode."""
    import copy

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings

    from dense_clip.engine.config import apply_dataset_vocabulary

    cfg = Config.fromfile(spec['config'])
    if spec.get('cfg_options'):
        cfg.merge_from_dict(spec['cfg_options'])
    cfg = apply_dataset_vocabulary(cfg)
    import_modules_from_strings(**cfg.get('custom_imports', dict(imports=[])))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS

    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.clip.precision = spec['precision']
    if spec.get('pretrained'):
        model_cfg.clip.pretrained = spec['pretrained']
    model_cfg.text.cache_dir = False
    if spec.get('classes'):
        model_cfg.text.vocabulary = spec['classes']
    if spec.get('probs'):
        model_cfg.test_cfg = dict(model_cfg.get('test_cfg') or {}, probs=spec['probs'])
    model = MODELS.build(model_cfg)  # the config's architecture (QuickGELU and all)
    if spec.get('pretrained'):
        model.init_weights()  # else random weights: nothing is read or downloaded
    return model.to(spec['device']).eval()


def text_case(spec: dict, model) -> dict:
    """prompts/s of the text classifier and of the full-length path, in this precision."""
    import torch
    import torch.nn.functional as F

    from dense_clip.models.text import build_text_classifier, get_templates

    vocabulary = model.vocabulary_of()
    templates = get_templates(spec.get('templates') or model.templates)
    prompts = [t.replace('{}', name) for name in vocabulary.synonyms for t in templates]
    _sync(spec['device'])
    start = time.perf_counter()
    build_text_classifier(model.clip_model, model.tokenizer, vocabulary, templates)
    _sync(spec['device'])
    seconds = time.perf_counter() - start
    step = max(len(prompts) // max(spec['baseline_prompts'], 1), 1)
    subset = prompts[::step][:spec['baseline_prompts']]
    context = getattr(model.clip_model, 'context_length', None)
    with torch.no_grad():
        _sync(spec['device'])
        start = time.perf_counter()
        tokens = model.tokenizer(subset, context_length=context) if context else \
            model.tokenizer(subset)
        for i in range(0, len(tokens), 256):
            batch = tokens[i:i + 256].to(spec['device'])
            F.normalize(model.clip_model.encode_text(batch).float(), dim=-1)
        _sync(spec['device'])
        baseline = time.perf_counter() - start
    return dict(prompts=len(prompts), templates=len(templates), prompts_per_s=len(prompts) /
                seconds, seconds=seconds, baseline_prompts=len(subset),
                baseline_prompts_per_s=len(subset) / baseline)


def _image(spec: dict):
    import numpy as np
    import torch
    from PIL import Image

    width, height = spec['image_size']
    sample = REPO / 'dense_clip' / 'data' / 'samples' / 'synthetic_scene.png'
    rgb = np.asarray(Image.open(sample).convert('RGB').resize((width, height)), dtype=np.float32)
    # CLIP's statistics written out: --code-root may name a checkout older than
    # dense_clip.models.clip.constants
    mean = np.array([122.771, 116.746, 104.094], dtype=np.float32)
    std = np.array([68.501, 66.632, 70.323], dtype=np.float32)
    return torch.from_numpy((rgb - mean) / std).permute(2, 0, 1)[None].to(spec['device'])


def image_case(spec: dict, model) -> dict:
    """images/s of ``model.predict`` on one image; FLOPs counted when asked (float32)."""
    from mmseg.structures import SegDataSample

    from dense_clip.models.text import get_templates

    image = _image(spec)
    height, width = image.shape[-2:]
    model.templates = get_templates(spec.get('image_templates', 'single'))
    vocabulary = model.vocabulary_of()
    model.text_embeddings(vocabulary)  # not timed: images only

    def predict():
        meta = dict(img_shape=(height, width), ori_shape=(height, width))
        return model.predict(image, [SegDataSample(metainfo=meta)])[0]

    def tower():  # the dense passes alone, over the same windows
        import torch

        from dense_clip.seg.inference import window_grid

        boxes = ([(0, height, 0, width)] if model.mode == 'whole' else
                 window_grid(height, width, model.crop_size, model.stride))
        dtype = next(model.clip_model.parameters()).dtype
        with torch.no_grad():
            for i in range(0, len(boxes), model.windows_per_batch):
                windows = torch.cat([image[..., y1:y2, x1:x2]
                                     for y1, y2, x1, x2 in boxes[i:i + model.windows_per_batch]])
                model.encoder(windows.to(dtype), request=model.request)

    predict()  # warm-up: positional embeddings, packed weights
    tower()
    tower_times = []
    for _ in range(spec['repeats']):
        _sync(spec['device'])
        start = time.perf_counter()
        tower()
        _sync(spec['device'])
        tower_times.append(time.perf_counter() - start)
    times = []
    for _ in range(spec['repeats']):
        _sync(spec['device'])
        start = time.perf_counter()
        sample = predict()
        _sync(spec['device'])
        times.append(time.perf_counter() - start)
    result = dict(classes=vocabulary.num_classes, names=len(vocabulary.synonyms),
                  seconds=min(times), seconds_all=times, images_per_s=1 / min(times),
                  tower_seconds=min(tower_times),
                  seg_logits=list(sample.seg_logits.data.shape))
    # the timed runs' peak memory, before FLOP counting and the profiler's records add to it
    result['peak_memory_mb'] = peak_memory_mb(spec['device'])
    if spec.get('profile'):
        result['profile'] = profile_parts(predict, tower=model.encoder)
    if spec.get('count_flops'):
        result['flops'] = count_flops(predict)
        result['tower_flops'] = count_flops(tower)
    return result


def run_child(spec: dict) -> dict:
    """One (case, precision) in this process; returns its measurements."""
    if spec.get('code_root'):
        sys.path.insert(0, spec['code_root'])
    else:
        sys.path.insert(0, str(REPO))
    import torch

    if spec.get('threads'):
        torch.set_num_threads(spec['threads'])
    try:  # the measured checkout's allocator setting, as its own tools make it
        from dense_clip.utils.allocator import tune_cpu_allocator
    except ImportError:  # a checkout older than dense_clip.utils.allocator
        allocator = None
    else:
        allocator = tune_cpu_allocator()
    device = spec['device']
    repeats = spec.get('peak_repeats', 5)
    peak = matmul_peak(spec['precision'], device, repeats)
    model = build_model(spec)
    case = text_case if spec['case'] == 'text' else image_case
    result = case(spec, model)
    result.setdefault('peak_memory_mb', peak_memory_mb(device))  # the case's, not the products'
    peak = max(peak, matmul_peak(spec['precision'], device, repeats))
    result.update(matmul_peak_gflops=peak, threads=torch.get_num_threads(), allocator=allocator)
    return result


# ----------------------------------------------------------------------------- driver
def spawn(spec: dict) -> dict:
    """Runs one case in a fresh interpreter (its own peak memory) and returns its result."""
    env = dict(os.environ)
    if spec.get('threads'):
        env['OMP_NUM_THREADS'] = str(spec['threads'])
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), '--child',
                           json.dumps(spec)], capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith('RESULT ')]
    if done.returncode or not lines:
        tail = '\n'.join(done.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"the {spec['case']} case ({spec['precision']}) failed:\n{tail}")
    return json.loads(lines[-1][len('RESULT '):])


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split('x'))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f'expected WIDTHxHEIGHT, e.g. 448x336: {text}') from err
    return width, height


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', nargs='?', help='a dense_clip segmentation config')
    parser.add_argument('--image-size', type=_size, default=(448, 336),
                        help='WIDTHxHEIGHT of the test image (default 448x336)')
    parser.add_argument('--precision', nargs='+', choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument('--cases', nargs='+', choices=CASES, default=list(CASES))
    parser.add_argument('--classes', help="vocabulary: a class-list name such as 'ade847', or "
                        "comma-separated names ('|' joins synonyms); default: the config's")
    parser.add_argument('--templates', help="text case templates (default: the config's)")
    parser.add_argument('--image-templates', default='single',
                        help='templates for the image case (not timed; default single)')
    parser.add_argument('--probs', choices=('full', 'top', 'auto'), help='test_cfg.probs')
    parser.add_argument('--no-flops', action='store_true',
                        help='skip counting FLOPs (one more float32 pass of the image)')
    parser.add_argument('--profile', action='store_true',
                        help='also break one image down by part with torch.profiler (CPU)')
    parser.add_argument('--pretrained', help='weights for model.clip (default: random)')
    parser.add_argument('--baseline-prompts', type=int, default=256,
                        help='prompts timed on the full-length text path (default 256)')
    parser.add_argument('--repeats', type=int, default=3, help='timed images (best counts)')
    parser.add_argument('--peak-repeats', type=int, default=5,
                        help='timed matrix products per shape, before and after each case')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--threads', type=int, help='torch threads (default: torch default)')
    parser.add_argument('--code-root', help="measure this checkout's dense_clip instead")
    parser.add_argument('--out-dir', default='work_dirs/benchmark_speed')
    parser.add_argument('--tag', help='result file name (default: from config and size)')
    parser.add_argument('--title', help='title of the README block')
    parser.add_argument('--write-readme', metavar='README',
                        help='fill README from the result files given as arguments')
    parser.add_argument('results', nargs='*', help=argparse.SUPPRESS)
    parser.add_argument('--child', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print('RESULT ' + json.dumps(run_child(json.loads(args.child))), flush=True)
        return
    from dense_clip.utils.speed_report import git_commit, machine, markdown, write_readme

    if args.write_readme:
        files = ([args.config] if args.config else []) + args.results
        write_readme(Path(args.write_readme), files)
        print(f'wrote the speed tables of {len(files)} result file(s) into {args.write_readme}')
        return
    if not args.config or not Path(args.config).is_file():
        raise FileNotFoundError(f'config file not found: {args.config}')
    if args.device.startswith('cuda'):
        import torch

        if not torch.cuda.is_available():
            raise ValueError('--device cuda: no CUDA device is available here')
        if args.profile:
            raise ValueError('--profile breaks down CPU time only; run it with --device cpu')
    classes = args.classes
    if classes and (',' in classes or '|' in classes):
        from dense_clip.apis.classes import parse_classes

        classes = parse_classes(classes)
    base = dict(config=str(Path(args.config).resolve()), classes=classes, device=args.device,
                templates=args.templates, image_templates=args.image_templates,
                probs=args.probs, pretrained=args.pretrained, threads=args.threads,
                profile=args.profile,
                baseline_prompts=args.baseline_prompts, repeats=args.repeats,
                peak_repeats=args.peak_repeats,
                image_size=list(args.image_size), code_root=args.code_root)
    load_before = os.getloadavg()[0]
    results, flops = [], None
    if 'image' in args.cases and 'fp32' not in args.precision and not args.no_flops:
        counted = spawn(dict(base, case='image', precision='fp32', count_flops=True, repeats=1))
        flops = {k: counted[k] for k in ('flops', 'tower_flops')}
    for case in args.cases:
        for precision in args.precision:
            spec = dict(base, case=case, precision=precision,
                        count_flops=case == 'image' and precision == 'fp32' and not args.no_flops)
            result = spawn(spec)
            if case == 'image' and 'flops' in result:  # counted here (float32)
                flops = {k: result[k] for k in ('flops', 'tower_flops')}
            elif case == 'image' and flops:
                result.update(flops)
            results.append(dict(case=case, precision=precision, **result))
            print(f'{case} {precision}: ' + ', '.join(
                f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}'
                for k, v in result.items() if not isinstance(v, list)), flush=True)
    width, height = args.image_size
    tag = args.tag or f'{Path(args.config).stem}_{width}x{height}'
    root = Path(args.code_root) if args.code_root else REPO
    run = dict(title=args.title or f'{Path(args.config).name}, {width}x{height}',
               date=time.strftime('%Y-%m-%d'), machine=machine(), device=args.device,
               threads=results[0]['threads'], commit=git_commit(root),
               command='python tools/benchmark_speed.py ' + shlex.join(
                   argv if argv is not None else sys.argv[1:]),
               image_size=[width, height], load_before=load_before,
               load_after=os.getloadavg()[0], results=results,
               env={k: os.environ[k] for k in SETTINGS_FROM_ENV if k in os.environ})
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f'{tag}.json').write_text(json.dumps(run, indent=2) + '\n')
    (out / f'{tag}.md').write_text(f"# {run['title']}\n\n{markdown(run)}")
    print(markdown(run))
    print(f'results written to {out / tag}.json and .md')


if __name__ == '__main__':
    sys.path.insert(0, str(REPO))
    if '--child' in sys.argv:  # a child's errors stay tracebacks for the parent to show
        main()
    else:
        from dense_clip.utils.cli import run_cli

        run_cli(main)
