"""Fix plans: whether a per-request site can be rewritten without changing behaviour, and how.

`analyze` runs one file through the scanner and then the planner, so every finding that leaves
this package says whether it is fixable, safely or not, and why not. Depends on `scan` only.
"""
