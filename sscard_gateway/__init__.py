"""sscard_gateway: social security card transactions between regional centers and UnionPay.

The public surface is re-exported here; implementation lives in subpackages
(``iso`` wire format, ``crypto`` payment cryptography, ...).
"""

from .errors import DecodeError as DecodeError
from .errors import EncodeError as EncodeError
from .errors import SpecError as SpecError
from .errors import SscardError as SscardError
from .iso import Dialect as Dialect
from .iso import Message as Message
from .iso import load_dialect as load_dialect

__version__ = "0.1.0"

__all__ = [
    "DecodeError",
    "Dialect",
    "EncodeError",
    "Message",
    "SpecError",
    "SscardError",
    "__version__",
    "load_dialect",
]
