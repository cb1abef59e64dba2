"""Everything `--fix` writes: the rewrite of one file (libcst, through `codemods/`), the shared
module and its template, the lifecycle wiring, `--add-noqa`, the tests that mock the old
construction, and the atomic writer. Depends on `scan`, `plan` and `codemods`, never on `run`.
"""
