"""The environment report names every component and says whether mmcv's ops are compiled."""

from dense_clip.utils.collect_env import collect_env, format_env


def test_report_lists_stack_and_mmcv_ops():
    env = collect_env()
    for key in ('torch', 'mmcv', 'mmsegmentation', 'mmdet', 'open_clip', 'timm',
                'segment_anything', 'mmcv ops'):
        assert key in env
    assert env['mmcv ops'].startswith('compiled'), env['mmcv ops']
    assert not env['mmsegmentation'].startswith('not importable'), env['mmsegmentation']
    assert 'mmcv ops' in format_env(env)
