"""Installs dense_clip. Runtime requirements live in requirements/, split by role."""

import shutil
import sys
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name: str) -> list[str]:
    """Returns the requirement lines of requirements/<name>.txt, comments dropped."""
    lines = (HERE / 'requirements' / f'{name}.txt').read_text().splitlines()
    return [line.split('#')[0].strip() for line in lines if line.split('#')[0].strip()]


def read_version() -> str:
    namespace: dict = {}
    exec((HERE / 'dense_clip' / 'version.py').read_text(), namespace)
    return namespace['__version__']


def add_mim_extension() -> None:
    """Copies model-index.yml and configs/ into dense_clip/.mim when a wheel or sdist is built.

    OpenMMLab's layout: an installed package answers ``mim search dense_clip`` and the model zoo
    (``dense_clip.zoo``) from that copy. A source checkout reads its own files instead.
    """
    if not {'bdist_wheel', 'sdist', 'build', 'build_py'} & set(sys.argv):
        return
    target = HERE / 'dense_clip' / '.mim'
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    shutil.copy2(HERE / 'model-index.yml', target / 'model-index.yml')
    shutil.copytree(HERE / 'configs', target / 'configs')


add_mim_extension()
setup(
    name='dense_clip',
    version=read_version(),
    description='Dense prediction with pretrained CLIP models on OpenMMLab',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['dense_clip', 'dense_clip.*']),
    include_package_data=True,
    package_data={'dense_clip': ['data/*', 'data/**/*', '.mim/*', '.mim/**/*']},
    install_requires=read_requirements('runtime'),
    extras_require={
        'seg': read_requirements('seg'),
        'det': read_requirements('det'),
        'sam': read_requirements('sam'),
        'tests': read_requirements('tests'),
        'all': read_requirements('seg') + read_requirements('det') + read_requirements('sam'),
    },
    license='Apache-2.0',
    zip_safe=False,
)
