"""Image references: the distribution grammar, checked before any AWS call, with what is wrong named."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from launch_examples import SETTINGS, detail

from batchlane.launch.images import IMAGE_REFERENCE, IMAGE_REFERENCE_CHARS, image_reference_problem, is_image_reference
from batchlane.launch.validation import validate

SHA256 = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "image",
    [
        "busybox",
        "busybox:1.36",
        "library/busybox:latest",
        "docker.io/library/busybox",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/recast_core:arm64",
        "public.ecr.aws/docker/library/busybox:latest",
        "localhost/app",
        "localhost:5000/team/app:v2",
        "Registry.Example.COM:8443/team/app",  # a registry host may have upper case
        "registry:5000",  # no '/': the repository "registry", tag "5000"
        f"ghcr.io/org/app@{SHA256}",
        f"ghcr.io/org/app:v1.2.3@{SHA256}",
        "quay.io/org/app@sha512:" + "ab" * 64,
        "a__b/c-d/e--f/g.h",
        "MyRegistry/app",  # upper case: only a host name can be "MyRegistry"
        "my_team.example/app",  # not a host name, so a repository component (as Docker reads it)
        "repo:_Tag.with-Everything_1",
        "repo:" + "t" * 128,
        "r" * IMAGE_REFERENCE_CHARS,
    ],
)
def test_valid_references_are_accepted(image):
    assert image_reference_problem(image) is None and is_image_reference(image)
    assert validate(detail(container={"image": image}), SETTINGS)[2] == []


@pytest.mark.parametrize(
    "image, message",
    [
        ("", "is empty: give an image reference, [registry[:port]/]repository[:tag][@digest]"),
        (
            "busybox latest",
            "contains a space: an image reference ([registry[:port]/]repository[:tag][@digest]) "
            "has only letters, digits and . _ - / : @",
        ),
        ("busybox; rm -rf /", 'contains a space, ";": an image reference'),
        ("busybox`id`", 'contains "`": an image reference'),
        ("x$(id)", 'contains "$", "(", ")": an image reference'),
        ("busybox\n", 'contains "\\n": an image reference'),
        ("MyApp", 'the repository must be lower case (got "MyApp")'),
        ("docker.io/MyOrg/app", 'the repository must be lower case (got "MyOrg/app")'),
        ("My_Team/app", 'the repository must be lower case (got "My_Team/app")'),
        ("repo::tag", "has more than one ':' in \"repo::tag\": only the tag follows a ':'"),
        ("docker.io/library/busybox:1:2", "has more than one ':' in \"busybox:1:2\": only the tag follows a ':'"),
        ("repo:-rc1", "tag \"-rc1\" must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"),
        ("repo:" + "t" * 129, 'tag "' + "t" * 98 + "… must be 1 to 128"),
        ("repo@sha256:abc", 'digest must be sha256: and 64 lower-case hex digits (got "sha256:abc")'),
        ("repo@" + SHA256.upper().replace("SHA256", "sha256"), "digest must be sha256: and 64 lower-case hex digits"),
        ("repo@md5:" + "0" * 32, 'digest algorithm "md5" is not supported (use sha256 or sha512)'),
        ("repo@", "ends with '@' but no digest follows it"),
        (f"repo@{SHA256}@{SHA256}", "has more than one '@': only one digest may follow the name"),
        ("my_registry.example.com:5000/app", 'registry "my_registry.example.com:5000" must be a host name'),
        ("example.com:port/app", 'registry "example.com:port" must be a host name'),
        ("team//app", 'has an empty path component in "team//app"'),
        ("team/app/", 'has an empty path component in "team/app/"'),
        (
            "team/-app",
            "repository component \"-app\" must be lower-case letters and digits, separated by '.', '_', '__' or '-'",
        ),
        ("team/a___b", 'repository component "a___b" must be'),
        ("r" * (IMAGE_REFERENCE_CHARS + 1), f"has {IMAGE_REFERENCE_CHARS + 1} characters; AWS Batch takes at most 255"),
    ],
)
def test_invalid_references_say_what_is_wrong(image, message):
    assert image_reference_problem(image).startswith(message)
    assert not is_image_reference(image)
    _, _, problems = validate(detail(container={"image": image}), SETTINGS)
    assert [(p.field, p.message) for p in problems] == [("container.image", image_reference_problem(image))]


# References built from the grammar's own words (not from IMAGE_REFERENCE, which they check).
alphanumerics = st.text("abz019", min_size=1, max_size=4)
path_components = st.tuples(
    alphanumerics, st.lists(st.tuples(st.sampled_from([".", "_", "__", "-", "---"]), alphanumerics), max_size=2)
).map(lambda p: p[0] + "".join(s + a for s, a in p[1]))
domain_components = st.tuples(
    st.text("aZ09", min_size=1, max_size=3), st.sampled_from(["", "-", "-x-"]), st.text("aZ09", min_size=1, max_size=2)
).map(lambda d: d[0] + d[1] + d[2] if d[1] else d[0])
registries = st.tuples(
    st.lists(domain_components, min_size=1, max_size=3).map(".".join), st.sampled_from(["", ":5000", ":443"])
).map("".join)
tags = st.tuples(st.sampled_from("aZ9_"), st.text("aZ9_.-", max_size=8)).map("".join)
digests = st.one_of(
    st.text("0123456789abcdef", min_size=64, max_size=64).map("sha256:".__add__),
    st.text("0123456789abcdef", min_size=128, max_size=128).map("sha512:".__add__),
)
references = st.tuples(
    st.one_of(st.just(""), registries.map(lambda r: r + "/")),
    st.lists(path_components, min_size=1, max_size=3).map("/".join),
    st.one_of(st.just(""), tags.map(":".__add__)),
    st.one_of(st.just(""), digests.map("@".__add__)),
).map("".join)


@settings(max_examples=300, deadline=None)
@given(references)
def test_references_by_the_grammar_are_accepted(image):
    assert image_reference_problem(image) is None and is_image_reference(image)


# Near misses: the grammar's pieces and the characters that break it, in any order.
near_misses = st.lists(
    st.one_of(st.sampled_from("abcAB09._-/:@ ;$`é"), st.sampled_from(["sha256:", SHA256, "__", "localhost", "io/"])),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(near_misses, references))
def test_the_checker_and_the_published_pattern_agree(text):
    assert (image_reference_problem(text) is None) == is_image_reference(text)


def test_the_published_pattern_is_the_grammar():
    assert re.fullmatch(IMAGE_REFERENCE, "docker.io/library/busybox:1.36@" + SHA256)
    assert not re.fullmatch(IMAGE_REFERENCE, "docker.io/library/busybox:1.36@sha256:abc")
