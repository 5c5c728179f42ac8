"""The class-list syntax shared by the demos: comma-separated classes, ``|`` between synonyms."""

from __future__ import annotations

__all__ = ['parse_classes']


def parse_classes(text: str) -> list[str]:
    """``'dog|puppy,cat'`` -> ``['dog: dog, puppy', 'cat: cat']`` (a class is named by its first
    synonym; the result is :class:`~dense_clip.models.text.Vocabulary` syntax).

    Raises:
        ValueError: an empty list, class or synonym.
    """
    classes = [[s.strip() for s in item.split('|')] for item in text.split(',')]
    if not text.strip() or any(not s for synonyms in classes for s in synonyms):
        raise ValueError(f'--classes {text!r} has an empty class name')
    return [f'{synonyms[0]}: {", ".join(synonyms)}' for synonyms in classes]
