"""Read terraform/ as data (python-hcl2) and evaluate the few simple expressions the checks need."""

from __future__ import annotations

import ast
import json
import operator
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
_REFERENCE = re.compile(r"\b(local|var)\.([A-Za-z_][\w.]*)")
_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


@dataclass
class Module:
    """One Terraform module: its blocks by type, and what its caller passed in."""

    path: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        return self.resources[kind][name]

    def value(self, expression: Any) -> Any:
        """A literal, or a simple expression of literals, locals, variables, + - * /, tostring() and join()."""
        if isinstance(expression, dict):
            return {key: self.value(inner) for key, inner in expression.items()}
        if isinstance(expression, list):
            return [self.value(inner) for inner in expression]
        if not isinstance(expression, str):
            return expression
        inner = expression[2:-1] if expression.startswith("${") and expression.endswith("}") else None
        if inner is None:
            return expression
        if inner.startswith("jsonencode(") and inner.endswith(")"):
            return self.value(hcl_object(inner[len("jsonencode(") : -1]))
        if inner.startswith("tostring(") and inner.endswith(")"):
            converted = self.value("${" + inner[len("tostring(") : -1] + "}")
            if isinstance(converted, str) and converted.startswith("${"):
                return expression  # what it converts is not known here: kept as written
            return str(converted).lower() if isinstance(converted, bool) else str(converted)
        if inner.startswith("join(") and inner.endswith(")"):
            separator, listed = _arguments(inner[len("join(") : -1])
            items = self.value("${" + listed + "}")
            return expression if isinstance(items, str) else ast.literal_eval(separator).join(items)
        if inner.startswith("merge(") and inner.endswith(")"):
            merged: dict[str, Any] = {}
            for argument in _arguments(inner[len("merge(") : -1]):
                merged.update(
                    self.value("${" + argument + "}") if not argument.startswith("{") else hcl_object(argument)
                )
            return merged
        if re.fullmatch(r"(local|var)\.[\w.]+", inner):
            return self.value(self._reference(inner))  # what it names may itself be an expression
        if not _REFERENCE.search(inner) and re.search(r"[A-Za-z_]", inner):
            return expression  # a reference to a resource or another module: kept as written
        substituted = _REFERENCE.sub(lambda match: repr(self._reference(match.group(0))), inner)
        return _arithmetic(ast.parse(substituted, mode="eval").body)

    def _reference(self, reference: str) -> Any:
        kind, _, path = reference.partition(".")
        name, *rest = path.split(".")
        if kind == "var":
            found = self.arguments[name] if name in self.arguments else self.variables[name]["default"]
        else:
            found = self.locals[name]
        for part in rest:
            found = found[part]
        return found


def _arguments(text: str) -> list[str]:
    """Top-level, comma-separated arguments of a function call."""
    parts, depth, current, quoted = [], 0, "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "({[":
            depth += 1
        elif not quoted and char in ")}]":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _arithmetic(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_arithmetic(node.left), _arithmetic(node.right))
    raise ValueError(f"not a simple expression: {ast.dump(node)}")


def hcl_object(text: str) -> Any:
    """An HCL object or list literal (as inside jsonencode(...)) as Python data."""
    return hcl2.loads(f"value = {text}\n", serialization_options=OPTIONS)["value"]


def _load_module(path: Path, arguments: dict[str, Any]) -> Module:
    module = Module(path=path, arguments=arguments)
    for tf in sorted(path.glob("*.tf")):
        with tf.open() as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                module.resources.setdefault(kind, {}).update(named)
        for block in parsed.get("data", []):
            for kind, named in block.items():
                module.data.setdefault(kind, {}).update(named)
        for block in parsed.get("module", []):
            module.modules.update(block)
        for block in parsed.get("variable", []):
            module.variables.update(block)
        for block in parsed.get("locals", []):
            module.locals.update(block)
        for block in parsed.get("output", []):
            module.outputs.update(block)
    return module


@cache
def root() -> Module:
    return _load_module(TERRAFORM, {})


def child(call_name: str) -> Module:
    """A module as the root calls it, with the root's arguments evaluated where they are simple."""
    call = root().modules[call_name]
    arguments = {}
    for name, expression in call.items():
        if name == "source":
            continue
        try:
            arguments[name] = root().value(expression)
        except (KeyError, ValueError, SyntaxError):
            arguments[name] = expression  # a reference to another module's output: left as written
    return _load_module((TERRAFORM / call["source"]).resolve(), arguments)


def json_value(text_or_data: Any) -> Any:
    return json.loads(text_or_data) if isinstance(text_or_data, str) else text_or_data
