"""Read Swift sources with tree-sitter-swift (no Swift toolchain here): syntax errors, string and enum
constants, array literals a function returns, CodingKeys raw values per type."""

from __future__ import annotations

import re
from pathlib import Path


def parser():
    import tree_sitter as ts
    import tree_sitter_swift as tss

    return ts.Parser(ts.Language(tss.language()))


class SwiftFile:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.src = self.path.read_bytes()
        self.root = parser().parse(self.src).root_node

    def text(self, node) -> str:
        return self.src[node.start_byte:node.end_byte].decode()

    def nodes(self, kind: str, under=None):
        stack = [under or self.root]
        while stack:
            node = stack.pop()
            if node.type == kind:
                yield node
            stack.extend(reversed(node.children))

    def syntax_errors(self) -> list[str]:
        return [f"{self.path}:{n.start_point[0] + 1}: {'missing' if n.is_missing else 'error'} near "
                f"{self.text(n)[:60]!r}" for n in self.nodes_where(lambda n: n.type == "ERROR" or n.is_missing)]

    def nodes_where(self, pred):
        stack = [self.root]
        while stack:
            node = stack.pop()
            if pred(node):
                yield node
            stack.extend(node.children)

    def constants(self) -> dict[str, str]:
        """`let name = "literal"` and `let name: T = .member` -> {name: literal or member}."""
        out = {}
        for prop in self.nodes("property_declaration"):
            pattern = next((c for c in prop.children if c.type == "pattern"), None)
            value = prop.children[-1]
            if pattern is None:
                continue
            if value.type == "line_string_literal":
                out[self.text(pattern)] = self.text(value)[1:-1]
            elif value.type == "prefix_expression" and self.text(value).startswith("."):
                out[self.text(pattern)] = self.text(value)[1:]
        return out

    def returned_array(self, function: str) -> list[str]:
        """The elements (as source text) of the array literal the named function's body is."""
        for fn in self.nodes("function_declaration"):
            name = next(c for c in fn.children if c.type == "simple_identifier")
            if self.text(name) == function:
                body = next(c for c in fn.children if c.type == "function_body")
                array = next(self.nodes("array_literal", body))
                return [self.text(c) for c in array.children if c.type not in ("[", "]", ",")]
        raise KeyError(function)

    def coding_keys(self) -> dict[str, dict[str, str]]:
        """{type name: {property: JSON key}} for every struct/class with a nested `enum CodingKeys`."""
        out = {}
        for decl in self.nodes("class_declaration"):
            name = next((c for c in decl.children if c.type == "type_identifier"), None)
            if name is None or self.text(name) != "CodingKeys":
                continue
            owner = decl.parent
            while owner is not None and owner.type != "class_declaration":
                owner = owner.parent
            keys = {}
            for entry in self.nodes("enum_entry", decl):
                case = self.text(next(c for c in entry.children if c.type == "simple_identifier"))
                raw = next((c for c in entry.children if c.type == "line_string_literal"), None)
                keys[case] = self.text(raw)[1:-1] if raw is not None else case
            owner_name = next(c for c in owner.children if c.type == "type_identifier")
            out[self.text(owner_name)] = keys
        return out


def evaluate(expr: str, **names: int) -> int:
    """An Int shape element (`1`, `newTokens`, `past + newTokens`) evaluated with the given names."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[A-Za-z0-9_ +]+", expr):
        raise ValueError(f"unsupported shape expression {expr!r}")
    return int(eval(expr, {"__builtins__": {}}, names))  # noqa: S307 (checked: identifiers, digits and + only)


def optional_properties(swift: SwiftFile) -> set[str]:
    """Names of the stored properties declared with an Optional type (`let x: Int?`)."""
    out = set()
    for prop in swift.nodes("property_declaration"):
        pattern = next((c for c in prop.children if c.type == "pattern"), None)
        annotation = next((c for c in prop.children if c.type == "type_annotation"), None)
        if pattern is not None and annotation is not None and swift.text(annotation).rstrip().endswith("?"):
            out.add(swift.text(pattern))
    return out
