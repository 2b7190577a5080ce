"""`python -m api`: serve the API on SEQFLOW_API_PORT."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from observability import logs
from settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    logs.configure("api", dev_mode=settings.dev_mode)
    settings.refuse_unsafe_production()
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="info",
        log_config=None,  # uvicorn's own lines go through ours (observability/logs.py)
        access_log=False,  # one line per request is observability/http.py's
    )
