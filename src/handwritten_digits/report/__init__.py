"""Reports: see a data set (`write_explore`) and a finished run (`write_report`) as PNGs and one page.

Callers of `evaluate` and `data`, never the other way round. Figures are drawn with matplotlib's Agg
canvas (plots.py), pages are self-contained HTML (html.py), and every number shown is also written to
a JSON file beside the page.
"""

from handwritten_digits.report.evaluation import ProgressFn
from handwritten_digits.report.explore import write_explore
from handwritten_digits.report.run import write_report

__all__ = ["ProgressFn", "write_explore", "write_report"]
