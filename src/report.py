"""Report entry point: summarize the latest initlab sweep from MLflow into Markdown + HTML.

    python src/report.py                      # latest sweep of experiment 'initialization'
    python src/report.py --run <parent id>    # a given sweep
    python src/report.py --help

The logic lives in initlab.report; this file only makes it runnable as a script.
"""

import sys

from initlab.report import main

if __name__ == "__main__":
    from initlab.cli import run_and_exit

    run_and_exit(lambda: sys.exit(main()))
