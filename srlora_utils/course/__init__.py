"""The course around the lessons: how long a lesson takes to read (``reading``), the student release and its
autograder (``student``), and grading a folder of submissions (``grading``). Nothing here trains or reads results:
these modules read and write notebooks.

May import: errors, lazy
"""

from ..lazy import lazy_exports

_LAZY = {
    **{n: "reading" for n in ("ReadingEstimate", "lesson_reading", "reading_estimate", "reading_table")},
}  # fmt: skip
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
__all__ = list(_LAZY)
