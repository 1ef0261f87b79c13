//! Ledger rows.
