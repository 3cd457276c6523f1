"""The wire format, sans-I/O: dialects, messages, framing and composite fields."""

from .dialect import Dialect as Dialect
from .dialect import available_dialects as available_dialects
from .dialect import load_dialect as load_dialect
from .dialect import specs_dir as specs_dir
from .framing import CupsHeader as CupsHeader
from .framing import FrameDecoder as FrameDecoder
from .framing import LengthPrefix as LengthPrefix
from .framing import PosHeader as PosHeader
from .framing import Tpdu as Tpdu
from .message import FieldValue as FieldValue
from .message import Message as Message
from .spec import DialectSpec as DialectSpec
from .spec import FieldSpec as FieldSpec
from .spec import load_spec as load_spec

__all__ = [
    "CupsHeader",
    "Dialect",
    "DialectSpec",
    "FieldSpec",
    "FieldValue",
    "FrameDecoder",
    "LengthPrefix",
    "Message",
    "PosHeader",
    "Tpdu",
    "available_dialects",
    "load_dialect",
    "load_spec",
    "specs_dir",
]
