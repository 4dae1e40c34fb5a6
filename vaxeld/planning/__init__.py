"""Staffing: how many agents a queue needs, from its arrivals, handle time and patience."""
