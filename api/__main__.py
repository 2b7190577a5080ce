"""`python -m api`: serve the API on SEQFLOW_API_PORT."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    settings.refuse_unsafe_production()
    uvicorn.run(
        create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info"
    )
