"""Wire commands: ``decode``, ``encode`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import DecodeError, RejectedByPeer
from ..iso import Message, available_dialects, load_dialect
from ..iso.display import describe_message
from ..iso.jsonio import message_from_dict


def register(sub: Any) -> None:
    """Add the wire subcommands to ``sub``."""
    names = available_dialects()
    p = sub.add_parser("decode", help="decode a framed message and print it with secrets masked")
    p.add_argument("--dialect", required=True, choices=names)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("hex", nargs="?", help="the frame in hexadecimal, or - to read it from stdin")
    src.add_argument("--file", type=Path, help="read the raw frame bytes from a file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=_decode)

    p = sub.add_parser("encode", help="build a frame from JSON and print its hex")
    p.add_argument("--dialect", required=True, choices=names)
    p.add_argument("json", help='{"mti": ..., "header": {...}, "fields": {...}}, or - for stdin')
    p.set_defaults(run=_encode)


def _read_frame(args: argparse.Namespace) -> bytes:
    if args.file is not None:
        return bytes(args.file.read_bytes())
    text = sys.stdin.read() if args.hex == "-" else args.hex
    cleaned = "".join(text.split())
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise DecodeError("input", 0, "hexadecimal text") from None


def print_message(message: Message, *, as_json: bool = False, out: Any = None) -> None:
    """Print ``message`` masked, as a table or as JSON."""
    out = out or sys.stdout
    info = describe_message(message)
    if as_json:
        print(json.dumps(info, ensure_ascii=False, indent=2), file=out)
        return
    print(f"dialect {info['dialect']}  MTI {info['mti']}", file=out)
    if info["header"] is not None:
        parts = ", ".join(f"{k}={v}" for k, v in info["header"].items())
        print(f"header  {parts}", file=out)
    for row in info["fields"]:
        print(f"  {row['field']:>3}  {row['name'][:44]:<44}  {row['value']}", file=out)


def _decode(args: argparse.Namespace) -> int:
    dialect = load_dialect(args.dialect)
    frame = _read_frame(args)
    try:
        message = dialect.decode(frame)
    except RejectedByPeer as exc:
        print(f"REJECTED by the switch with reject code {exc.reject_code}; inner message:")
        assert isinstance(exc.message, Message)
        print_message(exc.message, as_json=args.json)
        return 1
    print_message(message, as_json=args.json)
    return 0


def _encode(args: argparse.Namespace) -> int:
    dialect = load_dialect(args.dialect)
    text = sys.stdin.read() if args.json == "-" else args.json
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"sscard-gateway: error: not JSON: {exc}", file=sys.stderr)
        return 2
    print(dialect.encode(message_from_dict(dialect, data)).hex().upper())
    return 0
