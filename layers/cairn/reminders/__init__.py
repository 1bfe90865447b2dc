"""Reminders on one machinery (stepfunctions/reminders.asl.json): appointment reminders the
appointment book starts, and the reminders patients and staff set (medication doses, refills,
bills, recalls, coverage expiry). Each planned reminder waits until its time, is re-checked,
sent through the patient's preferred channel (cairn.messaging) and recorded in the chart as a
Communication; docs/reminders.md describes the whole."""
