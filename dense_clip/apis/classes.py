"""The class-list syntax shared by the demos.

Classes are comma-separated; ``|`` separates synonyms of one class (``"dog|puppy, cat"``); a
class is named by its first synonym. ``name: syn1|syn2`` names a class apart from its synonyms
(``"background: sky|wall|floor"``): the text before the first ``:`` is the name shown in the
legend and is not used as a prompt, so a warning says so whenever a name is set that way.
Spaces around names are dropped. An empty list, class or synonym is an error, and so are two
classes with the same name (compared case-insensitively, by :class:`Vocabulary`).
"""

from __future__ import annotations

import warnings

__all__ = ['CLASS_SYNTAX', 'ClassNameWarning', 'parse_classes']

#: One line for ``--help`` texts and web pages.
CLASS_SYNTAX = ('comma-separated class names; "|" joins synonyms of one class ("dog|puppy,cat"); '
                '"name: syn1|syn2" names a class apart from its prompts (a warning says so)')


class ClassNameWarning(UserWarning):
    """A class is shown under another name than the text typed for it."""


def parse_classes(text: str) -> list[str]:
    """``'dog|puppy,cat'`` -> ``['dog: dog, puppy', 'cat: cat']``.

    The result is :class:`~dense_clip.models.text.Vocabulary` syntax (``name: synonyms``).
    A ``name:`` prefix (``'person: man|woman'``) sets the name; each such class raises a
    :class:`ClassNameWarning` saying which name is shown and which prompts are used.

    Args:
        text: the class list as typed.

    Returns:
        One ``'name: syn1, syn2'`` entry per class.

    Raises:
        ValueError: an empty list, class, name or synonym (the message quotes ``text``).
    """
    if not text.strip():
        raise ValueError(f'the class list {text!r} is empty; give comma-separated class names')
    entries = []
    for item in text.split(','):
        head, colon, rest = item.partition(':')
        name, synonyms_text = (head.strip(), rest) if colon else (None, item)
        synonyms = [s.strip() for s in synonyms_text.split('|')]
        if any(not s for s in synonyms) or name == '':
            raise ValueError(f'the class list {text!r} has an empty class name or synonym '
                             f'(in {item.strip()!r})')
        if name is None:
            name = synonyms[0]
        else:
            warnings.warn(f'class {item.strip()!r} is shown as {name!r} and prompted as '
                          f'{" | ".join(synonyms)} (text before ":" names a class)',
                          ClassNameWarning, stacklevel=2)
        entries.append(f'{name}: {", ".join(synonyms)}')
    return entries
