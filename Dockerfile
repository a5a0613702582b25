# One image for the three services; docker-compose.yml picks the module to run.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
RUN useradd --create-home --uid 10001 reglab

COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY devtools ./devtools
RUN pip install --no-cache-dir . && mkdir -p /app/var && chown reglab /app/var

USER reglab
ENV REGLAB_ENV=production LOG_FORMAT=json
# Overridden per service in docker-compose.yml.
CMD ["python", "-m", "services.registration"]
