# The seqflow app image: one image, two commands (docker-compose.yml runs `python -m api` and
# `python -m worker`). Configuration comes only from SEQFLOW_* environment variables.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what `pip install .` needs: pyproject.toml and the packages/modules it lists
# ([tool.setuptools] packages + py-modules; tests/test_compose.py checks this list).
WORKDIR /src
COPY pyproject.toml ./
COPY settings.py worker.py ./
COPY domain/ domain/
COPY workflows/ workflows/
COPY activities/ activities/
COPY api/ api/
COPY store/ store/
COPY devstack/ devstack/
COPY console/ console/
COPY observability/ observability/
COPY tools/ tools/
RUN pip install . && rm -rf /src

# Unprivileged runtime user. Its home is the working directory, so the relative `.data/`
# paths in settings.py (the dev outbox) stay writable.
RUN useradd --create-home --home-dir /app --uid 10001 --user-group seqflow
WORKDIR /app
USER seqflow

EXPOSE 8000
CMD ["python", "-m", "api"]
