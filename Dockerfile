FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps . && useradd --create-home gateway
USER gateway
WORKDIR /home/gateway
EXPOSE 8000
# The gateway, not the server, decides which forwarded headers to believe (TRUSTED_PROXIES).
CMD ["uvicorn", "gateway.main:app", "--no-proxy-headers", "--host", "0.0.0.0", "--port", "8000"]
