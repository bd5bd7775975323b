"""Text cells for files staff open in a spreadsheet program (CSV, xlsx): shown as typed, never run.

A cell starting with "=", "+", "-" or "@" is a formula to Excel and LibreOffice (`=HYPERLINK(…)`,
`=cmd|' /C calc'!A0`), and a leading tab or carriage return can hide one. OWASP's "CSV Injection"
advice: prefix such a cell with a single quote, which both programs read as "text follows", and keep
the rest as it is. Every text cell of every export goes through `cell`.
"""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """`value`, with a leading "'" when a spreadsheet would read it as a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value
