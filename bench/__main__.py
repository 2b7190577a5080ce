"""`make bench` / `python -m bench`: the sequence pause benchmark (N=1000), then the OOO corpus."""

from __future__ import annotations

import os
import sys

from bench import ooo_corpus, sequence_pause


def main() -> int:
    status = sequence_pause.main(["--n", "1000"])
    print()
    ooo_corpus.main()
    return status


if __name__ == "__main__":
    code = main()
    # A process that used the Temporal client can abort at exit (temporalio/sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
