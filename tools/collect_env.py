"""Prints the versions of torch, mmcv (and whether its ops are compiled), mmseg, mmdet, ..."""

from dense_clip.utils.collect_env import collect_env, format_env

if __name__ == '__main__':
    print(format_env(collect_env()))
