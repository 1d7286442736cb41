"""Fail unless a release tag names the package's version: `python packaging/check_tag.py v0.1.0`.

The release workflow runs it before it publishes, so a release never ships bundles that call themselves something
else than its tag says.
"""

from __future__ import annotations

import sys

from build import version


def check(tag: str) -> str | None:
    """None when `tag` is "v" + the package version, else the sentence that says what to do."""
    expected = f"v{version()}"
    if tag == expected:
        return None
    return (
        f"The tag {tag!r} does not match the package version {version()} (app/murmuration/__init__.py); "
        f"tag the release {expected}, or change the version first."
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python packaging/check_tag.py TAG", file=sys.stderr)
        return 1
    problem = check(argv[0])
    if problem:
        print(f"check_tag.py: {problem}", file=sys.stderr)
        return 1
    print(f"The tag {argv[0]} matches the package version.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
