"""Reads for reports: usage totals, breakdowns and pages."""
