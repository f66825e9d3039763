"""Python 2 idioms on Python 3 values: Text, Bytes and the script's open()."""

from __future__ import annotations

import zipfile

import msgspec
import pytest

from posguard.scripting.py2compat import Bytes, Text, as_text, plain, script_open


def test_reference_idiom_decode_upper_encode_find() -> None:
    t = Text("Пиво светлое / beer lager")
    u = t.decode("utf-8").upper().encode("utf-8")
    assert isinstance(u, bytes)
    assert u.find("BEER") != -1 and u.find("WINE") == -1
    assert u.find("ПИВО") == 0  # non-ASCII str arguments are encoded the same way
    assert u == "ПИВО СВЕТЛОЕ / BEER LAGER" and u == "ПИВО СВЕТЛОЕ / BEER LAGER".encode()
    assert "%s" % u == "ПИВО СВЕТЛОЕ / BEER LAGER" and f"{u}" == str(u)  # noqa: UP031
    assert u.decode("utf-8") == "ПИВО СВЕТЛОЕ / BEER LAGER"


def test_text_is_an_ordinary_str() -> None:
    t = Text("Milk 3.2%")
    assert isinstance(t, str) and t == "Milk 3.2%" and hash(t) == hash("Milk 3.2%")
    assert t.upper() == "MILK 3.2%" and "milk" in t.lower() and t.startswith("Milk")
    assert t.encode("utf-8") == b"Milk 3.2%" and len(t.encode()) == 9
    assert {t: 1}["Milk 3.2%"] == 1 and t.split() == ["Milk", "3.2%"]
    assert f"{t:>10}" == " Milk 3.2%" and t[0] == "M" and t + "!" == "Milk 3.2%!"
    assert type(t.strip()) is Text and type("x" + t) is Text  # methods keep the extras
    assert t.strip().decode() == "Milk 3.2%"
    assert type(plain(t)) is str and msgspec.json.encode(plain(t)) == b'"Milk 3.2%"'


def test_bytes_mix_with_str_like_python_2() -> None:
    b = Bytes(b"VODKA 0.5L")
    assert "VODKA" in b and b.startswith("VOD") and b.endswith(("X", "5L"))
    assert b.count("A") == 1 and b.index("0.5") == 6 and b.rfind("L") == 9
    assert b.replace("VODKA", "WATER") == "WATER 0.5L" and b.split(" ") == ["VODKA", "0.5L"]
    assert b + "!" == "VODKA 0.5L!" and "> " + b == "> VODKA 0.5L" and b[:5] == "VODKA"
    assert b[0] == ord("V")  # indexing stays Python 3's (an int)
    assert b != "vodka" and b.lower() == "vodka 0.5l"
    with pytest.raises(TypeError):
        b.find(5.5)  # type: ignore[arg-type]


def test_as_text_decodes_bytes() -> None:
    assert as_text(b"\xd0\x9c\xd0\xbe\xd0\xbb\xd0\xbe\xd0\xba\xd0\xbe") == "Молоко"
    assert as_text(Bytes(b"x")) == "x" and as_text(12) == "12"


def test_open_w_takes_bytes_and_relative_paths_use_the_workdir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    buf = tmp_path / "src.zip"
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    data = buf.read_bytes()
    op = script_open(tmp_path)
    with op("out.ods", "w") as f:
        f.write(data)
    assert (tmp_path / "out.ods").read_bytes() == data
    with op("mixed.txt", "w") as f:
        f.write("Молоко ")
        f.write(Bytes("Кефир".encode()))
        f.write(bytearray(b"!\n"))
        f.writelines(["a", b"b"])
    assert (tmp_path / "mixed.txt").read_text("utf-8") == "Молоко Кефир!\nab"
    with op("mixed.txt") as f:
        assert f.read().startswith("Молоко")
    # Bytes that are not UTF-8 survive a text read (an XML file in another encoding).
    (tmp_path / "cp1251.xml").write_bytes("<a>Пиво</a>".encode("cp1251"))
    with op("cp1251.xml") as f:
        assert f.read().encode("utf-8", "surrogateescape") == "<a>Пиво</a>".encode("cp1251")
    with op(tmp_path / "abs.bin", "wb") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "abs.bin").read_bytes() == b"\x00\x01"
