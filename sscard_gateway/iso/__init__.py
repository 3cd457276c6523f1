"""The wire format, sans-I/O: dialects, messages, framing and composite fields."""

from .dialect import Dialect as Dialect
from .framing import CupsHeader as CupsHeader
from .framing import FrameDecoder as FrameDecoder
from .framing import LengthPrefix as LengthPrefix
from .framing import PosHeader as PosHeader
from .framing import Tpdu as Tpdu
from .loader import load_spec as load_spec
from .message import FieldValue as FieldValue
from .message import Message as Message
from .registry import available_dialects as available_dialects
from .registry import load_dialect as load_dialect
from .registry import specs_dir as specs_dir
from .spec import DialectSpec as DialectSpec
from .spec import FieldSpec as FieldSpec

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
