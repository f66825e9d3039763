"""host: the script API as a module (`import host; host.alert("...")`).

Inside a script, `import host` gives that script's own functions directly. This module is for
code a script imports from elsewhere (a helper module calling `host.alert`): each function
acts for the script whose callback is running on the current thread.
"""

from typing import Any

from posguard.scripting.api import API_NAMES
from posguard.scripting.errors import ScriptingError
from posguard.scripting.worker import current_script

__all__ = list(API_NAMES)


def _fn(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        script = current_script()
        if script is None:
            raise ScriptingError(f"host.{name}() called outside a script's thread")
        return getattr(script.api, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


for _name in API_NAMES:
    globals()[_name] = _fn(_name)
