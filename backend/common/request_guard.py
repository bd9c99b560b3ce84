"""Refuses request text that no handler should ever see, once, before any view runs.

- NUL characters (PostgreSQL text cannot hold them; never meaningful here) — in the URL, the
  body, and the text of a multipart form; a multipart form's file parts are binary (a PDF holds
  NUL bytes) and left to the view that reads them;
- JSON nested deeper than MAX_JSON_DEPTH (Python's parser would hit its recursion limit:
  a real receipt nests five levels);
- numbers longer than MAX_NUMBER_DIGITS digits (the parser would fail on them);
- text that is not valid Unicode: bytes that are not UTF-8, or lone UTF-16 surrogates
  written as `\\ud800` escapes, which decode into strings that cannot be encoded again.

The checks are cheap on ordinary bodies: the slow paths run only when a quick count says
they could matter.
"""
import json
import re

from flask import request

from backend.common.errors import DomainError, InvalidCharacters

MAX_JSON_DEPTH = 64
MAX_NUMBER_DIGITS = 300  # no field is near it; Python refuses to parse integers over 4300 digits
_LONG_DIGITS = re.compile(rb"[0-9]{%d,}" % (MAX_NUMBER_DIGITS + 1))
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[^\[\]{}]+")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JsonTooDeep(DomainError):
    status = 400
    code = "json_too_deep"
    title = "提交的数据嵌套层级过深"


def json_depth(body: bytes) -> int:
    brackets = _BRACKETS.sub(b"", _STRING.sub(b'""', body))
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _has_unencodable_text(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_json_body(body: bytes) -> None:
    if not body:
        return
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        raise JsonTooDeep(f"JSON may nest at most {MAX_JSON_DEPTH} levels.")
    if _LONG_DIGITS.search(body) and _LONG_DIGITS.search(_STRING.sub(b'""', body)):
        raise JsonTooDeep(f"Numbers may have at most {MAX_NUMBER_DIGITS} digits.", code="number_too_long",
                          title="提交的数字过长")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidCharacters("The body is not valid UTF-8.")
    if _SURROGATE_ESCAPE.search(body):
        try:
            parsed = json.loads(body)
        except ValueError:
            return  # not JSON at all: the parser of the route answers that
        if _has_unencodable_text(parsed):
            raise InvalidCharacters("The body contains text that is not valid Unicode (a lone surrogate).")


def guard_request():
    if "\x00" in request.path or "%00" in request.query_string.decode("latin-1") or "\x00" in request.query_string.decode("latin-1"):
        raise InvalidCharacters("The URL contains a NUL character.")
    if _has_unencodable_text([request.path, *request.args.keys(), *request.args.values()]):
        raise InvalidCharacters("The URL contains text that is not valid Unicode.")
    if request.mimetype == "multipart/form-data":
        _check_multipart_text()
        return
    body = request.get_data(cache=True)
    if b"\x00" in body or b"\\u0000" in body or (request.mimetype == "application/x-www-form-urlencoded" and b"%00" in body):
        raise InvalidCharacters("The body contains a NUL character.")
    if request.mimetype == "application/x-www-form-urlencoded":
        if _has_unencodable_text([*request.form.keys(), *request.form.values()]):
            raise InvalidCharacters("The form contains text that is not valid Unicode.")
    elif body[:1] in (b"{", b"[") or request.is_json:
        check_json_body(body)


def _check_multipart_text():
    """The names, values and file names of a multipart form; not the files' bytes."""
    texts = [text for pair in request.form.items(multi=True) for text in pair]
    texts += [text for name, upload in request.files.items(multi=True) for text in (name, upload.filename or "")]
    texts = [text for text in texts if isinstance(text, str)]  # a part may come without a name
    if any("\x00" in text for text in texts):
        raise InvalidCharacters("The form contains a NUL character.")
    if _has_unencodable_text(texts):
        raise InvalidCharacters("The form contains text that is not valid Unicode.")
