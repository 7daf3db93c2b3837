"""Reads for reports: usage totals, breakdowns, pages and spend over time; finding customers."""
