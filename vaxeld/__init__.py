"""vaxeld: telephony integration daemon for a merged municipal switchboard."""

__version__ = "0.1.0"
