"""alarmfilter.datasets."""
