"""Out-of-office classifier over the reply corpus: `python -m bench.ooo_corpus`.

Prints messages per kind, OOO precision and recall, return-date accuracy, and every message
read wrongly (expected misses are marked `xfail` in corpora/replies.py).
"""

from __future__ import annotations

import time

from corpora.replies import CORPUS, Case, score
from domain.inbound import ReplyClassification, ReplyKind, classify_reply


def classify(case: Case) -> ReplyClassification:
    return classify_reply(
        subject=case.subject,
        text=case.text,
        headers=case.headers,
        received_at=case.received_at,
        timezone=case.timezone,
    )


def main() -> None:
    started = time.perf_counter()
    scores = score(CORPUS, classify)
    elapsed = time.perf_counter() - started

    print(f"{'kind':<16}{'messages':>9}")
    for kind in ReplyKind:
        print(f"{kind.value:<16}{scores.counts.get(kind, 0):>9}")
    print(f"{'total':<16}{len(CORPUS):>9}")
    print()
    print(f"{'OOO precision':<16}{scores.ooo_precision:>9.3f}")
    print(f"{'OOO recall':<16}{scores.ooo_recall:>9.3f}")
    print(f"{'date accuracy':<16}{scores.date_accuracy:>9.3f}   (of the OOO read as OOO)")
    print(f"{'ms / message':<16}{1000 * elapsed / len(CORPUS):>9.1f}")
    print()
    print(f"misclassified or wrong date: {len(scores.misses)}")
    for case, result in scores.misses:
        known = "xfail" if case.xfail else "NEW"
        print(
            f"  [{known}] {case.id}: expected {case.kind.value} {case.return_date}, "
            f"got {result.kind.value} {result.return_date} — {result.evidence}"
        )


if __name__ == "__main__":
    main()
