"""Provisions, ratios, roll rates and vintages as the ledger answers them (a service of
`Queries`): each loan's state on a date comes from the bitemporal `loan_state` read model (the
same rows and contagion as the portfolio summaries; loans it does not cover are replayed), the
provision rule set in force from the book's policy, and the sums from `reports.risk`.

The allowance is posted per loan (`domain.provisions.allowance_postings`): at every month end
and on the report date the difference to what is held, a write-off drawing it down first, a
recovery credited back. So the `loan_loss_allowance` balance on any date is exactly the sum of
the loans' allowances that date, as known at any moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from loanledger.domain.books import WRITE_OFF_EXPENSE, Posting
from loanledger.domain.loan import Loan
from loanledger.domain.provisions import (
    CN,
    IFRS9,
    Exposure,
    LoanProvision,
    ProvisionRules,
    allowance_postings,
    cn_allowance_fen,
    cn_rates,
    fen,
    fen_decimal,
    loan_provision,
    months_between,
)
from loanledger.domain.rules import RuleSet
from loanledger.projection.loan_state import StateRow, contagious_borrowers
from loanledger.reports import portfolio, risk
from loanledger.reports.portfolio import IN_PORTFOLIO, LoanRow
from loanledger.reports.risk import ProvisionLine, month_ends, previous_month_end

if TYPE_CHECKING:
    from loanledger.application.queries import Queries

RISK_REPORTS = ("provisions", "kpi", "roll_rates", "vintage")

State = dict[str, Any]
Grade = tuple[str, str, str, int, str]
"""What a CN provision needs of one loan on a date: loan id, status, classification (graded with
its borrower), IFRS 9 stage and principal outstanding (text with two decimals) — a tuple, not
a `State` dict: a 100,000-loan book's `provisions` reads two dates of them."""


def grade_of(state: State) -> Grade:
    return (
        state["loan_id"],
        state["status"],
        state["classification"],
        state["ifrs9_stage"],
        state["principal_outstanding"],
    )


class RiskSource(Protocol):
    """Where the loans' states on a date come from: the read model (`StateSource`) or a replay
    of loans (`ReplaySource`, e.g. a what-if branch)."""

    def states(self, day: date, known_at: datetime | None) -> dict[str, State]: ...

    def grades(self, day: date, known_at: datetime | None) -> list[Grade]: ...

    def terms(self, day: date, known_at: datetime | None) -> dict[str, State]: ...

    def provisioning(self, day: date, known_at: datetime | None) -> ProvisionRules: ...

    def money_postings(
        self, loan_id: str, day: date, known_at: datetime | None
    ) -> list[Posting]: ...

    def earliest(self) -> date | None: ...


class StateSource:
    """The ledger's read models: states from `loan_state` (loans it does not cover replayed)."""

    def __init__(self, host: Queries) -> None:
        self.host = host

    def states(self, day: date, known_at: datetime | None) -> dict[str, State]:
        host = self.host
        stored, replayed = host._state_query("summary_at", day, known_at)
        spread = host._contagious(stored)
        # The fields `summary_view` gives, built here in one dict a row (100,000 a month end).
        states: dict[str, State] = {
            row[0]: {
                "loan_id": row[0],
                "status": row[2],
                "classification": row[4] if row[1] in spread else row[3],
                "ifrs9_stage": row[5],
                "bucket": row[6],
                "principal_outstanding": row[8],
                "overdue_principal": row[9],
                "overdue_interest": row[10],
            }
            for row in stored
        }
        for row in host._replayed_rows(replayed, day, known_at):
            states[row.view["loan_id"]] = row.view
        return states

    def grades(self, day: date, known_at: datetime | None) -> list[Grade]:
        """`states` cut down to a `Grade` a loan, from `loan_state` rows of only the columns a
        grade needs (`grades_at`), graded with the borrower as `states` are."""
        host = self.host
        stored, replayed = host._state_query("grades_at", day, known_at)
        several = host._several_loans()
        spread = contagious_borrowers(
            (
                StateRow(
                    row[0], row[1], row[2], row[3], row[4], row[5], "", bool(row[6]), row[7], "", ""
                )
                for row in stored
                if row[1] in several
            ),
            host.rules.contagion_non_performing_share,
        )
        grades = [
            (row[0], row[2], row[4] if row[1] in spread else row[3], row[5], row[7])
            for row in stored
        ]
        grades += [grade_of(row.view) for row in host._replayed_rows(replayed, day, known_at)]
        return grades

    def terms(self, day: date, known_at: datetime | None) -> dict[str, State]:
        rows = self.host._loan_ledger_from_state(day, known_at)
        return {row["loan_id"]: row for row in rows}

    def provisioning(self, day: date, known_at: datetime | None) -> ProvisionRules:
        return self.host.provisioning_on(day, known_at)

    def money_postings(self, loan_id: str, day: date, known_at: datetime | None) -> list[Posting]:
        return self.host._get(loan_id).as_known_at(known_at).postings(day, self.host.rules)

    def earliest(self) -> date | None:
        return self.host.earliest_effective_date()


