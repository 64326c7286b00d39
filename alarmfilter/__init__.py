"""alarmfilter: score every ICU monitor alarm from the signals around it; forward the actionable ones."""

__version__ = "0.1.0"
