"""Entry points: the `loanledger` command line, the demo and the synthetic book it generates.

The outermost layer: these modules open a `LoanLedger` and talk to people (arguments, exit
codes, progress bars, files). Nothing inside the library imports them back.
"""