class ReplaySource:
    """States from loans replayed one by one (a what-if branch's book)."""

    def __init__(
        self,
        rows: Callable[[date, datetime | None], Iterable[LoanRow]],
        loan: Callable[[str], Loan],
        provisioning: Callable[[date, datetime | None], ProvisionRules],
        rules: Callable[[date, datetime | None], RuleSet],
        earliest: Callable[[], date | None],
    ) -> None:
        self._rows = rows
        self._earliest = earliest
        self._loan = loan
        self._provisioning = provisioning
        self._rules = rules

    def states(self, day: date, known_at: datetime | None) -> dict[str, State]:
        return {row.view["loan_id"]: row.view for row in self._rows(day, known_at)}

    def grades(self, day: date, known_at: datetime | None) -> list[Grade]:
        return [grade_of(row.view) for row in self._rows(day, known_at)]

    def terms(self, day: date, known_at: datetime | None) -> dict[str, State]:
        rows = portfolio.loan_ledger(self._rows(day, known_at))
        return {row["loan_id"]: row for row in rows}

    def provisioning(self, day: date, known_at: datetime | None) -> ProvisionRules:
        return self._provisioning(day, known_at)

    def money_postings(self, loan_id: str, day: date, known_at: datetime | None) -> list[Posting]:
        return self._loan(loan_id).as_known_at(known_at).postings(day, self._rules(day, known_at))

    def earliest(self) -> date | None:
        return self._earliest()


