"""Dispatch: the day board, the calendar and double-bookings (moves go through /jobs assign/reschedule)."""
