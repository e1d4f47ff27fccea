"""Imported first by every benchmark: this folder goes to the end of ``sys.path``.

``http.py`` here is named like the standard library's ``http``, and Python puts a
script's own folder first on the path; behind the standard library, ``import
http.client`` (httpx) finds the real one and ``import _run`` still finds ours.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]
