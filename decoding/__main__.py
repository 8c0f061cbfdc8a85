"""``python -m decoding``: the command line (same as the ``guided-decoding`` script).

Example:
    $ python -m decoding grammars
"""

from decoding.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
