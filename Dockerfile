# Tenure: a small, non-root image that migrates its database, then serves.
#   docker build -t tenure .
#   docker run -p 8000:8000 -e TENURE_SECRET_KEY=... -e TENURE_PUBLIC_URL=https://tenure.example.com \
#     -e TENURE_DATABASE_URL=postgresql://... tenure
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY schemas ./schemas
COPY policies ./policies
RUN python -m venv /opt/tenure \
 && /opt/tenure/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/tenure --create-home tenure
COPY --from=build /opt/tenure /opt/tenure
ENV PATH=/opt/tenure/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TENURE_HOST=0.0.0.0 \
    TENURE_PORT=8000 \
    TENURE_DATABASE_URL=sqlite:////var/lib/tenure/tenure.db \
    TENURE_SECRET_KEY_FILE=/var/lib/tenure/secret-key
USER tenure
WORKDIR /var/lib/tenure
VOLUME ["/var/lib/tenure"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['TENURE_PORT']}/healthz\", timeout=2)"]
# exec form: tenure is PID 1's only child of sh and receives SIGTERM for a graceful stop
CMD ["sh", "-c", "tenure migrate && exec tenure serve"]
