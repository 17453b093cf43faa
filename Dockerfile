FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# fonts for customs papers and invoices in every script buyers write
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-core fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md babel.cfg gunicorn.conf.py ./
COPY marketplace ./marketplace
COPY workers ./workers
COPY templates ./templates
COPY migrations ./migrations
COPY data ./data
RUN pip install --no-cache-dir -e . && pybabel compile -d marketplace/translations
# the processes run as a user of their own, who may write uploads and nothing of the code
RUN useradd --system --no-create-home sheber && mkdir -p instance/uploads \
    && chown -R sheber instance
USER sheber
EXPOSE 8000
# gunicorn.conf.py (read from /app): 0.0.0.0:8000, WEB_WORKERS processes, metrics of them all
CMD ["gunicorn", "marketplace:create_app()"]
