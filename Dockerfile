FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# fonts for customs papers and invoices in every script buyers write
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-core fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md babel.cfg ./
COPY marketplace ./marketplace
COPY workers ./workers
COPY templates ./templates
COPY migrations ./migrations
COPY data ./data
RUN pip install --no-cache-dir -e . && pybabel compile -d marketplace/translations
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "marketplace:create_app()"]
