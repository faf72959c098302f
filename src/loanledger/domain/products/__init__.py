"""Loan products and pricing (issue 19): recorded, versioned product definitions
(`catalogue`), the terms a loan pins at approval (`pricing`) the APR disclosure (`apr`)
and holiday calendars (`calendars`)."""