class RiskReports:
    """One report's worth of states (each date's read once)."""

    def __init__(self, source: RiskSource, known_at: datetime | None) -> None:
        self.source = source
        self.known_at = known_at
        self._states: dict[date, dict[str, State]] = {}
        self._terms: dict[date, dict[str, State]] = {}
        self._grades: dict[date, list[Grade]] = {}
        self._target_dates: list[date] = []
        """The dates of the last `allowance_targets` (month ends and the report date)."""

    # --- what each loan is on a date -----------------------------------------------------------

    def states(self, day: date) -> dict[str, State]:
        """Every loan known on `day`: its summary fields (graded with its borrower)."""
        cached = self._states.get(day)
        if cached is None:
            cached = self._states[day] = self.source.states(day, self.known_at)
        return cached

    def grades(self, day: date) -> list[Grade]:
        """Every loan known on `day` as a `Grade` (from its states if they were read already,
        else from the source's leaner rows)."""
        cached = self._grades.get(day)
        if cached is None:
            states = self._states.get(day)
            if states is not None:
                cached = [grade_of(state) for state in states.values()]
            else:
                cached = self.source.grades(day, self.known_at)
            self._grades[day] = cached
        return cached

    def terms(self, day: date) -> dict[str, State]:
        """Every loan's `loan_ledger` row on `day` (its rate, amount, disbursement, maturity)."""
        cached = self._terms.get(day)
        if cached is None:
            cached = self._terms[day] = self.source.terms(day, self.known_at)
        return cached

    def provisions(self, day: date) -> list[LoanProvision]:
        """Each portfolio loan's allowance on `day` under the provision rules then in force."""
        rules = self.source.provisioning(day, self.known_at)
        terms = self.terms(day) if rules.regime == IFRS9 else {}
        result = []
        for loan_id, state in self.states(day).items():
            if not risk.in_portfolio(state):
                continue
            rate, months, product = Decimal(0), 1, None
            term = terms.get(loan_id)
            if term is not None:
                rate = Decimal(term["annual_rate"])
                if term["maturity_date"]:
                    months = months_between(day, date.fromisoformat(term["maturity_date"]))
                product = term.get("product")
            exposure = Exposure(
                loan_id=loan_id,
                classification=state["classification"],
                ifrs9_stage=int(state["ifrs9_stage"]),
                principal=Decimal(state["principal_outstanding"]),
                overdue_interest=Decimal(state["overdue_interest"]),
                annual_rate=rate,
                months_remaining=months,
                product=product,
            )
            result.append(loan_provision(exposure, rules))
        return sorted(result, key=lambda provision: provision.loan_id)

    def provision_lines(self, day: date) -> list[ProvisionLine]:
        """`provisions` as the report's lines. Under the CN rules straight from the states in
        whole fen (no `LoanProvision` a loan: the same figures, a tenth of the time)."""
        rules = self.source.provisioning(day, self.known_at)
        if rules.regime != CN:
            return [ProvisionLine.of(provision) for provision in self.provisions(day)]
        rates = cn_rates(rules)
        ratios = {grade: rate.as_integer_ratio() for grade, rate in rates.items()}
        texts = {grade: f"{rate}" for grade, rate in rates.items()}
        version = rules.version
        lines = []
        for loan_id, status, grade, stage, principal_text in self.grades(day):
            if status not in IN_PORTFOLIO:
                continue
            principal = fen(principal_text)
            lines.append(
                ProvisionLine(
                    loan_id, grade, int(stage), version, principal, texts[grade], None, None,
                    cn_allowance_fen(principal, ratios[grade]),
                )
            )  # fmt: skip
        return lines

    def allowances_fen(self, day: date) -> dict[str, int]:
        """Each portfolio loan's allowance on `day` in whole fen (a 100,000-loan book asks this
        at every month end)."""
        rules = self.source.provisioning(day, self.known_at)
        if rules.regime != CN:
            return {line.loan_id: line.allowance for line in self.provision_lines(day)}
        ratios = {grade: rate.as_integer_ratio() for grade, rate in cn_rates(rules).items()}
        return {
            loan_id: cn_allowance_fen(fen(principal), ratios[grade])
            for loan_id, status, grade, _, principal in self.grades(day)
            if status in IN_PORTFOLIO
        }

    def allowances(self, day: date) -> dict[str, Decimal]:
        """Each portfolio loan's allowance on `day`."""
        return {loan_id: fen_decimal(value) for loan_id, value in self.allowances_fen(day).items()}

    # --- the postings ---------------------------------------------------------------------------

    def allowance_targets(self, day: date) -> dict[str, list[tuple[date, Decimal]]]:
        """Each loan's allowance at every month end before `day` and on `day` (0 where it is not
        in the portfolio), for loans that ever have one."""
        start = self.source.earliest()
        if start is None:
            return {}
        dates = [on for on in month_ends(start, day) if on < day] + [day]
        self._target_dates = dates
        by_date = [self.allowances(on) for on in dates]
        loans = {
            loan_id for allowances in by_date for loan_id, value in allowances.items() if value
        }
        return {
            loan_id: [
                (on, allowances.get(loan_id, Decimal(0)))
                for on, allowances in zip(dates, by_date, strict=True)
            ]
            for loan_id in loans
        }

    def loan_allowance_postings(
        self, targets: list[tuple[date, Decimal]], money: list[Posting]
    ) -> list[Posting]:
        """The loan's allowance entries, given its money-walk entries (its write-off and the
        recoveries after it)."""
        write_off, recoveries = written_off_and_recovered(money)
        if not targets and write_off is None:
            return []
        if not targets:
            # Never provided for, yet written off: a recovery credited back to the allowance is
            # released at the next month end or the report date like any other.
            targets = [(on, Decimal(0)) for on in self._target_dates]
        return allowance_postings(targets, write_off=write_off, recoveries=recoveries)

    # --- reports ---------------------------------------------------------------------------------

    def report(self, name: str, day: date) -> list[dict[str, Any]]:
        if name == "provisions":
            before = previous_month_end(day)
            return risk.provisions(self.provision_lines(day), self.allowances_fen(before))
        if name == "kpi":
            before = previous_month_end(day)
            return risk.kpi(day, self._kpi_figures(day), before, self._kpi_figures(before))
        if name == "roll_rates":
            to_on = day if risk.month_end(day) == day else previous_month_end(day)
            from_on = previous_month_end(to_on)
            return risk.roll_rates(from_on, self.states(from_on), to_on, self.states(to_on))
        if name == "vintage":
            return self._vintage(day)
        raise AssertionError(name)

    def _kpi_figures(self, day: date) -> dict[str, Any]:
        states = self.states(day)
        allowance = fen_decimal(sum(self.allowances_fen(day).values()))
        since = previous_month_end(day)
        write_offs = recoveries = Decimal(0)
        for loan_id, state in states.items():
            if state["status"] != "written_off":
                continue
            money = self.source.money_postings(loan_id, day, self.known_at)
            for posting in money:
                if posting.on <= since:
                    continue
                for account, amount in posting.lines:
                    if account != WRITE_OFF_EXPENSE:
                        continue
                    if posting.kind == "write_off" and amount > 0:
                        write_offs += amount
                    elif posting.kind != "write_off" and amount < 0:
                        recoveries -= amount
        return risk.kpi_figures(
            states.values(), allowance, write_offs=write_offs, recoveries=recoveries
        )

    def _vintage(self, day: date) -> list[dict[str, Any]]:
        loans: dict[str, tuple[str, Decimal]] = {}
        for loan_id, row in self.terms(day).items():
            if row["disbursed_on"]:
                loans[loan_id] = (row["disbursed_on"][:7], Decimal(row["amount"]))
        if not loans:
            return []
        start = date.fromisoformat(min(cohort for cohort, _ in loans.values()) + "-01")
        dates = month_ends(start, day)
        return risk.vintage(loans, [(on, self.states(on)) for on in dates])


def written_off_and_recovered(
    money: list[Posting],
) -> tuple[tuple[date, Decimal] | None, list[tuple[date, Decimal]]]:
    """A loan's write-off (date, amount charged to `write_off_expense`) and the recoveries after
    it (each a credit to `write_off_expense`), read from its money-walk entries."""
    write_off: tuple[date, Decimal] | None = None
    recoveries: list[tuple[date, Decimal]] = []
    for posting in money:
        for account, amount in posting.lines:
            if account != WRITE_OFF_EXPENSE:
                continue
            if posting.kind == "write_off" and amount > 0:
                write_off = (posting.on, amount)
            elif posting.kind != "write_off" and amount < 0:
                recoveries.append((posting.on, -amount))
    return write_off, recoveries


def with_allowance(
    risk_reports: RiskReports,
    targets: dict[str, list[tuple[date, Decimal]]],
    loans: Iterator[tuple[str, list[Posting]]],
) -> Iterator[tuple[str, list[Posting]]]:
    """Each loan's money-walk entries followed by its allowance entries."""
    for loan_id, money in loans:
        extra = risk_reports.loan_allowance_postings(targets.get(loan_id, []), money)
        yield loan_id, money + extra
