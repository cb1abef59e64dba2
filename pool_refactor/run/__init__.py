"""One run of the tool: configuration, file discovery, the cache, worker processes, and the
pipeline that calls scan -> plan -> report, or -> fix -> write -> wire. The CLI sits on top of
this package; nothing below imports it.
"""
