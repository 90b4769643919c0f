import os as _os

__version__ = "0.1.0"

# threer uses no pydantic plugins; without this, pydantic's first model scans the entry points of every
# installed distribution for them (tens of milliseconds of CPU in each short check-dns run)
_os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
