"""A script that calls one function many times at once, for the before/after behaviour tests.

Run as `python -c DRIVER module function json-args calls [shared-module]`: a coroutine function is
called on one event loop as concurrent tasks, any other from that many threads; then the generated
shared module, when named, closes its clients (as an application's shutdown would). It prints the
reprs of the results as JSON, so that the test compares the values the calls returned.
"""

DRIVER = """
import asyncio, importlib, inspect, json, sys
from concurrent.futures import ThreadPoolExecutor

module, function_name, raw_args, calls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
function = getattr(importlib.import_module(module), function_name)
args = json.loads(raw_args)
shared = None
if len(sys.argv) > 5:
    try:
        shared = importlib.import_module(sys.argv[5])
    except ImportError:  # the code before the fix: no shared module yet
        shared = None

if inspect.iscoroutinefunction(function):
    async def main():
        results = await asyncio.gather(*(function(*args) for _ in range(calls)))
        if shared is not None:
            await shared.aclose_http_clients()
        return results
    results = asyncio.run(main())
else:
    with ThreadPoolExecutor(max_workers=calls) as pool:
        results = list(pool.map(lambda _: function(*args), range(calls)))
    if shared is not None:
        shared.close_http_clients()
print(json.dumps([repr(result) for result in results]))
"""
