import pytest

from threer.errors import BadInput
from threer.files import read_user_text


def test_text_with_a_bom(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffcontoso.com\n".encode())
    assert read_user_text(path, "domain list", fix="x") == "contoso.com\n"


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: None, "does not exist; give one"),
        (lambda p: p.mkdir(), "is a folder; give one"),
        (lambda p: p.write_bytes(b"\xff\xfe\xfa"), "is not UTF-8 text; save it as UTF-8, or give one"),
        (lambda p: p.write_bytes(b"x" * 3_000_001), "is over 3 MB; give one"),
    ],
)
def test_each_problem_is_one_sentence_with_the_fix(tmp_path, make, words):
    path = tmp_path / "thing"
    make(path)
    with pytest.raises(BadInput) as exc:
        read_user_text(path, "answers file", fix="give one", max_bytes=3_000_000)
    assert exc.value.message.startswith(f"The answers file {path} ") and words in exc.value.message
