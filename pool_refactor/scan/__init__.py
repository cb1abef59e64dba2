"""Detection: which calls build an HTTP client, and how long each client lives.

Reads the stdlib `ast` only (a tenth of libcst's parse time). Depends on nothing else in the
package: the catalog says what to look for, the scanner classifies each site into a `Finding`
(its verdict, rule code and message); whether and how a site can be rewritten is the planner's
call (`pool_refactor.plan`).
"""
