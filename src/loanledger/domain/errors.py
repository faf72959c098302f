"""The error hierarchy every layer raises.

A `DomainError` is a refusal: the input broke a named rule and nothing was recorded. Retrying the
same input gives the same refusal. A `ConcurrencyError` is not a refusal: another writer changed the
same loan first, and retrying may succeed. Both derive from `LoanLedgerError` so callers can catch
everything the library raises on purpose with one clause.
"""

from __future__ import annotations


class LoanLedgerError(Exception):
    """Base of every error the library raises on purpose."""


class DomainError(LoanLedgerError, ValueError):
    """An input broke a rule; nothing was recorded. Subclasses name the rule."""


class ConcurrencyError(LoanLedgerError):
    """Another writer recorded an event for the same loan first; retrying may succeed."""


class InvalidAmountError(DomainError):
    """An amount is not a finite decimal > 0 with at most the currency's minor-unit places."""


class InvalidRateError(DomainError):
    """An interest rate is not a finite decimal within the allowed range."""


class InvalidTermError(DomainError):
    """A term, repayment day or schedule parameter is outside its allowed range."""


class UnknownCurrencyError(DomainError):
    """A currency code is not in the currency table."""


class CurrencyMismatchError(DomainError):
    """Two amounts in different currencies were combined."""


class UnknownRepaymentMethodError(DomainError):
    """The repayment method is not one of annuity, equal_principal, interest_only, bullet."""


class InvalidDateError(DomainError):
    """A date is malformed, out of range or out of order."""


class InvalidCommandError(DomainError):
    """A journal command is malformed: unknown command, unknown or missing field, wrong type."""


class JournalParseError(InvalidCommandError):
    """A journal line is not valid JSON or not a JSON object."""


class InvalidStoreURLError(DomainError):
    """A store URL has an unknown scheme or is malformed."""


class InvalidNumberError(DomainError):
    """A number is not a finite decimal given as a decimal string, int or Decimal (not a float)."""


class InvalidRoundingError(DomainError):
    """A rounding mode is not one the library accepts (ROUND_HALF_UP or ROUND_HALF_EVEN)."""


class WrongStateError(DomainError):
    """A command came in the wrong state of the loan (e.g. disburse before approval)."""


class LoanNotFoundError(DomainError):
    """The command names a loan that has not applied yet (or applies twice)."""


class SeparationOfDutiesError(DomainError):
    """The same person took two roles that must be held by different people."""


class AuthorityLimitError(DomainError):
    """An approval exceeds the approver's authority limit or the applied amount."""


class OverDisbursementError(DomainError):
    """Disbursements would exceed the approved amount."""


class DuplicateReferenceError(DomainError):
    """A reference was used before with different content (idempotency key conflict)."""


class LimitExceededError(DomainError):
    """An input is larger than a documented limit (line length, batch size, string length)."""


class ClassificationError(DomainError):
    """A manual classification would be better than the floor that days past due set."""


class UnknownReferenceError(DomainError):
    """The command names a collateral item, guarantor, notice or case the loan does not have."""


class UnknownReportError(DomainError):
    """The report name is not one the ledger builds."""


class MigrationError(DomainError):
    """The database's migration history does not match the shipped migrations (a changed or
    unknown applied migration): nothing was applied."""


class InvalidCheckpointError(DomainError):
    """A checkpoint or proof is malformed, its signature does not verify, or it names a tree
    this book never had (larger than the book, or another book's)."""


class InvalidSigningKeyError(DomainError):
    """`LOANLEDGER_SIGNING_KEY` is not an Ed25519 private key (64 hex characters)."""


class CorruptHistoryError(LoanLedgerError):
    """A loan's stored events cannot be read: the store was altered or damaged. Not a refusal
    of the input; `verify()` names the first break and the loan's archive shows it."""


class StoreUnavailableError(LoanLedgerError):
    """The store could not be opened or reached (not a refusal of the input; retry later or fix
    the URL)."""


class StoreDataError(LoanLedgerError):
    """The store refused or could not return data (a database, driver or event-store error that
    is not a lost connection). Not a refusal of the input by a rule: `loan_id` and `version`
    name the stored event concerned when one is known (else None)."""

    def __init__(
        self, message: str, *, loan_id: str | None = None, version: int | None = None
    ) -> None:
        super().__init__(message)
        self.loan_id = loan_id
        self.version = version


class UnknownPersonError(DomainError):
    """A person to forget whom the ledger has never recorded, so there is nothing to erase."""


class UnknownBorrowerError(UnknownPersonError):
    """`forget_borrower` names a borrower the ledger has never recorded (no loan, no data key and
    no earlier forgetting)."""


class UnknownGuarantorError(UnknownPersonError):
    """`forget_guarantor` names a guarantor whose personal data the ledger never stored."""


class PersonalDataKeyError(LoanLedgerError):
    """Personal data cannot be encrypted or decrypted: the master key is missing, malformed or
    not the one the data keys are wrapped under. Not a refusal of the input: fix the
    configuration (see the README's "Personal data" section)."""


class MasterKeyMissingError(PersonalDataKeyError):
    """No master key is configured for a SQLite or PostgreSQL store (env `LOANLEDGER_MASTER_KEY`
    or the `master_key` argument of `LoanLedger.open`)."""


class InvalidMasterKeyError(PersonalDataKeyError):
    """A configured master key is not the base64 text of 32 random bytes."""


class MasterKeyMismatchError(PersonalDataKeyError):
    """A data key is wrapped under a master key that is not configured (the wrong key, or a
    rotation whose old key is no longer given as the previous key), or its wrapping was altered."""


class OverRefundError(DomainError):
    """A refund would pay back more than the overpayment the loan holds."""


class UnknownRuleSetError(DomainError):
    """`set_policy` names a rule-set version the ledger does not know."""


class UnregisteredStaffError(DomainError):
    """The book requires the staff register, and the person holds no grant of the role needed
    on the command's date."""


class ReleaseControlError(DomainError):
    """A collateral release on an overdue loan, or one that would leave the loan above the LTV
    threshold, without a second person's approval."""


class InvalidProductError(DomainError):
    """A product definition is inconsistent (a range upside down, a multiplier below another)."""


class UnknownProductError(DomainError):
    """A loan names a product that is not defined on its date."""


class OutsideProductError(DomainError):
    """A loan's amount, term, rate, method or currency is outside what its product allows."""


class InvalidCalendarError(DomainError):
    """A holiday calendar is inconsistent (a date listed twice, both a holiday and a working day,
    a working day that is no weekend day, a date outside the version's years)."""


class UnknownCalendarError(DomainError):
    """A product names a holiday calendar that is not defined."""


class ProvisionRuleError(DomainError):
    """A provision rule set or rate is unknown, or a rate is outside what the rule set allows."""


class InvalidIndexRateError(DomainError):
    """A published index rate is outside the sane range, over-precise, or not a number."""


class NoIndexRateError(DomainError):
    """A floating-rate loan needs an index value in force on a date, and none was published
    on or before it."""


class FloatingRateError(DomainError):
    """A floating-rate loan's stated rate is not the index in force plus the product's spread."""
