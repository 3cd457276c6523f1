"""The public surface of sscard_gateway.routing: each name exported once, documented."""

import inspect

import sscard_gateway.routing as routing


def test_every_public_name_is_exported_once_and_documented():
    names = routing.__all__
    assert len(names) == len(set(names)) and names == sorted(names)
    for name in names:
        obj = getattr(routing, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__module__.startswith("sscard_gateway.routing._"), name
            assert inspect.getdoc(obj), f"{name} has no docstring"


def test_no_other_public_names_leak():
    # identifiers only: pytest's assertion rewriting adds "@py_builtins" to the
    # modules of a distribution that registers a pytest plugin (ours does)
    public = {n for n in vars(routing) if n.isidentifier() and not n.startswith("_")}
    assert public == set(routing.__all__)


def test_public_methods_document_args_returns_raises():
    for cls in (routing.RouteTable, routing.Translator, routing.LegCounters):
        for name, member in vars(cls).items():
            func = getattr(member, "__func__", member)
            if name.startswith("_") or not inspect.isfunction(func):
                continue
            doc = inspect.getdoc(func) or ""
            assert "Returns:" in doc or "Args:" in doc, f"{cls.__name__}.{name}"
