"""Parsing: LR tables (lark's LALR(1) table, built on integers by ``lalr``), and the general
(GLR) path for grammars that LALR(1) cannot take (ambiguous ones, reduce/reduce and shift/reduce conflicts).

    grammar text ─► lark_build (lark's loader; lalr's table, or lark's analysis listing the conflicts) ─► tables.ParseTables
        no conflict, no indenter ─► the Numba kernels (grammars.kernels), one stack
        otherwise ─► general.general_parser ─► glr.GeneralParser (a set of stacks, several
                     actions per conflict cell) or indented.IndentedParser (lark's Indenter)

``tables.ParseTables`` is the dense table the kernels run; ``glr`` runs the same tables with
several actions per conflict cell, over a small set of parser stacks."""

from .tables import ParseTables

__all__ = ["ParseTables"]
