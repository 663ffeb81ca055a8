"""IMAP server fixtures (filled in by the mail work)."""
