# alarmfilter: one image for the worker, the simulator and every other subcommand.
#   docker build -t alarmfilter:0.1.0 .
#   docker run --rm -e ALARMFILTER_BROKER=kafka://kafka:9092 alarmfilter:0.1.0 worker
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/alarmfilter
COPY pyproject.toml README.md ./
COPY alarmfilter ./alarmfilter
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/alarmfilter --create-home alarmfilter

# state and model snapshots (mount a volume here); /metrics on 9464
ENV ALARMFILTER_DATA_DIR=/var/lib/alarmfilter \
    ALARMFILTER_METRICS_PORT=9464
VOLUME ["/var/lib/alarmfilter"]
EXPOSE 9464
USER alarmfilter
WORKDIR /var/lib/alarmfilter

ENTRYPOINT ["alarmfilter"]
CMD ["worker"]
