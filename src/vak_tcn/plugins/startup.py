"""Start-up hook: load vak plugins right after ``vak`` is imported.

``vak_tcn.pth`` (installed at the root of site-packages) imports this module
in every Python process of the environment, so it must be cheap and must never
raise.  Importing it only puts a tiny finder at the front of
:data:`sys.meta_path`; the finder ignores every import except ``vak`` and
vak-tcn's own modules.  When ``vak`` has been imported, it calls
:func:`vak_tcn.plugins.manager.load_plugins`, so the stock ``vak`` command sees plugin
models without the user importing anything.

If vak was imported *by* a vak-tcn module that is still being imported (e.g. a
user's first import is ``vak_tcn.models.family``), loading plugins then would need
that half-initialised module; loading waits until the outermost vak-tcn module
has finished importing.

Switch it off with the environment variable ``VAK_TCN_DISABLE=1`` (checked by
the ``.pth`` line itself, before this module is imported).
"""

import sys

_pending = False


class _LoaderProxy:
    """Wrap a module's own loader; run ``after`` once the module has executed."""

    def __init__(self, loader, after):
        self._loader = loader
        self._after = after

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._after(module.__name__)

    def __getattr__(self, name):  # everything else (get_resource_reader, ...) is the loader's
        return getattr(self._loader, name)


class _VakImportWatcher:
    """A meta-path finder that only reacts to ``vak`` and ``vak_tcn.*`` imports."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "vak":
            after = _on_vak_imported
        elif fullname.startswith("vak_tcn."):
            after = _load_if_pending
        else:
            return None
        import importlib.util  # only paid by processes that import vak

        sys.meta_path.remove(self)  # find the real spec without finding ourselves
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _LoaderProxy(spec.loader, after)
        return spec

    def invalidate_caches(self):
        pass


_WATCHER = _VakImportWatcher()


def _vak_tcn_importing(finished: str) -> bool:
    """True while any vak_tcn module other than ``finished`` is still executing its import."""
    for name, module in list(sys.modules.items()):
        if name in ("vak_tcn", finished) or not name.startswith("vak_tcn."):
            continue
        if getattr(getattr(module, "__spec__", None), "_initializing", False):
            return True
    return False


def _on_vak_imported(name):
    global _pending
    if _vak_tcn_importing(name):
        _pending = True  # finish when the outermost vak_tcn import completes
    else:
        _load_plugins_safely()


def _load_if_pending(name):
    if _pending and not _vak_tcn_importing(name):
        _load_plugins_safely()


def _load_plugins_safely():
    """Load plugins; report any failure on stderr and carry on."""
    global _pending
    _pending = False
    try:
        sys.meta_path.remove(_WATCHER)
    except ValueError:
        pass
    try:
        from vak_tcn.plugins.manager import load_plugins

        load_plugins()
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # never break `import vak` because of a plugin (SystemExit included)
        sys.stderr.write(
            f"vak-tcn: could not load vak plugins ({type(e).__name__}: {e}); "
            "vak runs without them. Set VAK_TCN_DISABLE=1 to skip plugin loading.\n"
        )


def install():
    """Arrange for plugins to load when ``vak`` is imported (idempotent)."""
    if "vak" in sys.modules:  # vak already imported: load now
        _load_plugins_safely()
    elif _WATCHER not in sys.meta_path:
        sys.meta_path.insert(0, _WATCHER)


install()
