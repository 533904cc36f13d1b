"""Image references (pure): the distribution grammar as one pattern, and a parser that says which part is wrong."""

from __future__ import annotations

import re

from batchlane.launch.problems import quoted

# Image references, as the distribution grammar defines them (github.com/distribution/reference):
# [registry[:port]/]repository[:tag][@digest]. Written with classes only (no \w, no lookaround) so
# that the same text is a valid JSON Schema (ECMA-262) pattern and a Python one.
_ALPHANUMERIC = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:(?:[._]|__|-+){_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_REGISTRY = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# Only the registered algorithms: go-digest (which registries use) refuses any other.
_DIGESTS = {"sha256": 64, "sha512": 128}
_DIGEST = "(?:" + "|".join(f"{algorithm}:[a-f0-9]{{{length}}}" for algorithm, length in _DIGESTS.items()) + ")"
IMAGE_REFERENCE = rf"(?:{_REGISTRY}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?"
IMAGE_REFERENCE_CHARS = 255  # AWS Batch's limit on a job definition's image (the grammar's own limit on the name)
_IMAGE_CHARACTERS = re.compile(r"[A-Za-z0-9._/:@-]*")


def is_image_reference(text: str) -> bool:
    return len(text) <= IMAGE_REFERENCE_CHARS and re.fullmatch(IMAGE_REFERENCE, text) is not None


def image_reference_problem(text: str) -> str | None:
    """What is wrong with ``text`` as an image reference, or None when it is one (pure).

    Parsed piece by piece, so that the message names the part that is wrong; it accepts exactly
    what IMAGE_REFERENCE matches (a test holds them together).
    """
    form = "[registry[:port]/]repository[:tag][@digest]"
    if not text:
        return f"is empty: give an image reference, {form}"
    if len(text) > IMAGE_REFERENCE_CHARS:
        return f"has {len(text)} characters; AWS Batch takes at most {IMAGE_REFERENCE_CHARS}"
    if not _IMAGE_CHARACTERS.fullmatch(text):
        bad = sorted({c for c in text if not _IMAGE_CHARACTERS.fullmatch(c)})
        shown = ", ".join("a space" if c == " " else quoted(c) for c in bad[:10])
        return f"contains {shown}: an image reference ({form}) has only letters, digits and . _ - / : @"
    name, at, digest = text.partition("@")
    if at:
        if not digest:
            return "ends with '@' but no digest follows it"
        if "@" in digest:
            return "has more than one '@': only one digest may follow the name"
        algorithm, _, hex_digits = digest.partition(":")
        if algorithm not in _DIGESTS:
            return f"digest algorithm {quoted(algorithm)} is not supported (use {' or '.join(_DIGESTS)})"
        if not re.fullmatch(f"[a-f0-9]{{{_DIGESTS[algorithm]}}}", hex_digits):
            return f"digest must be {algorithm}: and {_DIGESTS[algorithm]} lower-case hex digits (got {quoted(digest)})"
    components = name.split("/")
    last, colon, tag = components[-1].partition(":")
    if colon:
        if ":" in tag:
            return f"has more than one ':' in {quoted(components[-1])}: only the tag follows a ':'"
        if not re.fullmatch(_TAG, tag):
            return f"tag {quoted(tag)} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        components[-1] = last
    # The first of several components is a registry when it can be one (a repository component
    # is then a host name too); a ':' before a '/' can only be a registry's port.
    if len(components) > 1 and re.fullmatch(_REGISTRY, components[0]):
        components = components[1:]
    elif len(components) > 1 and ":" in components[0]:
        return (
            f"registry {quoted(components[0])} must be a host name (letters, digits, '-', '.') with an optional :port"
        )
    for component in components:
        if not component:
            return f"has an empty path component in {quoted(name)}"
        if not re.fullmatch(_PATH_COMPONENT, component):
            if re.fullmatch(_PATH_COMPONENT, component.lower()):
                return f"the repository must be lower case (got {quoted('/'.join(components))})"
            return (
                f"repository component {quoted(component)} must be lower-case letters and digits, "
                "separated by '.', '_', '__' or '-'"
            )
    return None
