"""Meetings: network weeks, meetings, sign-up with a waiting list, contacts and the staff dashboard."""
