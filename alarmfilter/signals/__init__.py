"""alarmfilter.signals."""
